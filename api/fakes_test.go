package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/agent"
	"github.com/ferric-project/ferric/drivers/fake"
)

// fakeWorkflows records starts and signals. IDs in running answer
// AlreadyStarted (the node lock is held); result computes the value a
// synchronous caller receives.
type fakeWorkflows struct {
	mu      sync.Mutex
	starts  []startCall
	signals []string
	// signalErr, when set, fails the next SignalWorkflow (then clears).
	signalErr error
	running   map[string]bool
	result    func(name string, input any) (any, error)
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
	if err := f.signalErr; err != nil {
		f.signalErr = nil
		return err
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
	if err != nil {
		// The SDK wraps a workflow's failure in a WorkflowExecutionError
		// (not constructible outside it): the API must unwrap, as here.
		return fmt.Errorf("workflow execution error (type: %s, workflowID: %s, runID: run-1): %w", r.name, r.id, err)
	}
	if valuePtr == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, valuePtr)
}

// Test drivers: a "fake-hardware" hardware type shaped like the one of the
// Ironic the golden captures come from (all kinds "fake", network "noop",
// Ironic's fake vendor methods) over ferric's real fake power, management
// and deploy interfaces, plus "ipmi" and "redfish" types whose power
// interface requires driver_info.

// testVendor is Ironic's fake vendor interface as the captures show it
// (ferric's drivers/fake offers another set).
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

// ipmiStub stands for a BMC driver whose factories need driver_info: the
// API validates driver_info with them and never calls the interfaces.
type ipmiStub struct {
	drivers.Power
	drivers.Management
}

var errNoAddress = errors.New("missing ipmi_address in driver_info")

func testRegistry() *drivers.Registry {
	r := drivers.NewRegistry()
	// ferric's fake interfaces (pure factories): the API validates
	// driver_info and checks requested steps with them.
	real := drivers.NewRegistry()
	fake.New().Register(real)
	r.AddPower("fake", func(n drivers.Node) (drivers.Power, error) { return real.Power("fake", n) })
	r.AddManagement("fake", func(n drivers.Node) (drivers.Management, error) { return real.Management("fake", n) })
	r.AddDeploy("fake", func(n drivers.Node) (drivers.Deploy, error) { return real.Deploy("fake", n) })
	r.AddRAID("fake", func(n drivers.Node) (drivers.RAID, error) { return real.RAID("fake", n) })
	r.AddBIOS("fake", func(n drivers.Node) (drivers.BIOS, error) { return real.BIOS("fake", n) })
	r.AddRescue("fake", func(n drivers.Node) (drivers.Rescuer, error) { return real.Rescue("fake", n) })
	r.AddFirmware("fake", func(n drivers.Node) (drivers.Firmware, error) { return real.Firmware("fake", n) })
	agent.Register(r, agent.Config{AutomatedClean: true})
	r.AddType(drivers.HardwareType{
		Name: "fake-hardware",
		Interfaces: map[drivers.Kind][]string{
			drivers.KindBios: {"fake", "no-bios"}, drivers.KindBoot: {"fake", "pxe", "ipxe"},
			drivers.KindConsole: {"fake", "no-console"}, drivers.KindDeploy: {"fake", "direct", "ramdisk"},
			drivers.KindFirmware: {"fake", "no-firmware"}, drivers.KindInspect: {"fake", "no-inspect"},
			drivers.KindManagement: {"fake"}, drivers.KindNetwork: {"noop"}, drivers.KindPower: {"fake"},
			drivers.KindRAID: {"fake", "agent", "no-raid"}, drivers.KindRescue: {"fake", "no-rescue"},
			drivers.KindStorage: {"noop", "fake"}, drivers.KindVendor: {"fake", "no-vendor"},
		},
		Properties: map[string]string{"B2": "B2 description. Required.", "B1": "B1 description. Required."},
		InMemory:   true,
	})
	for _, name := range []string{"ipmi", "redfish"} {
		power, firmware := "ipmitool", []string{"no-firmware"}
		if name == "redfish" {
			power, firmware = "redfish", []string{"redfish", "no-firmware"}
		}
		r.AddType(drivers.HardwareType{
			Name: name,
			Interfaces: map[drivers.Kind][]string{
				drivers.KindBios: {"no-bios"}, drivers.KindBoot: {"pxe", "ipxe"}, drivers.KindConsole: {"no-console"},
				drivers.KindDeploy: {"direct", "ramdisk"}, drivers.KindFirmware: firmware,
				drivers.KindInspect: {"no-inspect"}, drivers.KindManagement: {power, "noop"},
				drivers.KindNetwork: {"noop"}, drivers.KindPower: {power}, drivers.KindRAID: {"no-raid", "agent"},
				drivers.KindRescue: {"no-rescue"}, drivers.KindStorage: {"noop"}, drivers.KindVendor: {"no-vendor"},
			},
		})
	}
	r.AddVendor("fake", func(drivers.Node) (drivers.Vendor, error) { return testVendor{}, nil })
	needAddress := func(n drivers.Node) error {
		if !strings.Contains(string(n.DriverInfo), `"ipmi_address"`) {
			return errNoAddress
		}
		return nil
	}
	r.AddPower("ipmitool", func(n drivers.Node) (drivers.Power, error) { return ipmiStub{}, needAddress(n) })
	r.AddManagement("ipmitool", func(n drivers.Node) (drivers.Management, error) { return ipmiStub{}, needAddress(n) })
	return r
}
