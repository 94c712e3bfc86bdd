package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
)

// TestAdoptRescueRetire drives the verbs Metal3 and operators use beyond
// deploy through gophercloud against the whole stack: adopt an externally
// deployed node, rescue it (the password stays out of Temporal), unrescue
// it, retire it and undeploy it (it ends in manageable).
func TestAdoptRescueRetire(t *testing.T) {
	s := startStack(t, "all")
	ctx := context.Background()
	n := createNode(t, s, "adoptee", map[string]any{})
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: "http://example.invalid/os.raw"},
	}).Extract(); err != nil {
		t.Fatal(err)
	}
	s.provisionAs(t, n.UUID, nodes.TargetAdopt, nodes.Active, "adopt-node-r1")

	const password = "correct-horse-battery"
	err := nodes.ChangeProvisionState(ctx, s.client, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetRescue}).ExtractErr()
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "rescue_password") {
		t.Errorf("rescue without a password: %v, want 400", err)
	}
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetRescue,
		RescuePassword: password}).ExtractErr(); err != nil {
		t.Fatalf("rescue: %v", err)
	}
	got := s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool { return n.ProvisionState == "rescue" })
	if got.InstanceInfo["rescue_password"] != "******" || got.InstanceInfo["hashed_rescue_password"] != "******" {
		t.Errorf("instance_info of a rescued node = %v, want the password masked", got.InstanceInfo)
	}
	s.settleAs(t, n.UUID, "rescue-node-r1")
	c := s.temporal.GetDefaultClient()
	it := c.GetWorkflowHistory(ctx, "node/"+n.UUID, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if historyHolds(t, ev, password) {
			t.Fatalf("rescue history event %d holds the rescue password", ev.GetEventId())
		}
	}
	if raw, err := s.st.Node(ctx, n.UUID); err != nil || !strings.Contains(string(raw.InstanceInfo), `"$6$`) {
		t.Errorf("stored instance_info %s, %v: want the password's SHA-512 crypt", raw.InstanceInfo, err)
	}

	s.provisionAs(t, n.UUID, nodes.TargetUnrescue, nodes.Active, "unrescue-node-r1")

	// Retired: refused on an available node, and an undeployed retired
	// node ends in manageable.
	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.ReplaceOp, Path: "/retired", Value: true},
	}).Extract(); err != nil {
		t.Fatalf("retire: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetDeleted, nodes.Manageable)
	err = nodes.ChangeProvisionState(ctx, s.client, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetProvide}).ExtractErr()
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "because it is retired") {
		t.Errorf("provide a retired node: %v, want 400", err)
	}
	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.ReplaceOp, Path: "/retired", Value: false},
	}).Extract(); err != nil {
		t.Fatalf("unretire: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available)
	_, err = nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.ReplaceOp, Path: "/retired", Value: true},
	}).Extract()
	if statusOf(err) != http.StatusConflict {
		t.Errorf("retire an available node: %v, want 409", err)
	}
}
