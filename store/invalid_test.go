package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestUnstorableValuesAreInvalidArgument: values PostgreSQL cannot store
// (NUL in text or jsonb, invalid UTF-8, numbers beyond numeric, index rows
// beyond a btree page) are the caller's mistake: ErrInvalidArgument, never
// a raw database error.
func TestUnstorableValuesAreInvalidArgument(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	n := mustNode(t, s, "n1")
	ch, err := s.CreateChassis(t.Context(), store.Chassis{UUID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePort(t.Context(), store.Port{UUID: uuid.NewString(), Address: "52:54:00:00:00:01", NodeUUID: n.UUID})
	if err != nil {
		t.Fatal(err)
	}
	// An index row of ~3 KB that does not compress: beyond a btree page's
	// third (2704 bytes).
	var sb strings.Builder
	for sb.Len() < 3000 {
		sb.WriteString(uuid.NewString())
	}
	long := sb.String()
	withNode := func(edit func(*store.Node)) store.Node {
		cp := n
		edit(&cp)
		return cp
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"NUL in a text column", func() error {
			_, err := s.CreateNode(t.Context(), store.Node{Driver: "fake", Description: ptr("a\x00b")})
			return err
		}},
		{"invalid UTF-8 in a text column", func() error {
			_, err := s.CreateNode(t.Context(), store.Node{Driver: "fake", Owner: ptr("a\xffb")})
			return err
		}},
		{"NUL escape in jsonb", func() error {
			_, err := s.CreateNode(t.Context(), store.Node{Driver: "fake", Extra: json.RawMessage(`{"x":"\u0000"}`)})
			return err
		}},
		{"number beyond numeric", func() error {
			_, err := s.CreateNode(t.Context(), store.Node{Driver: "fake", Properties: json.RawMessage(`{"x":1e1000000}`)})
			return err
		}},
		{"owner beyond an index row", func() error {
			_, err := s.CreateNode(t.Context(), store.Node{Driver: "fake", Owner: &long})
			return err
		}},
		{"update: shard beyond an index row", func() error {
			_, err := s.UpdateNode(t.Context(), withNode(func(x *store.Node) { x.Shard = &long }))
			return err
		}},
		{"update: NUL in the maintenance reason", func() error {
			_, err := s.UpdateNode(t.Context(), withNode(func(x *store.Node) { x.MaintenanceReason = ptr("\x00") }))
			return err
		}},
		{"list nodes by a driver with NUL", func() error {
			_, err := s.ListNodes(t.Context(), store.ListNodes{Driver: "\x00"})
			return err
		}},
		{"list nodes by an owner that is not UTF-8", func() error {
			_, err := s.ListNodes(t.Context(), store.ListNodes{Owner: "\xff"})
			return err
		}},
		{"node named with NUL", func() error {
			_, err := s.Node(t.Context(), "a\x00")
			return err
		}},
		{"port with NUL in extra", func() error {
			_, err := s.CreatePort(t.Context(), store.Port{Address: "52:54:00:00:00:02", NodeUUID: n.UUID,
				Extra: json.RawMessage(`{"\u0000":1}`)})
			return err
		}},
		{"port update with NUL in physical_network", func() error {
			cp := p
			cp.PhysicalNetwork = ptr("\x00")
			_, err := s.UpdatePort(t.Context(), cp)
			return err
		}},
		{"list ports by an address with NUL", func() error {
			_, err := s.ListPorts(t.Context(), store.ListPorts{Address: "\x00"})
			return err
		}},
		{"chassis with NUL in the description", func() error {
			_, err := s.CreateChassis(t.Context(), store.Chassis{Description: ptr("\x00")})
			return err
		}},
		{"chassis update with NUL in extra", func() error {
			cp := ch
			cp.Extra = json.RawMessage(`{"a":"\u0000"}`)
			_, err := s.UpdateChassis(t.Context(), cp)
			return err
		}},
		{"event with NUL", func() error {
			return s.AddEvent(t.Context(), store.Event{NodeUUID: n.UUID, EventType: "maintenance", Event: "a\x00"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrInvalidArgument) {
				t.Fatalf("error = %v, want ErrInvalidArgument", err)
			}
		})
	}
}
