package main

import (
	"context"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
)

// TestServicingWithGophercloud services a deployed fake node through the
// real stack with gophercloud's service verb (API 1.87): a step, a hold
// (the node waits in service hold, no operation lost), the unhold verb
// (1.85), the next step, back to active. The service-node history is
// recorded for the replay tests.
func TestServicingWithGophercloud(t *testing.T) {
	s := startStack(t, "all")
	ctx := context.Background()
	n := createNode(t, s, "svc-0", map[string]any{"fake_power_delay": "1ms"})
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, n.UUID, nodes.TargetProvide, nodes.Available)
	if _, err := nodes.Update(ctx, s.client, n.UUID, nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: "http://example.invalid/img.raw"},
	}).Extract(); err != nil {
		t.Fatalf("patch instance_info: %v", err)
	}
	s.provision(t, n.UUID, nodes.TargetActive, nodes.Active)

	c := *s.client
	c.Microversion = "1.87"
	log := nodes.ServiceStep{Interface: "vendor", Step: "log_passthrough"}
	if err := nodes.ChangeProvisionState(ctx, &c, n.UUID, nodes.ProvisionStateOpts{Target: nodes.TargetService,
		ServiceSteps: []nodes.ServiceStep{log, {Interface: nodes.InterfacePower, Step: "hold"}, log}}).ExtractErr(); err != nil {
		t.Fatalf("service: %v", err)
	}
	s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == "service hold" && n.TargetProvisionState == "active"
	})
	if err := nodes.ChangeProvisionState(ctx, &c, n.UUID, nodes.ProvisionStateOpts{
		Target: nodes.TargetUnhold}).ExtractErr(); err != nil {
		t.Fatalf("unhold: %v", err)
	}
	got := s.waitFor(t, n.UUID, 30*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == "active" && n.TargetProvisionState == ""
	})
	if got.LastError != "" {
		t.Errorf("last_error %q", got.LastError)
	}
	s.settleAs(t, n.UUID, "service-node-r1")
}
