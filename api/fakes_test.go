package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/agent"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/store"
)

// memStore is an in-memory Store with the documented semantics of
// *store.Store (optimistic locking, unique names/MACs, keyset pagination by
// internal id).
type memStore struct {
	mu      sync.Mutex
	nextID  int64
	nodes   map[string]*store.Node // by UUID
	ports   map[string]*store.Port
	chassis map[string]*store.Chassis
	events  map[string][]store.Event
	// beforeUpdate, when set, runs inside UpdateNode before the version
	// check (to simulate a workflow writing concurrently).
	beforeUpdate func(stored *store.Node)
	updates      int
	listCalls    int
	ops          map[string]store.Operation
	inventories  map[string]store.Inventory
}

func newMemStore() *memStore {
	return &memStore{nodes: map[string]*store.Node{}, ports: map[string]*store.Port{},
		chassis: map[string]*store.Chassis{}, events: map[string][]store.Event{}}
}

var _ Store = (*memStore)(nil)

func (m *memStore) id() int64 { m.nextID++; return m.nextID }

func (m *memStore) findNode(ident string) *store.Node {
	if n, ok := m.nodes[ident]; ok {
		return n
	}
	for _, n := range m.nodes {
		if n.Name != nil && *n.Name == ident {
			return n
		}
	}
	return nil
}

// put stores n as is (test seeding).
func (m *memStore) put(n store.Node) store.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n.ID == 0 {
		n.ID = m.id()
	} else if n.ID >= m.nextID {
		m.nextID = n.ID
	}
	if n.Version == 0 {
		n.Version = 1
	}
	cp := n
	m.nodes[n.UUID] = &cp
	return cp
}

func (m *memStore) get(uuid string) store.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return *m.nodes[uuid]
}

func (m *memStore) CreateNode(_ context.Context, n store.Node) (store.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n.UUID == "" {
		n.UUID = uuid.NewString()
	}
	if _, dup := m.nodes[n.UUID]; dup {
		return store.Node{}, store.ErrExists
	}
	if n.Name != nil && m.findNode(*n.Name) != nil {
		return store.Node{}, store.ErrExists
	}
	if n.ChassisUUID != nil && m.chassis[*n.ChassisUUID] == nil {
		return store.Node{}, store.ErrNotFound
	}
	n.ID = m.id()
	n.Version = 1
	n.CreatedAt = time.Date(2026, 11, 25, 0, 23, 6, 0, time.UTC)
	cp := n
	m.nodes[n.UUID] = &cp
	return n, nil
}

func (m *memStore) Node(_ context.Context, ident string) (store.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.findNode(ident); n != nil {
		return *n, nil
	}
	return store.Node{}, store.ErrNotFound
}

func (m *memStore) ListNodes(_ context.Context, q store.ListNodes) ([]store.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listCalls++
	if q.SortKey != "" && q.SortKey != "id" {
		return nil, fmt.Errorf("memStore: unsupported sort key %q", q.SortKey)
	}
	all := make([]store.Node, 0, len(m.nodes))
	for _, n := range m.nodes {
		all = append(all, *n)
	}
	sort.Slice(all, func(i, j int) bool {
		if q.SortDesc {
			return all[i].ID > all[j].ID
		}
		return all[i].ID < all[j].ID
	})
	var out []store.Node
	for _, n := range all {
		if q.MarkerID != 0 && ((!q.SortDesc && n.ID <= q.MarkerID) || (q.SortDesc && n.ID >= q.MarkerID)) {
			continue
		}
		if q.ProvisionState != nil && n.ProvisionState != *q.ProvisionState ||
			q.Maintenance != nil && n.Maintenance != *q.Maintenance ||
			q.Associated != nil && (n.InstanceUUID != nil) != *q.Associated ||
			q.Retired != nil && n.Retired != *q.Retired ||
			q.Driver != "" && n.Driver != q.Driver ||
			q.ResourceClass != "" && (n.ResourceClass == nil || *n.ResourceClass != q.ResourceClass) ||
			q.ChassisUUID != "" && (n.ChassisUUID == nil || *n.ChassisUUID != q.ChassisUUID) ||
			q.ConductorGroup != "" && n.ConductorGroup != q.ConductorGroup ||
			q.Owner != "" && (n.Owner == nil || *n.Owner != q.Owner) ||
			q.Lessee != "" && (n.Lessee == nil || *n.Lessee != q.Lessee) ||
			q.Fault != "" && (n.Fault == nil || *n.Fault != q.Fault) ||
			q.InstanceUUID != "" && (n.InstanceUUID == nil || *n.InstanceUUID != q.InstanceUUID) ||
			q.Shard != "" && (n.Shard == nil || *n.Shard != q.Shard) {
			continue
		}
		out = append(out, n)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (m *memStore) UpdateNode(_ context.Context, n store.Node) (store.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.updates++
	cur, ok := m.nodes[n.UUID]
	if !ok {
		return store.Node{}, store.ErrNotFound
	}
	if m.beforeUpdate != nil {
		m.beforeUpdate(cur)
	}
	if cur.Version != n.Version {
		return store.Node{}, fmt.Errorf("node %s: have version %d, caller read %d: %w", n.UUID, cur.Version, n.Version, store.ErrConflict)
	}
	if n.Name != nil {
		if other := m.findNode(*n.Name); other != nil && other.UUID != n.UUID {
			return store.Node{}, store.ErrExists
		}
	}
	// Provision and power states are the workflows' to write.
	n.ProvisionState, n.TargetProvisionState = cur.ProvisionState, cur.TargetProvisionState
	n.PowerState, n.TargetPowerState = cur.PowerState, cur.TargetPowerState
	n.Version = cur.Version + 1
	t := time.Date(2026, 11, 25, 0, 23, 7, 0, time.UTC)
	n.UpdatedAt = &t
	cp := n
	m.nodes[n.UUID] = &cp
	return n, nil
}

func (m *memStore) DeleteNode(_ context.Context, uuid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.nodes[uuid]; !ok {
		return store.ErrNotFound
	}
	delete(m.nodes, uuid)
	for k, p := range m.ports {
		if p.NodeUUID == uuid {
			delete(m.ports, k)
		}
	}
	return nil
}

func (m *memStore) NodeEvents(_ context.Context, uuid string) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.Event(nil), m.events[uuid]...), nil
}

func (m *memStore) AddEvent(_ context.Context, e store.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.UUID == "" {
		e.UUID = uuid.NewString()
	}
	e.ID = m.id()
	m.events[e.NodeUUID] = append(m.events[e.NodeUUID], e)
	return nil
}

func (m *memStore) CreatePort(_ context.Context, p store.Port) (store.Port, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.ports {
		if o.Address == p.Address || o.UUID == p.UUID {
			return store.Port{}, store.ErrExists
		}
	}
	if m.nodes[p.NodeUUID] == nil {
		return store.Port{}, store.ErrNotFound
	}
	p.ID = m.id()
	p.CreatedAt = time.Date(2026, 11, 25, 0, 23, 7, 0, time.UTC)
	cp := p
	m.ports[p.UUID] = &cp
	return p, nil
}

func (m *memStore) Port(_ context.Context, uuid string) (store.Port, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.ports[uuid]; ok {
		return *p, nil
	}
	return store.Port{}, store.ErrNotFound
}

func (m *memStore) ListPorts(_ context.Context, q store.ListPorts) ([]store.Port, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []store.Port
	for _, p := range m.ports {
		if (q.NodeUUID == "" || p.NodeUUID == q.NodeUUID) && (q.Address == "" || p.Address == q.Address) &&
			(q.MarkerID == 0 || p.ID > q.MarkerID) {
			all = append(all, *p)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	if q.Limit > 0 && len(all) > q.Limit {
		all = all[:q.Limit]
	}
	return all, nil
}

func (m *memStore) UpdatePort(_ context.Context, p store.Port) (store.Port, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ports[p.UUID]; !ok {
		return store.Port{}, store.ErrNotFound
	}
	for _, o := range m.ports {
		if o.Address == p.Address && o.UUID != p.UUID {
			return store.Port{}, store.ErrExists
		}
	}
	cp := p
	m.ports[p.UUID] = &cp
	return p, nil
}

func (m *memStore) DeletePort(_ context.Context, uuid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ports[uuid]; !ok {
		return store.ErrNotFound
	}
	delete(m.ports, uuid)
	return nil
}

func (m *memStore) CreateChassis(_ context.Context, ch store.Chassis) (store.Chassis, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.chassis[ch.UUID]; dup {
		return store.Chassis{}, store.ErrExists
	}
	ch.ID = m.id()
	ch.CreatedAt = time.Date(2026, 11, 25, 0, 23, 6, 0, time.UTC)
	cp := ch
	m.chassis[ch.UUID] = &cp
	return ch, nil
}

func (m *memStore) Chassis(_ context.Context, uuid string) (store.Chassis, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ch, ok := m.chassis[uuid]; ok {
		return *ch, nil
	}
	return store.Chassis{}, store.ErrNotFound
}

func (m *memStore) ListChassis(_ context.Context, limit int, markerID int64, _ string, _ bool) ([]store.Chassis, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []store.Chassis
	for _, ch := range m.chassis {
		if ch.ID > markerID {
			all = append(all, *ch)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

func (m *memStore) UpdateChassis(_ context.Context, ch store.Chassis) (store.Chassis, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.chassis[ch.UUID]; !ok {
		return store.Chassis{}, store.ErrNotFound
	}
	cp := ch
	m.chassis[ch.UUID] = &cp
	return ch, nil
}

func (m *memStore) DeleteChassis(_ context.Context, uuid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.chassis[uuid]; !ok {
		return store.ErrNotFound
	}
	for _, n := range m.nodes {
		if n.ChassisUUID != nil && *n.ChassisUUID == uuid {
			return store.ErrInUse
		}
	}
	delete(m.chassis, uuid)
	return nil
}

// fakeWorkflows records starts and signals. IDs in running answer
// AlreadyStarted (the node lock is held); result computes the value a
// synchronous caller receives.
type fakeWorkflows struct {
	mu      sync.Mutex
	starts  []startCall
	signals []string
	running map[string]bool
	result  func(name string, input any) (any, error)
}

type startCall struct {
	opts  client.StartWorkflowOptions
	name  string
	input any
}

func newFakeWorkflows() *fakeWorkflows { return &fakeWorkflows{running: map[string]bool{}} }

func (f *fakeWorkflows) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running[o.ID] {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow already started", "", "run-1")
	}
	name, _ := wf.(string)
	var in any
	if len(args) > 0 {
		in = args[0]
	}
	f.starts = append(f.starts, startCall{opts: o, name: name, input: in})
	return &fakeRun{id: o.ID, name: name, input: in, result: f.result}, nil
}

func (f *fakeWorkflows) SignalWorkflow(_ context.Context, id, _, signal string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running[id] {
		return serviceerror.NewNotFound("workflow not found")
	}
	f.signals = append(f.signals, id+" "+signal)
	return nil
}

func (f *fakeWorkflows) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts)
}

func (f *fakeWorkflows) last() startCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.starts) == 0 {
		return startCall{}
	}
	return f.starts[len(f.starts)-1]
}

type fakeRun struct {
	client.WorkflowRun // unimplemented methods panic
	id, name           string
	input              any
	result             func(name string, input any) (any, error)
}

func (r *fakeRun) GetID() string    { return r.id }
func (r *fakeRun) GetRunID() string { return "run-1" }

func (r *fakeRun) Get(_ context.Context, valuePtr any) error {
	if r.result == nil {
		return nil
	}
	v, err := r.result(r.name, r.input)
	if err != nil || valuePtr == nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, valuePtr)
}

// Test drivers: an in-test "fake-hardware" hardware type (all kinds
// "fake", network "noop") plus "ipmi" and "redfish" types whose power
// interface requires driver_info.

type testPower struct{}

func (testPower) PowerState(context.Context) (drivers.PowerState, error) {
	return drivers.PowerOff, nil
}
func (testPower) SetPowerState(context.Context, drivers.PowerState) error { return nil }

type testManagement struct{}

func (testManagement) SupportedBootDevices(context.Context) ([]drivers.BootDevice, error) {
	return []drivers.BootDevice{drivers.BootPXE, drivers.BootDisk}, nil
}
func (testManagement) BootDevice(context.Context) (drivers.BootDevice, bool, error) {
	return drivers.BootPXE, false, nil
}
func (testManagement) SetBootDevice(context.Context, drivers.BootDevice, bool) error { return nil }

type testVendor struct{}

func (testVendor) VendorMethods() map[string]drivers.VendorMethod {
	return map[string]drivers.VendorMethod{
		"fourth_method_shared_lock": {HTTPMethods: []string{"POST"}, Async: true,
			Description: "Test if the value of bar is woof"},
		"second_method": {HTTPMethods: []string{"POST"}, Async: true,
			Description: "Test if the value of bar is kazoo", RequireExclusiveLock: true},
		"third_method_sync": {HTTPMethods: []string{"POST"}, Async: false,
			Description: "Test if the value of bar is meow", RequireExclusiveLock: true},
	}
}

func (testVendor) CallVendor(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage("true"), nil
}

var errNoAddress = errors.New("missing ipmi_address in driver_info")

func testRegistry() *drivers.Registry {
	r := drivers.NewRegistry()
	// The real deploy interfaces (pure factories): the API checks requested
	// steps against what they offer.
	real := drivers.NewRegistry()
	fake.New().Register(real)
	r.AddDeploy("fake", func(n drivers.Node) (drivers.Deploy, error) { return real.Deploy("fake", n) })
	agent.Register(r, agent.Config{AutomatedClean: true})
	r.AddType(drivers.HardwareType{
		Name: "fake-hardware",
		Interfaces: map[drivers.Kind][]string{
			drivers.KindBios: {"fake", "no-bios"}, drivers.KindBoot: {"fake", "pxe", "ipxe"},
			drivers.KindConsole: {"fake", "no-console"}, drivers.KindDeploy: {"fake", "direct", "ramdisk"},
			drivers.KindFirmware: {"fake"}, drivers.KindInspect: {"fake", "no-inspect"},
			drivers.KindManagement: {"fake"}, drivers.KindNetwork: {"noop"}, drivers.KindPower: {"fake"},
			drivers.KindRAID: {"fake", "agent", "no-raid"}, drivers.KindRescue: {"fake", "no-rescue"},
			drivers.KindStorage: {"noop", "fake"}, drivers.KindVendor: {"fake", "no-vendor"},
		},
		Properties: map[string]string{"B2": "B2 description. Required.", "B1": "B1 description. Required."},
		InMemory:   true,
	})
	for _, name := range []string{"ipmi", "redfish"} {
		power := "ipmitool"
		if name == "redfish" {
			power = "redfish"
		}
		r.AddType(drivers.HardwareType{
			Name: name,
			Interfaces: map[drivers.Kind][]string{
				drivers.KindBios: {"no-bios"}, drivers.KindBoot: {"pxe", "ipxe"}, drivers.KindConsole: {"no-console"},
				drivers.KindDeploy: {"direct", "ramdisk"}, drivers.KindFirmware: {"no-firmware"},
				drivers.KindInspect: {"no-inspect"}, drivers.KindManagement: {power, "noop"},
				drivers.KindNetwork: {"noop"}, drivers.KindPower: {power}, drivers.KindRAID: {"no-raid", "agent"},
				drivers.KindRescue: {"no-rescue"}, drivers.KindStorage: {"noop"}, drivers.KindVendor: {"no-vendor"},
			},
		})
	}
	r.AddPower("fake", func(drivers.Node) (drivers.Power, error) { return testPower{}, nil })
	r.AddManagement("fake", func(drivers.Node) (drivers.Management, error) { return testManagement{}, nil })
	r.AddVendor("fake", func(drivers.Node) (drivers.Vendor, error) { return testVendor{}, nil })
	needAddress := func(n drivers.Node) error {
		if !strings.Contains(string(n.DriverInfo), `"ipmi_address"`) {
			return errNoAddress
		}
		return nil
	}
	r.AddPower("ipmitool", func(n drivers.Node) (drivers.Power, error) { return testPower{}, needAddress(n) })
	r.AddManagement("ipmitool", func(n drivers.Node) (drivers.Management, error) {
		return testManagement{}, needAddress(n)
	})
	return r
}

func (m *memStore) CreateOperation(_ context.Context, op store.Operation) (store.Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nodes[op.NodeUUID] == nil {
		return store.Operation{}, store.ErrNotFound
	}
	op.ID = uuid.NewString()
	if m.ops == nil {
		m.ops = map[string]store.Operation{}
	}
	m.ops[op.ID] = op
	return op, nil
}

func (m *memStore) DeleteOperation(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ops, id)
	return nil
}

func (m *memStore) LatestConfigDrive(context.Context, string) (json.RawMessage, error) {
	return nil, nil
}

func (m *memStore) NodeInventory(_ context.Context, uuid string) (store.Inventory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.inventories[uuid]
	if !ok {
		return store.Inventory{}, store.ErrNotFound
	}
	return inv, nil
}
