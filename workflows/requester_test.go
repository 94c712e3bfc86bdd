package workflows_test

import (
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestRequesterInHistory checks that who asked for an operation is on every
// history entry the run writes: provisioning transitions and power events.
func TestRequesterInHistory(t *testing.T) {
	t.Parallel()
	by := contract.Requester{User: "u-42", Project: "p-7"}
	env := newEnv(t, nil)
	n := createNode(t, env.st, nodeSpec{state: node.Enroll})
	env.ExecuteWorkflow(contract.ManageName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbManage,
		From: node.Enroll, RequestedBy: by})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	env = newEnvOn(t, env)
	env.ExecuteWorkflow(contract.PowerName, contract.PowerInput{NodeUUID: n.UUID, Target: node.PowerOn,
		Reason: "requested", RequestedBy: by})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	events, err := env.st.NodeEvents(t.Context(), n.UUID)
	if err != nil || len(events) < 3 {
		t.Fatalf("events = %+v, %v", events, err)
	}
	for _, e := range events {
		if e.User == nil || *e.User != by.User || e.Project == nil || *e.Project != by.Project {
			t.Errorf("event %q (%s) user %v project %v, want %+v", e.Event, e.EventType, e.User, e.Project, by)
		}
	}
}
