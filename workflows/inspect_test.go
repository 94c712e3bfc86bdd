package workflows_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// agentInventory is what the simulated agent reports for inspect.
const agentInventory = `{"inventory":{"interfaces":[` +
	`{"name":"ens3","mac_address":"52:54:00:12:34:56","ipv4_address":"10.0.2.15","has_carrier":true},` +
	`{"name":"ens4","mac_address":"52:54:00:12:34:57","ipv4_address":null,"has_carrier":false}],` +
	`"cpu":{"model_name":"QEMU","frequency":"2000.0000","count":2,"architecture":"x86_64","flags":[]},` +
	`"memory":{"total":536870912,"physical_mb":512},` +
	`"disks":[{"name":"/dev/vda","size":10737418240,"rotational":true}],` +
	`"boot":{"current_boot_mode":"bios","pxe_interface":"52:54:00:12:34:56"}},` +
	`"plugin_data":{"pci_devices":[{"vendor_id":"1af4","product_id":"1000","class":"020000","revision":null,"bus":"0000:00:03.0","numa_node_id":null}]}}`

// agentCallbackInventory and agentCallbackPluginData are what a ramdisk
// posts to POST /v1/continue_inspection, split as the API stores them.
const (
	agentCallbackInventory = `{"interfaces":[` +
		`{"name":"ens3","mac_address":"52:54:00:12:34:56","ipv4_address":"10.0.2.15","has_carrier":true},` +
		`{"name":"ens4","mac_address":"52:54:00:12:34:57","ipv4_address":null,"has_carrier":false},` +
		`{"name":"lo","mac_address":"00:00:00:00:00:00","ipv4_address":"127.0.0.1"}],` +
		`"cpu":{"model_name":"QEMU","frequency":"2000.0000","count":2,"architecture":"x86_64","flags":[]},` +
		`"memory":{"total":536870912,"physical_mb":512},` +
		`"disks":[{"name":"/dev/vda","size":10737418240,"rotational":true}],` +
		`"boot":{"current_boot_mode":"bios","pxe_interface":"52:54:00:12:34:56"}}`
	agentCallbackPluginData = `{"root_disk":null,"error":null,"logs":"H4sI"}`
)

func inspectScript(cmd wire.Command) []wire.CommandResult {
	if cmd.Name == wire.CmdInspect {
		return []wire.CommandResult{{Status: wire.StatusSucceeded, Result: json.RawMessage(agentInventory)}}
	}
	return succeed(cmd)
}

func ports(t *testing.T, st *store.Store, uuid string) []string {
	t.Helper()
	ps, err := st.ListPorts(context.Background(), store.ListPorts{NodeUUID: uuid})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		mark := ""
		if p.PXEEnabled {
			mark = "*"
		}
		out = append(out, p.Address+mark)
	}
	slices.Sort(out)
	return out
}

func TestInspectOutOfBand(t *testing.T) {
	t.Parallel()
	env := newEnv(t, nil)
	n := createNode(t, env.st, nodeSpec{state: node.Manageable})
	env.ExecuteWorkflow(contract.InspectName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbInspect,
		From: node.Manageable})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	got := mustNode(t, env.st, n.UUID)
	if got.ProvisionState != node.Manageable || got.InspectionFinishedAt == nil || got.InspectionStartedAt == nil {
		t.Fatalf("node %q, inspection %v..%v", got.ProvisionState, got.InspectionStartedAt, got.InspectionFinishedAt)
	}
	var props map[string]any
	_ = json.Unmarshal(got.Properties, &props)
	if props["cpus"] != float64(8) || props["memory_mb"] != float64(16384) || props["local_gb"] != float64(99) ||
		props["cpu_arch"] != "x86_64" || props["capabilities"] != "boot_mode:uefi" {
		t.Errorf("properties %v", props)
	}
	// add_ports=pxe (the default): the NIC the node booted from.
	if p := ports(t, env.st, n.UUID); len(p) != 1 || !strings.HasSuffix(p[0], "*") {
		t.Errorf("ports %q, want the PXE NIC, pxe_enabled", p)
	}
	inv, err := env.st.NodeInventory(context.Background(), n.UUID)
	if err != nil || inv.Source != "fake" || !strings.Contains(string(inv.PluginData), "pci_devices") {
		t.Errorf("stored inventory %+v, %v", inv, err)
	}
}

// TestInspectBMCOnlyInventory: an out-of-band document with what a BMC
// knows (no NICs, CPUs, memory, disks or boot mode) is stored as
// submitted, sets no property from facts it does not have, leaves the
// existing properties and ports alone and creates no port.
func TestInspectBMCOnlyInventory(t *testing.T) {
	t.Parallel()
	const doc = `{"inventory":{"bmc_address":"192.0.2.17","bmc_v6address":null,"bmc_mac":"52:54:00:ab:cd:ef",` +
		`"system_vendor":{"product_name":"SYS-1029P","serial_number":"PSN-4711","manufacturer":"Supermicro",` +
		`"firmware":{"vendor":"","version":"","build_date":""}},"hostname":""},` +
		`"plugin_data":{"boot_interface":null,"local_gb":0,"bmc":{"firmware_version":"9.08","ipmi_version":"2.0"}}}`
	env := newEnv(t, nil)
	n := createNode(t, env.st, nodeSpec{state: node.Manageable, driverInfo: `{"fake_inventory":` + doc + `}`})
	ctx := context.Background()
	n.Properties = json.RawMessage(`{"cpus":4,"memory_mb":1024,"capabilities":"boot_mode:bios"}`)
	if _, err := env.st.UpdateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := env.st.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:09", NodeUUID: n.UUID, PXEEnabled: true,
		Extra: json.RawMessage(`{}`), LocalLinkConnection: json.RawMessage(`{}`),
		InternalInfo: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	env.ExecuteWorkflow(contract.InspectName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbInspect,
		From: node.Manageable})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	got := mustNode(t, env.st, n.UUID)
	if got.ProvisionState != node.Manageable || got.LastError != nil {
		t.Fatalf("node %q, last_error %v", got.ProvisionState, got.LastError)
	}
	var props map[string]any
	_ = json.Unmarshal(got.Properties, &props)
	if len(props) != 3 || props["cpus"] != float64(4) || props["memory_mb"] != float64(1024) ||
		props["capabilities"] != "boot_mode:bios" {
		t.Errorf("properties %v; want them untouched", props)
	}
	if p := ports(t, env.st, n.UUID); !slices.Equal(p, []string{"52:54:00:00:00:09*"}) {
		t.Errorf("ports %q; want the existing one only, still pxe_enabled", p)
	}
	inv, err := env.st.NodeInventory(ctx, n.UUID)
	var stored map[string]any
	if err == nil {
		err = json.Unmarshal(inv.Inventory, &stored)
	}
	vendor, _ := stored["system_vendor"].(map[string]any)
	if err != nil || inv.Source != "fake" || vendor["serial_number"] != "PSN-4711" || stored["interfaces"] != nil ||
		stored["cpu"] != nil {
		t.Errorf("stored inventory %s, %v", inv.Inventory, err)
	}
}

func TestInspectFailure(t *testing.T) {
	t.Parallel()
	env := newEnv(t, nil)
	n := createNode(t, env.st, nodeSpec{state: node.Manageable, driverInfo: `{"fake_fail":["inspect"]}`})
	env.ExecuteWorkflow(contract.InspectName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbInspect,
		From: node.Manageable})
	got := mustNode(t, env.st, n.UUID)
	if env.GetWorkflowError() == nil || got.ProvisionState != node.InspectFail || got.LastError == nil ||
		!strings.Contains(*got.LastError, "inspect") {
		t.Fatalf("node %q last_error %v", got.ProvisionState, got.LastError)
	}
	// inspect failed -> inspect again is allowed and works.
	b, _ := json.Marshal(map[string]any{})
	got.DriverInfo = b
	if _, err := env.st.UpdateNode(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	env2 := newEnvOn(t, env)
	env2.ExecuteWorkflow(contract.InspectName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbInspect,
		From: node.InspectFail})
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := mustNode(t, env.st, n.UUID); got.ProvisionState != node.Manageable || got.LastError != nil {
		t.Errorf("re-inspection: %q %v", got.ProvisionState, got.LastError)
	}
}

func TestInspectInBand(t *testing.T) {
	for _, tt := range []struct {
		name    string
		signal  string
		posted  string // plugin_data posted ("" = agentCallbackPluginData)
		timeout int
		want    node.ProvisionState
		wantErr string
	}{
		{name: "agent posts its inventory", signal: contract.SignalInspectionData, want: node.Manageable},
		{name: "ramdisk reports an error", signal: contract.SignalInspectionData, posted: `{"error":"disk on fire"}`,
			want: node.InspectFail, wantErr: "failed to run inspection hooks: Ramdisk reported error: disk on fire"},
		{name: "abort in inspect wait", signal: contract.SignalAbort, want: node.InspectFail, wantErr: "aborted"},
		{name: "agent never calls back", timeout: 300, want: node.InspectFail, wantErr: "timeout reached"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, inspectScript)
			n := inBandNode(t, env)
			runInBandInspection(t, env, n.UUID, tt.signal, tt.posted, tt.timeout)
			got := mustNode(t, env.st, n.UUID)
			if got.ProvisionState != tt.want || got.TargetProvisionState != node.NoState {
				t.Fatalf("node %q (target %q), want %q; err %v", got.ProvisionState, got.TargetProvisionState, tt.want,
					env.GetWorkflowError())
			}
			if got.PowerState != node.PowerOff || env.agents.open(n.UUID) {
				t.Errorf("power %q session open %v after inspection", got.PowerState, env.agents.open(n.UUID))
			}
			if tt.wantErr != "" {
				if got.LastError == nil || !strings.Contains(*got.LastError, tt.wantErr) {
					t.Errorf("last_error %v, want %q", got.LastError, tt.wantErr)
				}
				return
			}
			if p := ports(t, env.st, n.UUID); !slices.Equal(p, []string{"52:54:00:12:34:56*"}) {
				t.Errorf("ports %q", p)
			}
			inv, err := env.st.NodeInventory(context.Background(), n.UUID)
			if err != nil || inv.Source != "agent" || string(inv.Inventory) != agentCallbackInventory {
				t.Errorf("inventory %s (%v)", inv.Inventory, err)
			}
			// Ironic's validate-interfaces hook: plugin_data gains
			// all_interfaces, valid_interfaces and macs; logs are dropped.
			const wantPD = `{"root_disk":null,"error":null,"all_interfaces":{` +
				`"ens3":{"name":"ens3","mac_address":"52:54:00:12:34:56","ipv4_address":"10.0.2.15","has_carrier":true,"pxe_enabled":true,"ipv6_address":null},` +
				`"ens4":{"name":"ens4","mac_address":"52:54:00:12:34:57","ipv4_address":null,"has_carrier":false,"pxe_enabled":false,"ipv6_address":null},` +
				`"lo":{"name":"lo","mac_address":"00:00:00:00:00:00","ipv4_address":"127.0.0.1","pxe_enabled":false,"ipv6_address":null}},` +
				`"valid_interfaces":{` +
				`"ens3":{"name":"ens3","mac_address":"52:54:00:12:34:56","ipv4_address":"10.0.2.15","has_carrier":true,"pxe_enabled":true,"ipv6_address":null}},` +
				`"macs":["52:54:00:12:34:56"]}`
			if string(inv.PluginData) != wantPD {
				t.Errorf("plugin_data\n%s\nwant\n%s", inv.PluginData, wantPD)
			}
			if d, err := env.st.InspectionData(context.Background(), n.UUID); err != nil || d.AppliedAt == nil {
				t.Errorf("posted data not marked applied: %v, %v", d.AppliedAt, err)
			}
			var props map[string]any
			_ = json.Unmarshal(got.Properties, &props)
			if props["cpus"] != float64(2) || props["memory_mb"] != float64(512) || props["local_gb"] != float64(9) ||
				props["capabilities"] != "boot_mode:bios" {
				t.Errorf("properties %v", props)
			}
		})
	}
}

// runInBandInspection runs an in-band inspection of node uuid (inspect
// interface agent) to its end. signal is what arrives in inspect wait
// (SignalInspectionData: the ramdisk posted agentCallbackInventory and
// posted, or agentCallbackPluginData when posted is ""; SignalAbort; ""
// for nothing, with timeout as the agent timeout).
func runInBandInspection(t *testing.T, env *testEnv, uuid, signal, posted string, timeout int) {
	t.Helper()
	if signal != "" {
		env.RegisterDelayedCallback(func() {
			if got := mustNode(t, env.st, uuid); got.ProvisionState != node.InspectWait || !env.agents.open(uuid) {
				t.Errorf("before the agent: %q, session open %v", got.ProvisionState, env.agents.open(uuid))
			}
			if signal == contract.SignalInspectionData {
				// What POST /v1/continue_inspection does: the data in the
				// store, then the signal. A heartbeat's agent-ready before
				// it changes nothing.
				env.SignalWorkflow(contract.SignalAgentReady, nil)
				if posted == "" {
					posted = agentCallbackPluginData
				}
				if err := env.st.SubmitInspectionData(context.Background(), uuid,
					[]byte(agentCallbackInventory), []byte(posted)); err != nil {
					t.Error(err)
				}
			}
			env.SignalWorkflow(signal, nil)
		}, time.Minute)
	}
	env.ExecuteWorkflow(contract.InspectName, contract.ProvisionInput{NodeUUID: uuid, Verb: node.VerbInspect,
		From: node.Manageable, AgentTimeoutSeconds: timeout, Revision: contract.CurrentRevision})
}

// inBandNode creates a manageable node whose inspect interface is agent.
func inBandNode(t *testing.T, env *testEnv) store.Node {
	t.Helper()
	n := createNode(t, env.st, nodeSpec{state: node.Manageable})
	n.Interfaces.Inspect = "agent"
	n, err := env.st.UpdateNode(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInspectionRules: the stored inspection rules of phase main run over
// the posted data once the hooks changed the node (properties, ports), and
// what they change is written together; a failing rule fails the
// inspection with Ironic's message and writes nothing of any rule.
func TestInspectionRules(t *testing.T) {
	const portUUID = "5d2c7e0a-8a43-4c3b-9a59-1f3f0b7e6a01"
	rule := func(priority int32, phase, conditions, actions string) store.InspectionRule {
		return store.InspectionRule{Priority: priority, Phase: &phase, Conditions: json.RawMessage(conditions),
			Actions: json.RawMessage(actions)}
	}
	setAll := rule(50, "main", `[{"op":"matches","args":{"value":"{inventory[cpu][architecture]}","regex":"x86.*"}}]`, `[
		{"op":"set-attribute","args":{"path":"/extra/arch","value":"{inventory[cpu][architecture]}"}},
		{"op":"set-attribute","args":["resource_class","baremetal-{node.properties[cpus]}cpu"]},
		{"op":"add-trait","args":["CUSTOM_INSPECTED"]},
		{"op":"set-capability","args":{"name":"rack","value":"r1"}},
		{"op":"set-port-attribute","args":{"port_id":"`+portUUID+`","path":"physical_network","value":"{inventory[interfaces][0][name]}"}},
		{"op":"set-plugin-data","args":{"path":"ferric.seen","value":true}}]`)
	unmet := rule(40, "main", `[{"op":"matches","args":{"value":"{inventory[cpu][architecture]}","regex":"aarch64"}}]`,
		`[{"op":"add-trait","args":["CUSTOM_ARM"]}]`)
	otherPhase := rule(30, "later", `[]`, `[{"op":"add-trait","args":["CUSTOM_LATER"]}]`)
	fail := rule(10, "main", `[]`, `[{"op":"fail","args":["not this one"]}]`)
	badPort := rule(10, "main", `[]`, `[{"op":"set-port-attribute","args":{"port_id":"`+portUUID+
		`","path":"pxe_enabled","value":"yes"}}]`)
	for _, tt := range []struct {
		name    string
		rules   []store.InspectionRule
		want    node.ProvisionState
		wantErr string
	}{
		{name: "rules change the node, a port and plugin data", rules: []store.InspectionRule{setAll, unmet, otherPhase},
			want: node.Manageable},
		{name: "a failing rule writes nothing", rules: []store.InspectionRule{setAll, fail}, want: node.InspectFail,
			wantErr: "Failed to finish inspection: Failed to inspect hardware. Reason: not this one"},
		// The node's changes are written before the ports': a port value its
		// field cannot take rolls them back.
		{name: "a port value of the wrong type writes nothing", rules: []store.InspectionRule{setAll, badPort},
			want: node.InspectFail, wantErr: "Failed to finish inspection: Failed to apply inspection rules to port " +
				portUUID + ": field pxe_enabled must be a bool"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, inspectScript)
			ctx := context.Background()
			n := inBandNode(t, env)
			if _, err := env.st.CreatePort(ctx, store.Port{UUID: portUUID, Address: "52:54:00:12:34:56",
				NodeUUID: n.UUID, Extra: json.RawMessage(`{}`), LocalLinkConnection: json.RawMessage(`{}`),
				InternalInfo: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.rules {
				if _, err := env.st.CreateInspectionRule(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			runInBandInspection(t, env, n.UUID, contract.SignalInspectionData, "", 0)
			got := mustNode(t, env.st, n.UUID)
			if got.ProvisionState != tt.want {
				t.Fatalf("node %q, want %q; last_error %v", got.ProvisionState, tt.want, got.LastError)
			}
			ps, err := env.st.ListPorts(ctx, store.ListPorts{NodeUUID: n.UUID})
			if err != nil || len(ps) != 1 {
				t.Fatalf("ports %+v (%v)", ps, err)
			}
			inv, err := env.st.NodeInventory(ctx, n.UUID)
			if err != nil {
				t.Fatal(err)
			}
			var pd, props map[string]any
			if err := json.Unmarshal(inv.PluginData, &pd); err != nil {
				t.Fatalf("plugin_data %s: %v", inv.PluginData, err)
			}
			if err := json.Unmarshal(got.Properties, &props); err != nil {
				t.Fatalf("properties %s: %v", got.Properties, err)
			}
			if tt.wantErr != "" {
				if got.LastError == nil || *got.LastError != tt.wantErr {
					t.Errorf("last_error %q, want %q", deref(got.LastError), tt.wantErr)
				}
				if string(got.Extra) != `{}` || got.ResourceClass != nil || len(got.Traits) != 0 ||
					ps[0].PhysicalNetwork != nil || pd["ferric"] != nil || props["capabilities"] != "boot_mode:bios" {
					t.Errorf("a failed rule run wrote: extra %s resource_class %v traits %v physnet %v plugin_data %s "+
						"properties %s", got.Extra, got.ResourceClass, got.Traits, ps[0].PhysicalNetwork,
						inv.PluginData, got.Properties)
				}
				return
			}
			if string(got.Extra) != `{"arch": "x86_64"}` && string(got.Extra) != `{"arch":"x86_64"}` {
				t.Errorf("extra %s", got.Extra)
			}
			if got.ResourceClass == nil || *got.ResourceClass != "baremetal-2cpu" {
				t.Errorf("resource_class %v", got.ResourceClass)
			}
			if !slices.Equal(got.Traits, []string{"CUSTOM_INSPECTED"}) {
				t.Errorf("traits %v", got.Traits)
			}
			if props["capabilities"] != "boot_mode:bios,rack:r1" || props["cpus"] != float64(2) {
				t.Errorf("properties %s", got.Properties)
			}
			if ps[0].PhysicalNetwork == nil || *ps[0].PhysicalNetwork != "ens3" || !ps[0].PXEEnabled {
				t.Errorf("port %+v", ps[0])
			}
			if seen, _ := pd["ferric"].(map[string]any); seen["seen"] != true || pd["valid_interfaces"] == nil {
				t.Errorf("plugin_data %s", inv.PluginData)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestInspectionDataRetried: processing posted inspection data and applying
// it are each safe to run again, as Temporal retries an activity whose
// completion a crash lost: the data stays until it is applied, and the
// second run of either finds what it needs and changes nothing more (an
// inspection rule that extends a list applies once; what a rule set is not
// undone).
func TestInspectionDataRetried(t *testing.T) {
	t.Parallel()
	env := newEnv(t, nil)
	ctx := context.Background()
	n := createNode(t, env.st, nodeSpec{state: node.InspectWait})
	if err := env.st.SubmitInspectionData(ctx, n.UUID, []byte(agentCallbackInventory),
		[]byte(agentCallbackPluginData)); err != nil {
		t.Fatal(err)
	}
	phase := "main"
	if _, err := env.st.CreateInspectionRule(ctx, store.InspectionRule{Priority: 10, Phase: &phase,
		Conditions: json.RawMessage(`[]`),
		Actions: json.RawMessage(`[{"op":"extend-attribute","args":{"path":"/extra/seen","value":"once"}},` +
			`{"op":"set-attribute","args":{"path":"/properties/cpu_arch","value":"ruled"}}]`)}); err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{Nodes: env.st, Inspection: env.st, InspectAddPorts: "pxe"}
	var stored []string
	for attempt := range 2 {
		if err := acts.ProcessInspectionData(ctx, n.UUID); err != nil {
			t.Fatalf("process, attempt %d: %v", attempt+1, err)
		}
		inv, err := env.st.NodeInventory(ctx, n.UUID)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, string(inv.Inventory)+string(inv.PluginData))
	}
	if stored[0] != stored[1] {
		t.Errorf("a second processing stored something else:\n%s\n%s", stored[0], stored[1])
	}
	for attempt := range 2 {
		applied, err := acts.ApplyInspection(ctx, activities.ApplyInspectionInput{UUID: n.UUID, Hooks: true})
		if err != nil {
			t.Fatalf("apply, attempt %d: %v", attempt+1, err)
		}
		if attempt == 1 && len(applied.PortsCreated) != 0 {
			t.Errorf("a second apply created ports %v", applied.PortsCreated)
		}
	}
	if d, err := env.st.InspectionData(ctx, n.UUID); err != nil || d.AppliedAt == nil {
		t.Errorf("posted data not marked applied: %v, %v", d.AppliedAt, err)
	}
	got := mustNode(t, env.st, n.UUID)
	if string(got.Extra) != `{"seen": ["once"]}` && string(got.Extra) != `{"seen":["once"]}` {
		t.Errorf("extra %s: the rule's extend-attribute must apply once", got.Extra)
	}
	var props map[string]any
	if err := json.Unmarshal(got.Properties, &props); err != nil || props["cpu_arch"] != "ruled" {
		t.Errorf("properties %s: a retry must not undo what a rule set", got.Properties)
	}
	// Posted data the API removed (it could not hand it over) is not
	// taken as applied.
	if err := env.st.DeleteInspectionData(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := acts.ApplyInspection(ctx, activities.ApplyInspectionInput{UUID: n.UUID, Hooks: true}); err == nil ||
		!strings.Contains(err.Error(), "no inspection data is pending") {
		t.Errorf("apply without posted data: %v", err)
	}
	ports, err := env.st.ListPorts(ctx, store.ListPorts{NodeUUID: n.UUID})
	if err != nil || len(ports) != 1 || ports[0].Address != "52:54:00:12:34:56" {
		t.Errorf("ports %+v, %v; want the PXE NIC's once", ports, err)
	}
}
