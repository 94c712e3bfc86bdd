package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"
)

// ipaInspectScript runs ironic-python-agent's own inspection: its
// configured collectors (default, logs) and inspector.call_inspector's
// POST to the callback URL in argv[1], exactly as the agent does at boot
// when Ironic's agent inspect interface gives it
// ipa-inspection-callback-url.
const ipaInspectScript = `
import sys
from oslo_config import cfg
from oslo_log import log
from ironic_python_agent import config, inspector
CONF = cfg.CONF
log.register_options(CONF)
CONF([], project='ironic-python-agent')
CONF.set_override('inspection_callback_url', sys.argv[1])
print(inspector.inspect())
`

// hostMACs are the MAC addresses of this machine's interfaces (the root
// shares the host's network: they are the ones the agent reports).
func hostMACs(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 || len(i.HardwareAddr) != 6 || i.HardwareAddr.String() == "00:00:00:00:00:00" {
			continue
		}
		out = append(out, i.HardwareAddr.String())
	}
	if len(out) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this machine has no interface with a MAC address for the agent to report (CI must run this test)")
		}
		t.Skip("this machine has no interface with a MAC address for the agent to report")
	}
	return out
}

// TestIronicPythonAgentInspection inspects a node in band with the real
// ironic-python-agent: the node waits in inspect wait, the agent (in the
// Debian 13 root) collects the machine's inventory with its hardware
// manager and posts it to ferric's POST /v1/continue_inspection as it
// posts to Ironic; ferric looks the node up by the port of one of its
// MACs, runs the inspection hooks and moves the node to manageable, with
// the inventory stored, ports for the interfaces and cpu_arch set.
func TestIronicPythonAgentInspection(t *testing.T) {
	dir, script := trixieRoot(t) // skips unless FERRIC_TRIXIE_ROOT is set, fails in CI without it
	macs := hostMACs(t)
	s := startStack(t, "all")
	ctx := context.Background()
	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "ipa-inspect", Driver: "fake-hardware",
		InspectInterface: "agent", BootInterface: "pxe"}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	for _, mac := range macs { // the agent reports some of them
		if _, err := ports.Create(ctx, s.client, ports.CreateOpts{NodeUUID: n.UUID, Address: mac}).Extract(); err != nil {
			t.Fatalf("create port: %v", err)
		}
	}
	// An inspection rule (API 1.96) that reads the agent's inventory.
	rc := *s.client
	rc.Microversion = "1.96"
	rule := map[string]any{"description": "ipa-inspect", "conditions": []any{
		map[string]any{"op": "!is-empty", "args": map[string]any{"value": "{inventory[interfaces]}"}}},
		"actions": []any{
			map[string]any{"op": "add-trait", "args": map[string]any{"name": "CUSTOM_IPA_INSPECTED"}},
			map[string]any{"op": "set-attribute", "args": map[string]any{"path": "/extra/arch",
				"value": "{inventory[cpu][architecture]}"}}}}
	if _, err := rc.Post(ctx, rc.ServiceURL("inspection_rules"), rule, nil,
		&gophercloud.RequestOpts{OkCodes: []int{201}}); err != nil {
		t.Fatalf("create inspection rule: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetInspect}).ExtractErr(); err != nil {
		t.Fatalf("inspect: %v", err)
	}
	s.waitFor(t, n.UUID, time.Minute, func(n *nodes.Node) bool { return n.ProvisionState == "inspect wait" })

	url := strings.TrimSuffix(s.endpoint, "/v1") + "/v1/continue_inspection"
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(rctx, script, "run", dir,
		"python3", "-c", ipaInspectScript, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ironic-python-agent inspection: %v\n%s", err, e2eTail(string(out), 4000))
	}
	if !strings.Contains(string(out), n.UUID) {
		t.Errorf("the agent did not get the node's uuid back:\n%s", e2eTail(string(out), 4000))
	}

	got := s.waitFor(t, n.UUID, 2*time.Minute, func(n *nodes.Node) bool {
		return n.ProvisionState == "manageable" || n.ProvisionState == "inspect failed"
	})
	if got.ProvisionState != "manageable" || got.LastError != "" || got.InspectionFinishedAt == nil {
		t.Fatalf("node %q (last_error %q), want manageable", got.ProvisionState, got.LastError)
	}
	arch, _ := got.Properties["cpu_arch"].(string)
	if arch == "" {
		t.Errorf("no cpu_arch in properties %v", got.Properties)
	}
	if !slices.Contains(got.Traits, "CUSTOM_IPA_INSPECTED") || got.Extra["arch"] != arch {
		t.Errorf("the inspection rule did not apply: traits %v extra %v", got.Traits, got.Extra)
	}
	// As Metal3's baremetal-operator reads it: at 1.81 (v0.11) and at 1.89,
	// its baseline since v0.12.
	c := *s.client
	var inv *nodes.InventoryData
	for _, mv := range []string{"1.81", "1.89"} {
		c.Microversion = mv
		if inv, err = nodes.GetInventory(ctx, &c, n.UUID).Extract(); err != nil {
			t.Fatalf("inventory at %s: %v", mv, err)
		}
		if inv.Inventory.CPU.Architecture != arch || inv.Inventory.CPU.Count == 0 || len(inv.Inventory.Interfaces) == 0 ||
			inv.Inventory.Memory.PhysicalMb == 0 {
			t.Errorf("inventory at %s: cpu %+v, memory %+v, %d interfaces", mv, inv.Inventory.CPU, inv.Inventory.Memory,
				len(inv.Inventory.Interfaces))
		}
	}
	pd, err := inv.PluginData.AsStandardData()
	if err != nil || len(pd.AllInterfaces) == 0 || len(pd.ValidInterfaces) == 0 || len(pd.MACs) == 0 {
		t.Errorf("plugin data (the hooks' all_interfaces, valid_interfaces, macs): %+v %v", pd, err)
	}
	// Every host MAC has its port already (the lookup needs one the agent
	// reports): inspection must find them, not add them again. Ports the
	// hooks create are TestInspectInBand's (workflows).
	pages, err := ports.List(s.client, ports.ListOpts{NodeUUID: n.UUID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ports.ExtractPorts(pages)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(macs) {
		t.Errorf("%d ports after inspection, want the %d created before", len(list), len(macs))
	}
	for _, m := range pd.MACs {
		if !slices.Contains(macs, strings.ToLower(m)) {
			t.Errorf("the agent reported MAC %s, which is not the host's (%v)", m, macs)
		}
	}
	s.settleAs(t, n.UUID, "inspect-node-agent-r2")
}
