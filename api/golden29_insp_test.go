package api

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// The nodes of the continue_inspection captures: one found by its BMC
// address (no ports), one by the MAC of its port.
const (
	inspBMCUUID  = "6a1c0e3e-1f9b-4d8e-9a51-3b0c7d2e5f10"
	inspMACUUID  = "7b2d1f4f-2a0c-4e9f-8b62-4c1d8e3f6a21"
	inspPortUUID = "8c3e2a5a-3b1d-4fa0-9c73-5d2e9f4a7b32"
	inspPortMAC  = "52:54:00:aa:cc:01"
)

// seedInspectWait puts a node waiting for its inspection data as Ironic
// had it when the capture was taken: inspect wait, a workflow running, a
// ramdisk session open (ferric's PrepareRamdiskBoot) without a token.
func seedInspectWait(uuid string, state node.ProvisionState, mut func(*store.Node)) func(*testEnv) {
	return func(e *testEnv) {
		n := sampleNode()
		n.UUID, n.Name = uuid, strp("insp-"+uuid[:4])
		n.ProvisionState, n.TargetProvisionState = state, node.Manageable
		if state != node.InspectWait {
			n.TargetProvisionState = node.NoState
		}
		n.Properties = json.RawMessage(`{}`)
		n.Interfaces.Inspect = "agent"
		if mut != nil {
			mut(&n)
		}
		e.put(n)
		e.wf.running[contract.WorkflowID(uuid)] = true
		if err := e.st.OpenAgentSession(context.Background(), uuid); err != nil {
			e.t.Fatal(err)
		}
	}
}

func seedInspectByMAC(state node.ProvisionState) func(*testEnv) {
	return func(e *testEnv) {
		seedInspectWait(inspMACUUID, state, func(n *store.Node) {
			n.DriverInternalInfo = json.RawMessage(
				`{"inspector_manage_boot": false, "last_power_state_change": "2026-12-03T18:37:15.786604"}`)
		})(e)
		e.putPort(store.Port{UUID: inspPortUUID, Address: inspPortMAC, NodeUUID: inspMACUUID,
			Extra: json.RawMessage(`{}`), LocalLinkConnection: json.RawMessage(`{}`), InternalInfo: json.RawMessage(`{}`)})
	}
}

// wantInspectionData checks what the API kept for the workflow and that it
// signalled it.
func wantInspectionData(uuid, inventoryPrefix, pluginData string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		d, err := e.st.InspectionData(context.Background(), uuid)
		if err != nil {
			t.Fatalf("no inspection data kept: %v", err)
		}
		if !strings.HasPrefix(string(d.Inventory), inventoryPrefix) || string(d.PluginData) != pluginData {
			t.Errorf("kept inventory %s plugin_data %s", d.Inventory, d.PluginData)
		}
		if want := contract.WorkflowID(uuid) + " " + contract.SignalInspectionData; !slices.Contains(e.wf.signals, want) {
			t.Errorf("signals %v, want %q", e.wf.signals, want)
		}
	}
}

// TestGolden29Inspection replays Ironic 29's answers to POST
// /v1/continue_inspection: the unversioned call ironic-python-agent makes
// (202 {"uuid"}), 1.84's lookup document with the token, the 1.83 gate,
// lookup failures and Ironic's schema errors.
func TestGolden29Inspection(t *testing.T) {
	t.Parallel()
	runGolden29(t, []goldenCase{
		// Found by its BMC address (ports none), as IPA posts it.
		{file: "insp_nover_bmc.txt", seed: seedInspectWait(inspBMCUUID, node.InspectWait, func(n *store.Node) {
			n.DriverInfo = json.RawMessage(`{"ipmi_address": "192.0.2.77"}`)
		}), check: wantInspectionData(inspBMCUUID, `{"interfaces":[{"name":"eth0","mac_address":"52:54:00:AA:BB:01"`,
			`{"error":null,"root_disk":null}`)},
		// 1.84: found by a port's MAC; the answer is the lookup document
		// with a fresh token (random: the agent configuration is checked by
		// TestContinueInspectionToken).
		{file: "insp_184_mac.txt", seed: seedInspectByMAC(node.InspectWait), ignore: []string{"config"},
			check: func(t *testing.T, e *testEnv) {
				wantInspectionData(inspMACUUID, `{"interfaces":[`, `{"error":null}`)(t, e)
				sess, err := e.st.AgentSession(context.Background(), inspMACUUID)
				if err != nil || sess.TokenHash == "" {
					t.Errorf("no token issued: %+v %v", sess, err)
				}
			}},
		{file: "insp_184_wrong_state.txt", seed: seedInspectByMAC(node.InspectFail)},
		{file: "insp_184_unknown.txt"},
		{file: "insp_nover_unknown.txt"},
		{file: "insp_nover_no_ct.txt"},
		{file: "insp_gate_183.txt"},
		{file: "insp_nover_node_uuid.txt"},
		{file: "insp_184_bad_node_uuid.txt"},
		{file: "insp_nover_form.txt"},
		{file: "insp_nover_no_lookup.txt"},
		{file: "insp_184_no_interfaces.txt"},
		{file: "insp_184_no_inventory.txt"},
		{file: "insp_184_mac_type.txt"},
	})
}
