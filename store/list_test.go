package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// seedNodes creates 25 varied nodes and returns them as stored.
func seedNodes(t *testing.T, s *store.Store) []store.Node {
	t.Helper()
	ctx := t.Context()
	ch, err := s.CreateChassis(ctx, store.Chassis{})
	if err != nil {
		t.Fatal(err)
	}
	states := []node.ProvisionState{node.Enroll, node.Manageable, node.Available, node.Active}
	var nodes []store.Node
	for i := range 25 {
		n := store.Node{
			Driver:         []string{"ipmi", "redfish"}[i%2],
			ProvisionState: states[(i*7)%4],
			Maintenance:    i%3 == 0,
			Retired:        i%5 == 1,
			ConductorGroup: []string{"", "cga", "cgb"}[i%3],
		}
		if i%5 != 0 {
			n.Name = ptr(fmt.Sprintf("n%02d", (i*11)%25)) // not in id order
		}
		if i%4 != 0 {
			n.ResourceClass = ptr([]string{"rca", "rcb", "rcc"}[i%3])
		}
		if i%6 == 0 {
			n.InstanceUUID = ptr(fmt.Sprintf("inst-%02d", i))
		}
		if i%7 == 0 {
			n.ChassisUUID = &ch.UUID
			n.Owner = ptr("alice")
			n.Lessee = ptr("bob")
			n.Shard = ptr("s1")
			n.Fault = ptr(node.FaultPowerFailure)
		}
		created, err := s.CreateNode(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 { // give half an updated_at
			if created, err = s.UpdateNode(ctx, created); err != nil {
				t.Fatal(err)
			}
		}
		nodes = append(nodes, created)
	}
	return nodes
}

// sortKey renders the sort key of n as a string that orders like Postgres
// does (C collation values only), and whether it is NULL.
func sortKey(n store.Node, key string) (string, bool) {
	str := func(p *string) (string, bool) {
		if p == nil {
			return "", true
		}
		return *p, false
	}
	tm := func(p *time.Time) (string, bool) {
		if p == nil {
			return "", true
		}
		return p.UTC().Format("2006-01-02T15:04:05.000000"), false
	}
	switch key {
	case "", "id":
		return fmt.Sprintf("%020d", n.ID), false
	case "uuid":
		return n.UUID, false
	case "name":
		return str(n.Name)
	case "provision_state":
		return string(n.ProvisionState), false
	case "driver":
		return n.Driver, false
	case "maintenance":
		return strconv.FormatBool(n.Maintenance), false // "false" < "true" like false < true
	case "resource_class":
		return str(n.ResourceClass)
	case "instance_uuid":
		return str(n.InstanceUUID)
	case "created_at":
		return tm(&n.CreatedAt)
	case "updated_at":
		return tm(n.UpdatedAt)
	}
	panic("no sortKey for " + key)
}

// expectOrder sorts nodes like ListNodes: (key, id) ascending with NULLs
// last, or the exact reverse.
func expectOrder(nodes []store.Node, key string, desc bool) []int64 {
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b store.Node) int {
		ka, na := sortKey(a, key)
		kb, nb := sortKey(b, key)
		if na != nb {
			if na {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(ka, kb), cmp.Compare(a.ID, b.ID))
	})
	if desc {
		slices.Reverse(sorted)
	}
	return ids(sorted)
}

func ids(nodes []store.Node) []int64 {
	out := make([]int64, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

func TestListNodesSortAndPages(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	nodes := seedNodes(t, s)
	for _, key := range []string{"", "id", "uuid", "name", "provision_state", "driver", "maintenance",
		"resource_class", "instance_uuid", "created_at", "updated_at"} {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s desc=%v", key, desc), func(t *testing.T) {
				t.Parallel()
				want := expectOrder(nodes, key, desc)
				all, err := s.ListNodes(t.Context(), store.ListNodes{SortKey: key, SortDesc: desc})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(all), want) {
					t.Fatalf("order = %v, want %v", ids(all), want)
				}
				for _, limit := range []int{1, 7, 25} {
					var walked []int64
					for marker, pages := int64(0), 0; ; pages++ {
						page, err := s.ListNodes(t.Context(),
							store.ListNodes{SortKey: key, SortDesc: desc, Limit: limit, MarkerID: marker})
						if err != nil {
							t.Fatalf("page after %d: %v", marker, err)
						}
						if len(page) > limit || pages > 30 {
							t.Fatalf("page of %d rows with limit %d (page %d)", len(page), limit, pages)
						}
						if len(page) == 0 {
							break
						}
						walked = append(walked, ids(page)...)
						marker = page[len(page)-1].ID
					}
					if !slices.Equal(walked, want) {
						t.Fatalf("limit %d: walked %v, want %v", limit, walked, want)
					}
				}
			})
		}
	}
}

func TestListNodesFilters(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	nodes := seedNodes(t, s)
	chassis := *nodes[0].ChassisUUID
	tests := []struct {
		name string
		q    store.ListNodes
		keep func(store.Node) bool
	}{
		{"all", store.ListNodes{}, func(store.Node) bool { return true }},
		{"provision state", store.ListNodes{ProvisionState: ptr(node.Available)},
			func(n store.Node) bool { return n.ProvisionState == node.Available }},
		{"maintenance", store.ListNodes{Maintenance: ptr(true)}, func(n store.Node) bool { return n.Maintenance }},
		{"not maintenance", store.ListNodes{Maintenance: ptr(false)}, func(n store.Node) bool { return !n.Maintenance }},
		{"associated", store.ListNodes{Associated: ptr(true)}, func(n store.Node) bool { return n.InstanceUUID != nil }},
		{"unassociated", store.ListNodes{Associated: ptr(false)}, func(n store.Node) bool { return n.InstanceUUID == nil }},
		{"driver", store.ListNodes{Driver: "redfish"}, func(n store.Node) bool { return n.Driver == "redfish" }},
		{"resource class", store.ListNodes{ResourceClass: "rcb"},
			func(n store.Node) bool { return n.ResourceClass != nil && *n.ResourceClass == "rcb" }},
		{"chassis", store.ListNodes{ChassisUUID: chassis}, func(n store.Node) bool { return n.ChassisUUID != nil }},
		{"conductor group", store.ListNodes{ConductorGroup: "cga"}, func(n store.Node) bool { return n.ConductorGroup == "cga" }},
		{"owner", store.ListNodes{Owner: "alice"}, func(n store.Node) bool { return n.Owner != nil }},
		{"lessee", store.ListNodes{Lessee: "bob"}, func(n store.Node) bool { return n.Lessee != nil }},
		{"fault", store.ListNodes{Fault: node.FaultPowerFailure}, func(n store.Node) bool { return n.Fault != nil }},
		{"retired", store.ListNodes{Retired: ptr(true)}, func(n store.Node) bool { return n.Retired }},
		{"instance uuid", store.ListNodes{InstanceUUID: "inst-06"},
			func(n store.Node) bool { return n.InstanceUUID != nil && *n.InstanceUUID == "inst-06" }},
		{"shard", store.ListNodes{Shard: "s1"}, func(n store.Node) bool { return n.Shard != nil }},
		{"combined", store.ListNodes{Driver: "ipmi", Maintenance: ptr(true), ProvisionState: ptr(node.Enroll)},
			func(n store.Node) bool {
				return n.Driver == "ipmi" && n.Maintenance && n.ProvisionState == node.Enroll
			}},
		{"malformed chassis uuid", store.ListNodes{ChassisUUID: "nope"}, func(store.Node) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want []int64
			for _, n := range nodes {
				if tt.keep(n) {
					want = append(want, n.ID)
				}
			}
			got, err := s.ListNodes(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), want) {
				t.Fatalf("ListNodes = %v, want %v", ids(got), want)
			}
			if tt.name != "all" && tt.name != "malformed chassis uuid" && (len(want) == 0 || len(want) == len(nodes)) {
				t.Errorf("filter selects %d of %d nodes: the seed does not exercise it", len(want), len(nodes))
			}
		})
	}
}

func TestListNodesErrors(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	mustNode(t, s, "a")
	tests := []struct {
		name string
		q    store.ListNodes
		want error
	}{
		{"unknown sort key", store.ListNodes{SortKey: "driver_info"}, store.ErrInvalidArgument},
		{"injection", store.ListNodes{SortKey: "id; DROP TABLE nodes"}, store.ErrInvalidArgument},
		{"negative limit", store.ListNodes{Limit: -1}, store.ErrInvalidArgument},
		{"unknown marker", store.ListNodes{MarkerID: 1 << 40}, store.ErrNotFound},
		{"unknown marker, nullable key", store.ListNodes{MarkerID: 1 << 40, SortKey: "name"}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.ListNodes(t.Context(), tt.q); !errors.Is(err, tt.want) {
				t.Fatalf("ListNodes error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestNodeSortKeys checks that every advertised key is accepted.
func TestNodeSortKeys(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	mustNode(t, s, "a")
	mustNode(t, s, "b")
	for _, key := range store.NodeSortKeys() {
		for _, desc := range []bool{false, true} {
			all, err := s.ListNodes(t.Context(), store.ListNodes{SortKey: key, SortDesc: desc})
			if err != nil || len(all) != 2 {
				t.Fatalf("sort %s: %d nodes, %v", key, len(all), err)
			}
			if _, err := s.ListNodes(t.Context(), store.ListNodes{SortKey: key, SortDesc: desc, MarkerID: all[0].ID}); err != nil {
				t.Fatalf("sort %s with marker: %v", key, err)
			}
		}
	}
	for _, key := range store.PortSortKeys() {
		if _, err := s.ListPorts(t.Context(), store.ListPorts{SortKey: key}); err != nil {
			t.Fatalf("port sort %s: %v", key, err)
		}
	}
	for _, key := range store.ChassisSortKeys() {
		if _, err := s.ListChassis(t.Context(), 0, 0, key, true); err != nil {
			t.Fatalf("chassis sort %s: %v", key, err)
		}
	}
}

func BenchmarkListNodes(b *testing.B) {
	s := storetest.New(b)
	ctx := context.Background()
	const total = 1000
	err := s.InTx(ctx, func(q store.Queries) error {
		for i := range total {
			if _, err := q.CreateNode(ctx, store.Node{Name: ptr(fmt.Sprintf("node-%04d", i)), Driver: "ipmi",
				ProvisionState: node.Available, Traits: []string{"CUSTOM_GPU"},
				DriverInfo: []byte(`{"ipmi_address": "10.0.0.1", "ipmi_username": "admin"}`),
				Properties: []byte(`{"cpus": 64, "memory_mb": 262144, "local_gb": 960}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		q    store.ListNodes
		want int
	}{
		{"all-1000", store.ListNodes{}, total},
		{"page-100-by-name", store.ListNodes{Limit: 100, SortKey: "name", MarkerID: 500}, 100},
		{"filter-state-maintenance", store.ListNodes{ProvisionState: ptr(node.Available), Maintenance: ptr(false)}, total},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				nodes, err := s.ListNodes(ctx, bc.q)
				if err != nil || len(nodes) != bc.want {
					b.Fatalf("ListNodes = %d, %v", len(nodes), err)
				}
			}
		})
	}
}

func BenchmarkTransition(b *testing.B) {
	s := storetest.New(b)
	ctx := context.Background()
	n, err := s.CreateNode(ctx, store.Node{Driver: "ipmi", ProvisionState: node.Available})
	if err != nil {
		b.Fatal(err)
	}
	there := store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Available},
		To: node.Deploying, Target: node.Active}
	back := store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Deploying}, To: node.Available}
	i := 0
	for b.Loop() {
		r := there
		if i%2 == 1 {
			r = back
		}
		i++
		if _, err := s.Transition(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
