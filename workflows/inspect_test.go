package workflows_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

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
		timeout int
		want    node.ProvisionState
		wantErr string
	}{
		{name: "agent inspects", signal: contract.SignalAgentReady, want: node.Manageable},
		{name: "abort in inspect wait", signal: contract.SignalAbort, want: node.InspectFail, wantErr: "aborted"},
		{name: "agent never calls back", timeout: 300, want: node.InspectFail, wantErr: "timeout reached"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, inspectScript)
			n := createNode(t, env.st, nodeSpec{state: node.Manageable})
			n.Interfaces.Inspect = "agent"
			if _, err := env.st.UpdateNode(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			if tt.signal != "" {
				env.RegisterDelayedCallback(func() {
					if got := mustNode(t, env.st, n.UUID); got.ProvisionState != node.InspectWait || !env.agents.open(n.UUID) {
						t.Errorf("before the agent: %q, session open %v", got.ProvisionState, env.agents.open(n.UUID))
					}
					env.SignalWorkflow(tt.signal, nil)
				}, time.Minute)
			}
			env.ExecuteWorkflow(contract.InspectName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbInspect,
				From: node.Manageable, AgentTimeoutSeconds: tt.timeout})
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
			if err != nil || inv.Source != "agent" || !strings.HasPrefix(string(inv.Inventory), `{"interfaces":[`) {
				t.Errorf("inventory %s (%v)", inv.Inventory, err)
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
