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

// TestMediaRead: a virtual media read's devices are taken once by its ID; a
// read nobody took is dropped by the node's next read once stale, and with
// its node.
func TestMediaRead(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	n := mustNode(t, s, "vmedia-read-node")
	img := "http://user:secret@x/a.iso"
	devs := []drivers.VirtualMedia{{MediaTypes: []string{"CD", "DVD"}, Inserted: true, Image: &img},
		{MediaTypes: []string{"Floppy"}}}
	read := uuid.NewString()
	if err := s.SaveMediaRead(ctx, read, n.UUID, devs); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeMediaRead(ctx, read)
	if err != nil || len(got) != 2 || got[0].Image == nil || *got[0].Image != img || !got[0].Inserted ||
		!slices.Equal(got[0].MediaTypes, devs[0].MediaTypes) || got[1].Image != nil || got[1].Inserted {
		t.Fatalf("taken %+v, %v", got, err)
	}
	if _, err := s.TakeMediaRead(ctx, read); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("taken twice: %v", err)
	}
	if _, err := s.TakeMediaRead(ctx, "not-a-uuid"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bad ID: %v", err)
	}
	if err := s.SaveMediaRead(ctx, uuid.NewString(), uuid.NewString(), devs); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing node: %v", err)
	}

	stale, fresh := uuid.NewString(), uuid.NewString()
	if err := s.SaveMediaRead(ctx, stale, n.UUID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE node_vmedia_reads SET created_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveMediaRead(ctx, fresh, n.UUID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeMediaRead(ctx, stale); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stale read kept: %v", err)
	}
	if err := s.DeleteNode(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM node_vmedia_reads`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d reads left after the node's deletion, %v", left, err)
	}
}
