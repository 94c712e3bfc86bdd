package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestReconcilerFailsAbandonedNodes leaves nodes in busy states with no
// workflow running (as a terminated workflow, or one lost to a fault before
// the fixes of issue 7, leaves them) and one node busy under a running
// deploy: a reconciler pass fails the abandoned ones with a last_error that
// says what happened, clears an abandoned power target, and leaves the
// running operation alone.
func TestReconcilerFailsAbandonedNodes(t *testing.T) {
	t.Parallel()
	s := startStack(t, "all", func(c *config) {
		c.syncEvery, c.reconcileEvery = 0, 0 // the test runs the pass
		c.reconcileIdle = -1                 // look at every node at once
	})
	ctx := context.Background()

	abandoned := func(state node.ProvisionState, target node.ProvisionState) store.Node {
		n := createNode(t, s, "abandoned-"+strings.ReplaceAll(string(state), " ", "-"), nil)
		st, err := s.st.Transition(ctx, store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Enroll},
			To: state, Target: target})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	deploying := abandoned(node.Deploying, node.Active)
	cleanWait := abandoned(node.CleanWait, node.Available)
	// A hold keeps the ramdisk up: its agent session must close too.
	cleanHold := abandoned(node.CleanHold, node.Available)
	if err := s.st.OpenAgentSession(ctx, cleanHold.UUID); err != nil {
		t.Fatal(err)
	}
	powering := createNode(t, s, "abandoned-power", nil)
	s.provision(t, powering.UUID, nodes.TargetManage, nodes.Manageable)
	target := node.PowerOn
	if _, err := s.st.SetPower(ctx, store.PowerUpdate{UUID: powering.UUID, Target: &target}); err != nil {
		t.Fatal(err)
	}
	// A node whose deploy is running: the reconciler finds its lock held.
	busy := createNode(t, s, "busy", nil)
	s.provision(t, busy.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, busy.UUID, nodes.TargetProvide, nodes.Available)
	if _, err := nodes.Update(ctx, s.client, busy.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: "http://example.com/img.raw"},
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/driver_info/fake_deploy_delay", Value: "6s"},
	}).Extract(); err != nil {
		t.Fatal(err)
	}
	if err := nodes.ChangeProvisionState(ctx, s.client, busy.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr(); err != nil {
		t.Fatal(err)
	}

	c := s.temporal.GetDefaultClient()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reconcile-test", TaskQueue: "ferric-test"},
		contract.ReconcileName)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Candidates, Checked, Held int }
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Candidates != 5 || res.Checked != 4 || res.Held != 1 {
		t.Errorf("pass %+v; want 5 candidates, 4 checked, 1 held by its operation", res)
	}
	for _, tt := range []struct {
		n    store.Node
		want nodes.ProvisionState
	}{{deploying, nodes.DeployFail}, {cleanWait, nodes.CleanFail}, {cleanHold, nodes.CleanFail}} {
		got := s.waitFor(t, tt.n.UUID, 30*time.Second, func(n *nodes.Node) bool { return n.TargetProvisionState == "" })
		if got.ProvisionState != string(tt.want) || !strings.Contains(got.LastError, "is no longer running") {
			t.Errorf("abandoned %s: %q last_error %q; want %q and an explanation", tt.n.ProvisionState,
				got.ProvisionState, got.LastError, tt.want)
		}
		// It is usable again: not locked, a verb runs.
		s.settle(t, tt.n.UUID)
	}
	if sess, err := s.st.AgentSession(ctx, cleanHold.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed held node's agent session: %+v, %v; want it closed", sess, err)
	}
	p := s.waitFor(t, powering.UUID, 30*time.Second, func(n *nodes.Node) bool { return n.TargetPowerState == "" })
	if !strings.Contains(p.LastError, "no longer running") {
		t.Errorf("abandoned power target cleared with last_error %q", p.LastError)
	}
	s.settle(t, powering.UUID) // the recovery's run closes just after its last write
	s.power(t, powering.UUID, nodes.PowerOn, "power on")
	// The running deploy went on and finished.
	b := s.waitFor(t, busy.UUID, time.Minute, func(n *nodes.Node) bool { return n.TargetProvisionState == "" })
	if b.ProvisionState != string(nodes.Active) || b.LastError != "" {
		t.Errorf("the running deploy ended %q (last_error %q), want active", b.ProvisionState, b.LastError)
	}
}
