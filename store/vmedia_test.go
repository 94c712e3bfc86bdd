package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestAttachedMedia: what is attached is replaced as a whole, read back in
// device type order, and gone with its node; an operation record keeps an
// attach's arguments.
func TestAttachedMedia(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	n := mustNode(t, s, "vmedia-node")
	if got, err := s.AttachedMedia(ctx, n.UUID); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("none yet: %#v, %v", got, err)
	}
	cd := drivers.AttachedMedia{Device: drivers.VMediaCDROM, ImageURL: "http://x/a.iso", DownloadSource: "http"}
	disk := drivers.AttachedMedia{Device: drivers.VMediaDisk, ImageURL: "http://x/b.img", DownloadSource: "local"}
	if err := s.SetAttachedMedia(ctx, n.UUID, []drivers.AttachedMedia{disk, cd}); err != nil {
		t.Fatal(err)
	}
	if got := attached(t, s, n.UUID); !slices.Equal(got, []drivers.AttachedMedia{cd, disk}) {
		t.Errorf("read back %+v", got)
	}
	cd.ImageURL = "http://x/c.iso"
	if err := s.SetAttachedMedia(ctx, n.UUID, []drivers.AttachedMedia{cd}); err != nil {
		t.Fatal(err)
	}
	if got := attached(t, s, n.UUID); !slices.Equal(got, []drivers.AttachedMedia{cd}) {
		t.Errorf("after replacing: %+v", got)
	}
	if err := s.SetAttachedMedia(ctx, n.UUID, nil); err != nil {
		t.Fatal(err)
	}
	if got := attached(t, s, n.UUID); len(got) != 0 {
		t.Errorf("after detaching all: %+v", got)
	}
	missing := uuid.NewString()
	if _, err := s.AttachedMedia(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("read, missing node: %v", err)
	}
	if err := s.SetAttachedMedia(ctx, missing, []drivers.AttachedMedia{cd}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record, missing node: %v", err)
	}

	args := json.RawMessage(`{"device_type": "cdrom", "image_url": "http://x/a.iso"}`)
	op, err := s.CreateOperation(ctx, store.Operation{NodeUUID: n.UUID, Verb: "vmedia-attach", Args: args})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Operation(ctx, op.ID)
	var a struct {
		DeviceType string `json:"device_type"`
		ImageURL   string `json:"image_url"`
	}
	if err != nil || json.Unmarshal(got.Args, &a) != nil || a.DeviceType != "cdrom" || a.ImageURL != "http://x/a.iso" ||
		len(got.ConfigDrive) != 0 {
		t.Errorf("operation %+v (args %s), %v", got, got.Args, err)
	}
	if err := s.SetAttachedMedia(ctx, n.UUID, []drivers.AttachedMedia{cd}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNode(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM node_virtual_media`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows left after the node's deletion, %v", left, err)
	}
}

// attached is what s records as attached to node uuid.
func attached(t *testing.T, s *store.Store, uuid string) []drivers.AttachedMedia {
	t.Helper()
	got, err := s.AttachedMedia(context.Background(), uuid)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
