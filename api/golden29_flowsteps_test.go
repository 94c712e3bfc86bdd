package api

import (
	"encoding/json"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// flowNodeUUID is the node of the flowsteps_* captures: a fake-hardware
// node named flowsteps-node with an image in instance_info.
const flowNodeUUID = "f10e5bc0-7a1e-4b7e-9a5e-5e7c1ce5f001"

func seedFlowNode(state node.ProvisionState) func(*testEnv) {
	return func(e *testEnv) {
		n := sampleNode()
		n.UUID, n.Name = flowNodeUUID, strp("flowsteps-node")
		n.ProvisionState, n.PowerState = state, node.PowerOn
		n.InstanceInfo = json.RawMessage(`{"image_source":"http://x/y.img"}`)
		n.ServiceStep = json.RawMessage(`{}`)
		e.put(n)
	}
}

// TestGolden29FlowSteps replays Ironic 29's answers to requests naming the
// conductor-level flow steps (power_on, power_off, reboot, wait) under any
// interface of the steps schema: accepted for servicing (1.87), manual
// cleaning (also at 1.84: Ironic 29 gates them on no version) and
// deploying (svc_service_bad_iface.txt has the schema's refusal).
func TestGolden29FlowSteps(t *testing.T) {
	t.Parallel()
	runGolden29(t, []goldenCase{
		{file: "flowsteps_service_reboot.txt", seed: seedFlowNode(node.Active),
			check: wantVerb(flowNodeUUID, contract.ServiceName, node.VerbService)},
		{file: "flowsteps_service_wait_power.txt", seed: seedFlowNode(node.Active),
			check: wantVerb(flowNodeUUID, contract.ServiceName, node.VerbService)},
		{file: "flowsteps_clean_flow.txt", seed: seedFlowNode(node.Manageable),
			check: wantVerb(flowNodeUUID, contract.CleanName, node.VerbClean)},
		{file: "flowsteps_clean_reboot_1_84.txt", seed: seedFlowNode(node.Manageable),
			check: wantVerb(flowNodeUUID, contract.CleanName, node.VerbClean)},
		{file: "flowsteps_deploy_reboot.txt", seed: seedFlowNode(node.Available),
			check: wantVerb(flowNodeUUID, contract.DeployName, node.VerbActive)},
	})
}
