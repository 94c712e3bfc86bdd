package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func ptr[T any](v T) *T { return &v }

// mustNode creates a node with driver fake and the given name ("" = none).
func mustNode(t testing.TB, s *store.Store, name string, edit ...func(*store.Node)) store.Node {
	t.Helper()
	n := store.Node{Driver: "fake"}
	if name != "" {
		n.Name = ptr(name)
	}
	for _, e := range edit {
		e(&n)
	}
	out, err := s.CreateNode(context.Background(), n)
	if err != nil {
		t.Fatalf("CreateNode(%q): %v", name, err)
	}
	return out
}

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	s := storetest.NewUnmigrated(t)
	ctx := t.Context()
	files, _ := filepath.Glob("migrations/*.sql")
	if pending, err := s.PendingMigrations(ctx); err != nil || len(pending) != len(files) {
		t.Fatalf("before Migrate: pending %v (%v), want all %d", pending, err, len(files))
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Migrate: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var applied int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(files) || applied == 0 {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", applied, len(files))
	}
	if pending, err := s.PendingMigrations(ctx); err != nil || len(pending) != 0 {
		t.Errorf("after Migrate: pending %v (%v)", pending, err)
	}
	// A database one migration behind the binary.
	last := filepath.Base(files[len(files)-1])
	if _, err := s.Pool().Exec(ctx, `DELETE FROM schema_migrations WHERE version = $1`, last); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.PendingMigrations(ctx); err != nil || !slices.Equal(pending, []string{last}) {
		t.Errorf("one behind: pending %v (%v), want [%s]", pending, err, last)
	}
}

func TestCreateNodeDefaults(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	n := mustNode(t, s, "")
	if _, err := uuid.Parse(n.UUID); err != nil || n.UUID == "" {
		t.Errorf("UUID = %q, want a generated UUID", n.UUID)
	}
	if n.ID == 0 || n.Version != 1 || n.CreatedAt.IsZero() || n.UpdatedAt != nil {
		t.Errorf("ID %d Version %d CreatedAt %v UpdatedAt %v, want id, 1, set, nil", n.ID, n.Version, n.CreatedAt, n.UpdatedAt)
	}
	if n.ProvisionState != node.Enroll || n.TargetProvisionState != "" || n.PowerState != "" {
		t.Errorf("states = %q/%q/%q, want enroll and empty", n.ProvisionState, n.TargetProvisionState, n.PowerState)
	}
	for name, raw := range map[string]json.RawMessage{
		"driver_info": n.DriverInfo, "driver_internal_info": n.DriverInternalInfo, "properties": n.Properties,
		"instance_info": n.InstanceInfo, "extra": n.Extra, "network_data": n.NetworkData, "clean_step": n.CleanStep,
		"deploy_step": n.DeployStep, "raid_config": n.RAIDConfig, "target_raid_config": n.TargetRAIDConfig,
	} {
		if string(raw) != "{}" {
			t.Errorf("%s = %s, want {}", name, raw)
		}
	}
	if n.Traits == nil || len(n.Traits) != 0 {
		t.Errorf("Traits = %#v, want empty non-nil", n.Traits)
	}
}

func TestNodeRoundTrip(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	ch, err := s.CreateChassis(ctx, store.Chassis{Description: ptr("rack 1")})
	if err != nil {
		t.Fatal(err)
	}
	want := store.Node{
		UUID: "6D3C1F6C-6D4B-4C1A-9E59-3C1F0F2B7A11", Name: ptr("n1"), Driver: "ipmi",
		DriverInfo: json.RawMessage(`{"ipmi_address": "10.0.0.9"}`), Properties: json.RawMessage(`{"cpus": 8}`),
		Extra: json.RawMessage(`{"a": [1, 2]}`), InstanceUUID: ptr("inst-1"), ChassisUUID: &ch.UUID,
		ResourceClass: ptr("baremetal"), Description: ptr("d"), Owner: ptr("o"), Lessee: ptr("l"),
		ConductorGroup: "cg", Traits: []string{"CUSTOM_A", "CUSTOM_B"}, AutomatedClean: ptr(true),
		Protected: true, ProtectedReason: ptr("p"), Retired: true, RetiredReason: ptr("r"), Shard: ptr("s1"),
		BootMode: ptr("uefi"), SecureBoot: ptr(false), Fault: ptr("power failure"), Maintenance: true,
		MaintenanceReason: ptr("m"), ConsoleEnabled: true, CleanStep: json.RawMessage(`{"step": "erase"}`),
		Interfaces: store.Interfaces{Boot: "pxe", Deploy: "direct", Power: "ipmitool", Management: "ipmitool",
			Bios: "b", Console: "c", Firmware: "f", Inspect: "i", Network: "noop", RAID: "r", Rescue: "re",
			Storage: "st", Vendor: "v"},
		ProvisionState: node.Manageable, TargetProvisionState: node.Available, PowerState: node.PowerOff,
		TargetPowerState: node.PowerOn, LastError: ptr("boom"),
	}
	got, err := s.CreateNode(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if got.UUID != strings.ToLower(want.UUID) {
		t.Errorf("UUID = %s, want lower-case %s", got.UUID, want.UUID)
	}
	read, err := s.Node(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []store.Node{got, read} {
		if *n.ChassisUUID != ch.UUID || *n.InstanceUUID != "inst-1" || n.Interfaces != want.Interfaces ||
			!slices.Equal(n.Traits, want.Traits) || n.ProvisionState != node.Manageable ||
			n.TargetProvisionState != node.Available || n.PowerState != node.PowerOff ||
			n.TargetPowerState != node.PowerOn || *n.LastError != "boom" || *n.Fault != "power failure" ||
			!n.Maintenance || !n.Protected || !n.Retired || !*n.AutomatedClean || *n.SecureBoot ||
			n.ConductorGroup != "cg" || *n.Shard != "s1" {
			t.Errorf("stored node differs: %+v", n)
		}
		var info map[string]string
		if err := json.Unmarshal(n.DriverInfo, &info); err != nil || info["ipmi_address"] != "10.0.0.9" {
			t.Errorf("DriverInfo = %s", n.DriverInfo)
		}
	}
}

// TestCreateKeepsGivenTimes: a row created with timestamps keeps them (an
// import, or a test's fixed state); the zero CreatedAt means now.
func TestCreateKeepsGivenTimes(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	created := time.Date(2026, 11, 25, 0, 23, 6, 984815000, time.UTC)
	updated := created.Add(time.Second)
	n, err := s.CreateNode(ctx, store.Node{Driver: "fake", CreatedAt: created, UpdatedAt: &updated,
		ProvisionUpdatedAt: &updated, InspectionStartedAt: &created})
	if err != nil {
		t.Fatal(err)
	}
	if !n.CreatedAt.Equal(created) || !n.UpdatedAt.Equal(updated) || !n.ProvisionUpdatedAt.Equal(updated) ||
		!n.InspectionStartedAt.Equal(created) || n.InspectionFinishedAt != nil {
		t.Errorf("node times = %v %v %v %v %v", n.CreatedAt, n.UpdatedAt, n.ProvisionUpdatedAt,
			n.InspectionStartedAt, n.InspectionFinishedAt)
	}
	p, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:01", NodeUUID: n.UUID, CreatedAt: created})
	if err != nil || !p.CreatedAt.Equal(created) || p.UpdatedAt != nil {
		t.Errorf("port = %+v, %v", p, err)
	}
	c, err := s.CreateChassis(ctx, store.Chassis{CreatedAt: created, UpdatedAt: &updated})
	if err != nil || !c.CreatedAt.Equal(created) || !c.UpdatedAt.Equal(updated) {
		t.Errorf("chassis = %+v, %v", c, err)
	}
	if now, err := s.CreateChassis(ctx, store.Chassis{}); err != nil || time.Since(now.CreatedAt) > time.Minute {
		t.Errorf("chassis without a time = %+v, %v; want created now", now, err)
	}
}

// TestReset: storetest.Reset empties a schema that every kind of row
// references, and the store works on after it.
func TestReset(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	c, err := s.CreateChassis(ctx, store.Chassis{})
	if err != nil {
		t.Fatal(err)
	}
	n := mustNode(t, s, "n", func(n *store.Node) { n.ChassisUUID = &c.UUID })
	if _, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:01", NodeUUID: n.UUID}); err != nil {
		t.Fatal(err)
	}
	if err := s.OpenAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	storetest.Reset(t, s)
	nodes, err := s.ListNodes(ctx, store.ListNodes{})
	ports, _ := s.ListPorts(ctx, store.ListPorts{})
	chassis, _ := s.ListChassis(ctx, 0, 0, "", false)
	if err != nil || len(nodes)+len(ports)+len(chassis) != 0 {
		t.Fatalf("after Reset: %d nodes, %d ports, %d chassis, %v", len(nodes), len(ports), len(chassis), err)
	}
	mustNode(t, s, "n")
}

func TestCreateNodeErrors(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	first := mustNode(t, s, "taken", func(n *store.Node) { n.InstanceUUID = ptr("i-1") })
	tests := []struct {
		name string
		node store.Node
		want error
	}{
		{"duplicate uuid", store.Node{UUID: first.UUID, Driver: "fake"}, store.ErrExists},
		{"duplicate uuid other case", store.Node{UUID: strings.ToUpper(first.UUID), Driver: "fake"}, store.ErrExists},
		{"duplicate name", store.Node{Name: ptr("taken"), Driver: "fake"}, store.ErrExists},
		{"duplicate instance uuid", store.Node{InstanceUUID: ptr("i-1"), Driver: "fake"}, store.ErrExists},
		{"unknown chassis", store.Node{ChassisUUID: ptr(uuid.NewString()), Driver: "fake"}, store.ErrNotFound},
		{"malformed chassis uuid", store.Node{ChassisUUID: ptr("nope"), Driver: "fake"}, store.ErrNotFound},
		{"malformed uuid", store.Node{UUID: "nope", Driver: "fake"}, store.ErrInvalidArgument},
		{"malformed json", store.Node{Driver: "fake", Extra: json.RawMessage(`{`)}, store.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.CreateNode(t.Context(), tt.node)
			if !errors.Is(err, tt.want) {
				t.Fatalf("CreateNode error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNodeLookup(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	n := mustNode(t, s, "web-1")
	tests := []struct {
		name, ident string
		want        error
	}{
		{"uuid", n.UUID, nil},
		{"upper-case uuid", strings.ToUpper(n.UUID), nil},
		{"name", "web-1", nil},
		{"unknown name", "web-2", store.ErrNotFound},
		{"unknown uuid", uuid.NewString(), store.ErrNotFound},
		{"empty", "", store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Node(t.Context(), tt.ident)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Node(%q) error = %v, want %v", tt.ident, err, tt.want)
			}
			if tt.want == nil && got.ID != n.ID {
				t.Fatalf("Node(%q) = node %d, want %d", tt.ident, got.ID, n.ID)
			}
		})
	}
}

func TestUpdateNode(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	mustNode(t, s, "other")
	n := mustNode(t, s, "n", func(n *store.Node) { n.ProvisionState = node.Available })

	edit := n
	edit.Description = ptr("updated")
	edit.Extra = json.RawMessage(`{"k": "v"}`)
	edit.Traits = []string{"CUSTOM_X"}
	edit.ProvisionState = node.Active // not written by UpdateNode
	edit.PowerState = node.PowerOn    // not written by UpdateNode
	got, err := s.UpdateNode(ctx, edit)
	if err != nil {
		t.Fatalf("UpdateNode: %v", err)
	}
	if got.Version != 2 || got.UpdatedAt == nil || *got.Description != "updated" ||
		!slices.Equal(got.Traits, []string{"CUSTOM_X"}) {
		t.Errorf("after update: version %d updated_at %v description %v traits %v",
			got.Version, got.UpdatedAt, got.Description, got.Traits)
	}
	if got.ProvisionState != node.Available || got.PowerState != "" {
		t.Errorf("UpdateNode wrote states: %q %q", got.ProvisionState, got.PowerState)
	}

	// The same write retried after it committed is a success and no new write.
	replay, err := s.UpdateNode(ctx, edit)
	if err != nil || replay.Version != 2 {
		t.Fatalf("replayed UpdateNode = version %d, %v; want version 2, nil", replay.Version, err)
	}

	stale := edit
	stale.Description = ptr("someone else's")
	tests := []struct {
		name string
		edit func(*store.Node)
		want error
	}{
		{"stale version", func(n *store.Node) { n.Description = ptr("other") }, store.ErrConflict},
		{"gone", func(n *store.Node) { n.UUID = uuid.NewString() }, store.ErrNotFound},
		{"malformed uuid", func(n *store.Node) { n.UUID = "x" }, store.ErrNotFound},
		{"duplicate name", func(n *store.Node) { n.Version = 2; n.Name = ptr("other") }, store.ErrExists},
		{"unknown chassis", func(n *store.Node) { n.Version = 2; n.ChassisUUID = ptr(uuid.NewString()) }, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := edit // Version 1: stale unless the case says otherwise
			tt.edit(&u)
			_, err := s.UpdateNode(t.Context(), u)
			if !errors.Is(err, tt.want) {
				t.Fatalf("UpdateNode error = %v, want %v", err, tt.want)
			}
		})
	}
	if cur, _ := s.Node(ctx, n.UUID); cur.Version != 2 {
		t.Errorf("version = %d after failed updates, want 2", cur.Version)
	}
}

func TestDeleteNodeCascades(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "doomed")
	p, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:01", NodeUUID: n.UUID})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, store.Event{NodeUUID: n.UUID, EventType: "maintenance", Event: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNode(ctx, n.UUID); err != nil {
		t.Fatalf("DeleteNode: %v", err)
	}
	if _, err := s.Node(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Node after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Port(ctx, p.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Port after node delete: %v, want ErrNotFound", err)
	}
	if _, err := s.NodeEvents(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("NodeEvents after delete: %v, want ErrNotFound", err)
	}
	var events int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM node_events`).Scan(&events); err != nil || events != 0 {
		t.Errorf("node_events rows = %d (%v), want 0", events, err)
	}
	if err := s.DeleteNode(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteNode: %v, want ErrNotFound", err)
	}
}

func TestInTxRollsBack(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	errBoom := errors.New("boom")
	err := s.InTx(ctx, func(q store.Queries) error {
		if _, err := q.CreateNode(ctx, store.Node{Name: ptr("tx"), Driver: "fake"}); err != nil {
			return err
		}
		if _, err := q.Node(ctx, "tx"); err != nil { // visible inside
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want errBoom", err)
	}
	if _, err := s.Node(ctx, "tx"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("node after rollback: %v, want ErrNotFound", err)
	}
}

func TestChassis(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	c, err := s.CreateChassis(ctx, store.Chassis{Description: ptr("rack")})
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Extra) != "{}" || c.UUID == "" {
		t.Errorf("CreateChassis = %+v", c)
	}
	if _, err := s.CreateChassis(ctx, store.Chassis{UUID: c.UUID}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate chassis: %v, want ErrExists", err)
	}
	c.Extra = json.RawMessage(`{"row": 3}`)
	c.Description = nil
	up, err := s.UpdateChassis(ctx, c)
	if err != nil || up.Description != nil || up.UpdatedAt == nil {
		t.Fatalf("UpdateChassis = %+v, %v", up, err)
	}
	if _, err := s.UpdateChassis(ctx, store.Chassis{UUID: uuid.NewString()}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateChassis unknown: %v, want ErrNotFound", err)
	}
	n := mustNode(t, s, "in-rack", func(n *store.Node) { n.ChassisUUID = &c.UUID })
	if err := s.DeleteChassis(ctx, c.UUID); !errors.Is(err, store.ErrInUse) {
		t.Errorf("DeleteChassis in use: %v, want ErrInUse", err)
	}
	nodes, err := s.ListNodes(ctx, store.ListNodes{ChassisUUID: c.UUID})
	if err != nil || len(nodes) != 1 || nodes[0].ID != n.ID {
		t.Errorf("ListNodes by chassis = %d nodes, %v", len(nodes), err)
	}
	if err := s.DeleteNode(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*string{ptr("b"), ptr("a"), nil, ptr("c")} {
		if _, err := s.CreateChassis(ctx, store.Chassis{Description: d}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListChassis(ctx, 0, 0, "", false)
	if err != nil || len(all) != 5 {
		t.Fatalf("ListChassis = %d, %v; want 5", len(all), err)
	}
	page, err := s.ListChassis(ctx, 2, all[1].ID, "id", false)
	if err != nil || len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
		t.Errorf("ListChassis page after %d = %+v, %v", all[1].ID, page, err)
	}
	// Descending puts NULLs first (newest first among them), then z..a.
	var desc []string
	for marker := int64(0); ; {
		pg, err := s.ListChassis(ctx, 2, marker, "description", true)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg) == 0 {
			break
		}
		for _, c := range pg {
			d := fmt.Sprintf("null#%d", c.ID)
			if c.Description != nil {
				d = *c.Description
			}
			desc = append(desc, d)
		}
		marker = pg[len(pg)-1].ID
	}
	want := []string{fmt.Sprintf("null#%d", all[3].ID), fmt.Sprintf("null#%d", all[0].ID), "c", "b", "a"}
	if !slices.Equal(desc, want) {
		t.Errorf("ListChassis by description desc, paged = %v, want %v", desc, want)
	}
	if _, err := s.ListChassis(ctx, 0, 0, "extra", false); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("ListChassis bad sort key: %v, want ErrInvalidArgument", err)
	}
	if err := s.DeleteChassis(ctx, c.UUID); err != nil {
		t.Errorf("DeleteChassis: %v", err)
	}
	if _, err := s.Chassis(ctx, c.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Chassis after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteChassis(ctx, c.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteChassis twice: %v, want ErrNotFound", err)
	}
}

func TestPorts(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n1, n2 := mustNode(t, s, "n1"), mustNode(t, s, "n2")
	p, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:AA:BB:01", NodeUUID: n1.UUID, PXEEnabled: true,
		LocalLinkConnection: json.RawMessage(`{"switch_id": "s1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Address != "52:54:00:aa:bb:01" || p.NodeUUID != n1.UUID || !p.PXEEnabled || string(p.Extra) != "{}" {
		t.Errorf("CreatePort = %+v", p)
	}
	for i := 2; i <= 6; i++ {
		node := n1
		if i%2 == 0 {
			node = n2
		}
		if _, err := s.CreatePort(ctx, store.Port{Address: fmt.Sprintf("52:54:00:aa:bb:%02d", i), NodeUUID: node.UUID}); err != nil {
			t.Fatal(err)
		}
	}
	errTests := []struct {
		name string
		port store.Port
		want error
	}{
		{"duplicate address any case", store.Port{Address: "52:54:00:aa:BB:01", NodeUUID: n1.UUID}, store.ErrExists},
		{"duplicate uuid", store.Port{UUID: p.UUID, Address: "52:54:00:00:00:99", NodeUUID: n1.UUID}, store.ErrExists},
		{"unknown node", store.Port{Address: "52:54:00:00:00:98", NodeUUID: uuid.NewString()}, store.ErrNotFound},
		{"malformed node uuid", store.Port{Address: "52:54:00:00:00:97", NodeUUID: "n1"}, store.ErrNotFound},
		{"empty address", store.Port{NodeUUID: n1.UUID}, store.ErrInvalidArgument},
	}
	for _, tt := range errTests {
		t.Run("create "+tt.name, func(t *testing.T) {
			if _, err := s.CreatePort(t.Context(), tt.port); !errors.Is(err, tt.want) {
				t.Fatalf("CreatePort error = %v, want %v", err, tt.want)
			}
		})
	}

	if got, err := s.PortByAddress(ctx, "52:54:00:AA:BB:01"); err != nil || got.ID != p.ID {
		t.Errorf("PortByAddress = %+v, %v", got, err)
	}
	if _, err := s.PortByAddress(ctx, "00:00:00:00:00:00"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PortByAddress unknown: %v, want ErrNotFound", err)
	}
	if got, err := s.Port(ctx, p.UUID); err != nil || got.Address != p.Address {
		t.Errorf("Port = %+v, %v", got, err)
	}

	byNode, err := s.ListPorts(ctx, store.ListPorts{NodeUUID: n1.UUID})
	if err != nil || len(byNode) != 3 {
		t.Errorf("ListPorts(node n1) = %d ports, %v; want 3", len(byNode), err)
	}
	byAddr, err := s.ListPorts(ctx, store.ListPorts{Address: "52:54:00:AA:BB:03"})
	if err != nil || len(byAddr) != 1 {
		t.Errorf("ListPorts(address) = %d ports, %v; want 1", len(byAddr), err)
	}
	var walked []string
	for marker := int64(0); ; {
		pg, err := s.ListPorts(ctx, store.ListPorts{Limit: 4, MarkerID: marker, SortKey: "address", SortDesc: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg) == 0 {
			break
		}
		for _, p := range pg {
			walked = append(walked, p.Address)
		}
		marker = pg[len(pg)-1].ID
	}
	if len(walked) != 6 || !slices.IsSortedFunc(walked, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("paged walk by address desc = %v", walked)
	}
	if _, err := s.ListPorts(ctx, store.ListPorts{SortKey: "pxe_enabled"}); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("ListPorts bad sort key: %v, want ErrInvalidArgument", err)
	}

	moved := p
	moved.NodeUUID = n2.UUID
	moved.Address = "52:54:00:AA:BB:10"
	moved.Extra = json.RawMessage(`{"x": 1}`)
	got, err := s.UpdatePort(ctx, moved)
	if err != nil || got.NodeUUID != n2.UUID || got.Address != "52:54:00:aa:bb:10" || got.UpdatedAt == nil {
		t.Fatalf("UpdatePort = %+v, %v", got, err)
	}
	updTests := []struct {
		name string
		edit func(*store.Port)
		want error
	}{
		{"duplicate address", func(p *store.Port) { p.Address = "52:54:00:aa:bb:02" }, store.ErrExists},
		{"unknown node", func(p *store.Port) { p.NodeUUID = uuid.NewString() }, store.ErrNotFound},
		{"gone", func(p *store.Port) { p.UUID = uuid.NewString() }, store.ErrNotFound},
	}
	for _, tt := range updTests {
		t.Run("update "+tt.name, func(t *testing.T) {
			u := moved
			tt.edit(&u)
			if _, err := s.UpdatePort(t.Context(), u); !errors.Is(err, tt.want) {
				t.Fatalf("UpdatePort error = %v, want %v", err, tt.want)
			}
		})
	}
	if err := s.DeletePort(ctx, p.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePort(ctx, p.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeletePort twice: %v, want ErrNotFound", err)
	}
}
