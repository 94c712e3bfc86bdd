// Package fake provides Ironic's "fake-hardware" hardware type: power,
// management, deploy and vendor interfaces that touch no hardware. State
// (power, boot device) is kept in memory per node. Latency and failures can be
// set per node in driver_info, for tests and benchmarks:
//
//	fake_delay          Go duration (e.g. "20ms") added to every call
//	fake_power_delay    added to power calls
//	fake_read_delay     added to power state reads only (to widen races in tests)
//	fake_deploy_delay   added to deploy and clean calls
//	fake_fail           list of operations that fail: "power", "management",
//	                    "deploy", "clean", "step", "inspect", "rescue",
//	                    "vendor", "vmedia", "validate"
//	fake_inventory      the inventory document out-of-band inspection returns
//	                    (ironic-python-agent's format); default: a small server
//	                    derived from the node's UUID
//
// A fake-hardware node with no such keys costs nothing per call, so the type is
// marked InMemory and workflows may run its calls as local activities.
package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/ferric-project/ferric/drivers"
)

// TypeName is the hardware type name, as in Ironic.
const TypeName = "fake-hardware"

// Hardware holds the in-memory state of every fake node. It is safe for
// concurrent use.
type Hardware struct {
	mu     sync.Mutex
	nodes  map[string]*state
	calls  []Call
	counts map[string]int // "op:arg" -> calls since New
}

// Call records one driver call, for tests.
type Call struct {
	Node string
	Op   string
	Arg  string
}

type state struct {
	power      drivers.PowerState
	bootDev    drivers.BootDevice
	persistent bool
}

// New returns an empty fake hardware.
func New() *Hardware { return &Hardware{nodes: map[string]*state{}, counts: map[string]int{}} }

// Register adds the fake-hardware type and its interfaces to r.
func (h *Hardware) Register(r *drivers.Registry) {
	fake := []string{"fake"}
	ifaces := map[drivers.Kind][]string{}
	for _, k := range drivers.Kinds() {
		ifaces[k] = fake
	}
	ifaces[drivers.KindNetwork] = []string{"noop", "flat"}
	ifaces[drivers.KindDeploy] = []string{"fake", "direct"}
	ifaces[drivers.KindBoot] = []string{"fake", "pxe", "ipxe"}
	ifaces[drivers.KindStorage] = []string{"fake", "noop"}
	ifaces[drivers.KindRAID] = []string{"fake", "no-raid", "agent"}
	ifaces[drivers.KindBios] = []string{"fake", "no-bios"}
	ifaces[drivers.KindConsole] = []string{"fake", "no-console"}
	ifaces[drivers.KindRescue] = []string{"fake", "no-rescue"}
	ifaces[drivers.KindInspect] = []string{"fake", "agent", "no-inspect"}
	ifaces[drivers.KindFirmware] = []string{"fake", "no-firmware"}
	ifaces[drivers.KindVendor] = []string{"fake", "no-vendor"}
	r.AddType(drivers.HardwareType{
		Name:       TypeName,
		Interfaces: ifaces,
		InMemory:   true,
		Properties: map[string]string{
			"fake_delay":        "Latency added to every call (Go duration, e.g. 20ms). Optional.",
			"fake_power_delay":  "Latency added to power calls. Optional.",
			"fake_read_delay":   "Latency added to power state reads only. Optional.",
			"fake_deploy_delay": "Latency added to deploy and clean calls. Optional.",
			"fake_fail":         "List of operations that fail: power, management, deploy, clean, step, rescue, vendor, vmedia, validate. Optional.",
		},
	})
	r.AddPower("fake", func(n drivers.Node) (drivers.Power, error) { return h.node(n) })
	r.AddManagement("fake", func(n drivers.Node) (drivers.Management, error) { return h.node(n) })
	r.AddDeploy("fake", func(n drivers.Node) (drivers.Deploy, error) { return h.node(n) })
	r.AddVendor("fake", func(n drivers.Node) (drivers.Vendor, error) { return h.node(n) })
	r.AddInspect("fake", func(n drivers.Node) (drivers.Inspector, error) { return h.node(n) })
	r.AddRAID("fake", func(n drivers.Node) (drivers.RAID, error) {
		nd, err := h.node(n)
		return RAID{nd}, err
	})
	r.AddBIOS("fake", func(n drivers.Node) (drivers.BIOS, error) {
		nd, err := h.node(n)
		return BIOS{nd}, err
	})
	r.AddRescue("fake", func(n drivers.Node) (drivers.Rescuer, error) { return h.node(n) })
	r.AddFirmware("fake", func(n drivers.Node) (drivers.Firmware, error) {
		nd, err := h.node(n)
		return Firmware{nd}, err
	})
}

// maxCalls bounds the recorded calls; the oldest half is dropped when full.
const maxCalls = 4096

// Calls returns a copy of the most recent calls (up to maxCalls).
func (h *Hardware) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// Count returns how many calls of op with arg (e.g. "power", "power on")
// were made since New; unlike Calls, nothing is dropped.
func (h *Hardware) Count(op, arg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[op+":"+arg]
}

// PowerStateOf returns a node's simulated power state, without a call.
func (h *Hardware) PowerStateOf(uuid string) (drivers.PowerState, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.nodes[uuid]
	if !ok {
		return "", false
	}
	return s.power, true
}

// Config is the fake's view of driver_info.
type Config struct {
	Delay       time.Duration
	PowerDelay  time.Duration
	ReadDelay   time.Duration
	DeployDelay time.Duration
	Fail        []string
	// Inventory is fake_inventory as given (nil: the default document).
	Inventory json.RawMessage
}

type rawConfig struct {
	Delay       string          `json:"fake_delay"`
	PowerDelay  string          `json:"fake_power_delay"`
	ReadDelay   string          `json:"fake_read_delay"`
	DeployDelay string          `json:"fake_deploy_delay"`
	Fail        []string        `json:"fake_fail"`
	Inventory   json.RawMessage `json:"fake_inventory"`
}

// ParseConfig reads the fake_* keys of driver_info; other keys are ignored.
func ParseConfig(info json.RawMessage) (Config, error) {
	var raw rawConfig
	if len(info) > 0 {
		if err := json.Unmarshal(info, &raw); err != nil {
			return Config{}, fmt.Errorf("fake driver_info: %w", err)
		}
	}
	var c Config
	for _, d := range []struct {
		name string
		in   string
		out  *time.Duration
	}{{"fake_delay", raw.Delay, &c.Delay}, {"fake_power_delay", raw.PowerDelay, &c.PowerDelay},
		{"fake_read_delay", raw.ReadDelay, &c.ReadDelay},
		{"fake_deploy_delay", raw.DeployDelay, &c.DeployDelay}} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil || v < 0 {
			return Config{}, fmt.Errorf("%s: %q is not a duration such as 20ms", d.name, d.in)
		}
		*d.out = v
	}
	c.Fail = raw.Fail
	if len(raw.Inventory) > 0 && string(raw.Inventory) != "null" {
		c.Inventory = raw.Inventory
	}
	if slices.Contains(c.Fail, "validate") {
		return Config{}, fmt.Errorf("fake_fail contains validate")
	}
	return c, nil
}

// Node is one fake node's interfaces. It implements drivers.Power,
// drivers.Rebooter, drivers.SoftPower, drivers.Management, drivers.Deploy and
// drivers.Vendor.
type Node struct {
	h          *Hardware
	uuid       string
	cfg        Config
	rec        drivers.PowerState
	targetRAID json.RawMessage
	media      []drivers.AttachedMedia
}

var (
	_ drivers.Power          = (*Node)(nil)
	_ drivers.Rebooter       = (*Node)(nil)
	_ drivers.SoftPower      = (*Node)(nil)
	_ drivers.Management     = (*Node)(nil)
	_ drivers.Deploy         = (*Node)(nil)
	_ drivers.Vendor         = (*Node)(nil)
	_ drivers.Stepper        = (*Node)(nil)
	_ drivers.ServiceStepper = (*Node)(nil)
	_ drivers.StepRunner     = (*Node)(nil)
	_ drivers.Inspector      = (*Node)(nil)
	_ drivers.RAID           = RAID{}
	_ drivers.StepRunner     = RAID{}
	_ drivers.BIOS           = BIOS{}
	_ drivers.StepRunner     = BIOS{}
	_ drivers.Rescuer        = (*Node)(nil)
)

// Rescue puts the node in its (simulated) rescue environment at once, as
// Ironic's fake rescue interface does, after fake_deploy_delay.
func (n *Node) Rescue(ctx context.Context) (bool, error) {
	return true, n.do(ctx, "rescue", "rescue", n.cfg.DeployDelay)
}

// Unrescue returns the node to its instance, after fake_deploy_delay.
func (n *Node) Unrescue(ctx context.Context) error {
	return n.do(ctx, "rescue", "unrescue", n.cfg.DeployDelay)
}

func (h *Hardware) node(n drivers.Node) (*Node, error) {
	cfg, err := ParseConfig(n.DriverInfo)
	if err != nil {
		return nil, err
	}
	return &Node{h: h, uuid: n.UUID, cfg: cfg, rec: n.PowerState, targetRAID: n.TargetRAIDConfig,
		media: n.AttachedMedia}, nil
}

// do waits the configured latency, fails when op is listed in fake_fail, and
// records the call.
func (n *Node) do(ctx context.Context, op, arg string, extra time.Duration) error {
	if d := n.cfg.Delay + extra; d > 0 {
		if err := drivers.Sleep(ctx, d); err != nil {
			return err
		}
	}
	n.h.mu.Lock()
	if len(n.h.calls) == maxCalls { // a long-running dev stack must not grow without bound
		n.h.calls = append(n.h.calls[:0], n.h.calls[maxCalls/2:]...)
	}
	n.h.calls = append(n.h.calls, Call{Node: n.uuid, Op: op, Arg: arg})
	n.h.counts[op+":"+arg]++
	n.h.mu.Unlock()
	if slices.Contains(n.cfg.Fail, op) {
		return fmt.Errorf("%w: fake %s failure requested by fake_fail", drivers.ErrFailed, op)
	}
	return nil
}

// st returns the node's state, seeded from the recorded power state. Callers
// hold h.mu.
func (n *Node) st() *state {
	s, ok := n.h.nodes[n.uuid]
	if !ok {
		p := n.rec
		if p == "" {
			p = drivers.PowerOff
		}
		s = &state{power: p, bootDev: drivers.BootDisk, persistent: true}
		n.h.nodes[n.uuid] = s
	}
	return s
}

// PowerState returns the simulated power state.
func (n *Node) PowerState(ctx context.Context) (drivers.PowerState, error) {
	if err := n.do(ctx, "power", "get", n.cfg.PowerDelay+n.cfg.ReadDelay); err != nil {
		return "", err
	}
	n.h.mu.Lock()
	defer n.h.mu.Unlock()
	return n.st().power, nil
}

// SetPowerState sets the simulated power state.
func (n *Node) SetPowerState(ctx context.Context, s drivers.PowerState) error {
	if s != drivers.PowerOn && s != drivers.PowerOff {
		return fmt.Errorf("%w: power state %q", drivers.ErrUnsupported, s)
	}
	if err := n.do(ctx, "power", string(s), n.cfg.PowerDelay); err != nil {
		return err
	}
	n.h.mu.Lock()
	defer n.h.mu.Unlock()
	n.st().power = s
	return nil
}

// Reboot power-cycles the node (recorded as one "reboot" call) and leaves
// it powered on, whatever state it was in, as a BMC's reset does.
func (n *Node) Reboot(ctx context.Context) error {
	if err := n.do(ctx, "power", "reboot", n.cfg.PowerDelay); err != nil {
		return err
	}
	n.h.mu.Lock()
	defer n.h.mu.Unlock()
	n.st().power = drivers.PowerOn
	return nil
}

// SoftPowerOff powers the node off.
func (n *Node) SoftPowerOff(ctx context.Context, _ time.Duration) error {
	return n.SetPowerState(ctx, drivers.PowerOff)
}

// SoftReboot leaves the node powered on.
func (n *Node) SoftReboot(ctx context.Context, _ time.Duration) error {
	return n.SetPowerState(ctx, drivers.PowerOn)
}

// SupportedBootDevices lists what the fake accepts.
func (n *Node) SupportedBootDevices(ctx context.Context) ([]drivers.BootDevice, error) {
	if err := n.do(ctx, "management", "supported", 0); err != nil {
		return nil, err
	}
	return []drivers.BootDevice{drivers.BootPXE, drivers.BootDisk, drivers.BootCDROM, drivers.BootBIOS}, nil
}

// BootDevice returns the simulated boot device.
func (n *Node) BootDevice(ctx context.Context) (drivers.BootDevice, bool, error) {
	if err := n.do(ctx, "management", "get", 0); err != nil {
		return "", false, err
	}
	n.h.mu.Lock()
	defer n.h.mu.Unlock()
	s := n.st()
	return s.bootDev, s.persistent, nil
}

// SetBootDevice sets the simulated boot device.
func (n *Node) SetBootDevice(ctx context.Context, dev drivers.BootDevice, persistent bool) error {
	switch dev {
	case drivers.BootPXE, drivers.BootDisk, drivers.BootCDROM, drivers.BootBIOS:
	default:
		return fmt.Errorf("%w: boot device %q", drivers.ErrUnsupported, dev)
	}
	if err := n.do(ctx, "management", string(dev), 0); err != nil {
		return err
	}
	n.h.mu.Lock()
	defer n.h.mu.Unlock()
	s := n.st()
	s.bootDev, s.persistent = dev, persistent
	return nil
}

// Deploy pretends to write the image; it completes synchronously.
func (n *Node) Deploy(ctx context.Context) (bool, error) {
	return true, n.do(ctx, "deploy", "", n.cfg.DeployDelay)
}

// TearDown pretends to remove the instance.
func (n *Node) TearDown(ctx context.Context) error {
	return n.do(ctx, "deploy", "teardown", 0)
}

// Clean pretends to clean the disks; it completes synchronously.
func (n *Node) Clean(ctx context.Context) (bool, error) {
	return true, n.do(ctx, "clean", "", n.cfg.DeployDelay)
}

// CleanSteps are the fake's clean steps: the agent's, run in memory.
func (n *Node) CleanSteps() []drivers.Step { return inMemory(drivers.AgentCleanSteps()) }

// DeploySteps are the fake's deploy steps: the core deploy (Deploy, which
// writes the "image" at once) and the agent's optional steps, run in memory.
func (n *Node) DeploySteps() []drivers.Step {
	var out []drivers.Step
	for _, s := range inMemory(drivers.AgentDeploySteps()) {
		if s.Name != drivers.StepWriteImage { // the core step's work here
			out = append(out, s)
		}
	}
	return out
}

// ServiceSteps are the fake's service steps, as Ironic's fake vendor
// interface offers them: vendor.log_passthrough, run in memory (Ironic's
// trigger_servicewait, which parks the node in service wait, is not offered).
func (n *Node) ServiceSteps() []drivers.Step {
	return []drivers.Step{{Interface: drivers.KindVendor, Name: "log_passthrough", Priority: 0}}
}

func inMemory(steps []drivers.Step) []drivers.Step {
	for i := range steps {
		steps[i].InBand = false
	}
	return steps
}

// RunStep records the step as a call (op "step", arg "<interface>.<name>");
// it fails when fake_fail lists "step".
func (n *Node) RunStep(ctx context.Context, step drivers.Step, _ json.RawMessage) (drivers.StepResult, error) {
	return drivers.StepResult{}, n.do(ctx, "step", step.ID(), n.cfg.DeployDelay)
}

// InspectHardware returns fake_inventory, or a default document for a small
// server whose NIC MACs and serial number derive from the node's UUID (so
// that thousands of fake nodes inspect to distinct ports). It fails when
// fake_fail lists "inspect".
func (n *Node) InspectHardware(ctx context.Context) (json.RawMessage, error) {
	if err := n.do(ctx, "inspect", "", n.cfg.DeployDelay); err != nil {
		return nil, err
	}
	if n.cfg.Inventory != nil {
		return n.cfg.Inventory, nil
	}
	h := fnv.New64a()
	h.Write([]byte(n.uuid))
	sum := h.Sum64()
	mac := func(i byte) string {
		return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)+i)
	}
	return json.RawMessage(fmt.Sprintf(`{"inventory":{`+
		`"interfaces":[`+
		`{"name":"eth0","mac_address":"%[1]s","ipv4_address":null,"ipv6_address":null,"has_carrier":true,"lldp":null,`+
		`"vendor":"0x8086","product":"0x1572","client_id":null,"biosdevname":null,"speed_mbps":10000,`+
		`"pci_address":"0000:3b:00.0","driver":"i40e"},`+
		`{"name":"eth1","mac_address":"%[2]s","ipv4_address":null,"ipv6_address":null,"has_carrier":false,"lldp":null,`+
		`"vendor":"0x8086","product":"0x1572","client_id":null,"biosdevname":null,"speed_mbps":10000,`+
		`"pci_address":"0000:3b:00.1","driver":"i40e"}],`+
		`"cpu":{"model_name":"Fake CPU @ 2.40GHz","frequency":"2400.0000","count":8,"architecture":"x86_64",`+
		`"flags":["fpu","sse2","vmx"],"socket_count":1},`+
		`"memory":{"total":17179869184,"physical_mb":16384},`+
		`"disks":[{"name":"/dev/sda","model":"Fake Disk","size":107374182400,"rotational":false,"wwn":null,`+
		`"serial":"FAKE%[3]x","vendor":"FAKE","wwn_with_extension":null,"wwn_vendor_extension":null,`+
		`"hctl":"0:0:0:0","by_path":"/dev/disk/by-path/pci-0000:00:17.0-ata-1","logical_sectors":512,`+
		`"physical_sectors":512,"tran":"sata"}],`+
		`"boot":{"current_boot_mode":"uefi","pxe_interface":"%[1]s"},`+
		`"system_vendor":{"product_name":"Fake Server","serial_number":"FAKE-%[3]x","manufacturer":"ferric",`+
		`"firmware":{"vendor":"ferric","version":"1.0","build_date":"01/01/2026"}},`+
		`"bmc_address":null,"bmc_v6address":null,"bmc_mac":null,"hostname":"fake-%[3]x"},`+
		`"plugin_data":{"pci_devices":[`+
		`{"vendor_id":"8086","product_id":"1572","class":"020000","revision":"02","bus":"0000:3b:00.0","numa_node_id":"0"},`+
		`{"vendor_id":"8086","product_id":"1572","class":"020000","revision":"02","bus":"0000:3b:00.1","numa_node_id":"0"}]}}`,
		mac(0), mac(1), sum&0xffffff)), nil
}

// VendorMethods lists the fake's passthru methods (as Ironic's fake vendor).
func (n *Node) VendorMethods() map[string]drivers.VendorMethod {
	return map[string]drivers.VendorMethod{
		"first_method": {HTTPMethods: []string{"POST"}, Async: true, Description: "Test if the value of bar is baz",
			RequireExclusiveLock: true},
		"second_method": {HTTPMethods: []string{"POST"}, Async: true, Description: "Test if the value of bar is kazoo",
			RequireExclusiveLock: true},
		"third_method_sync": {HTTPMethods: []string{"POST"}, Async: false, Description: "Test if the value of bar is meow",
			RequireExclusiveLock: true},
		"fourth_method_shared_lock": {HTTPMethods: []string{"POST"}, Async: false,
			Description: "Test if the value of bar is woof", RequireExclusiveLock: false},
	}
}

// CallVendor echoes its arguments back for sync methods.
func (n *Node) CallVendor(ctx context.Context, method string, args json.RawMessage) (json.RawMessage, error) {
	if _, ok := n.VendorMethods()[method]; !ok {
		return nil, fmt.Errorf("%w: vendor method %q", drivers.ErrUnsupported, method)
	}
	if err := n.do(ctx, "vendor", method, 0); err != nil {
		return nil, err
	}
	return args, nil
}
