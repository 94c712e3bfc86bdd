package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/noauth"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestGophercloudClient drives the API with gophercloud's bare metal client
// (what Metal3 uses) over a real loopback socket.
func TestGophercloudClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.wf.result = func(name string, _ any) (any, error) {
		if name == contract.ManagementName {
			return contract.ManagementResult{BootDevice: "pxe"}, nil
		}
		return nil, nil
	}
	client, err := noauth.NewBareMetalNoAuth(noauth.EndpointOpts{IronicEndpoint: listen(t, e) + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	client.Microversion = "1.81"
	ctx := context.Background()

	var uuids []string
	for _, name := range []string{"gc-0", "gc-1", "gc-2"} {
		n, err := nodes.Create(ctx, client, nodes.CreateOpts{
			Name: name, Driver: "fake-hardware", BootInterface: "fake", NetworkInterface: "noop",
			DriverInfo: map[string]any{"fake_password": "pw"}, Properties: map[string]any{"cpus": 8},
		}).Extract()
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if n.ProvisionState != string(nodes.Enroll) || n.DriverInfo["fake_password"] != "******" || n.Properties["cpus"] != float64(8) {
			t.Errorf("created node = %+v", n)
		}
		uuids = append(uuids, n.UUID)
	}

	var listed []nodes.Node
	err = nodes.List(client, nodes.ListOpts{Fields: []string{"uuid", "name", "provision_state"}, Limit: 2}).
		EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
			ns, err := nodes.ExtractNodes(p)
			listed = append(listed, ns...)
			return true, err
		})
	// gophercloud looks for Nova's "nodes_links", not Ironic's "next", so
	// against Ironic and ferric alike it reads the first page only.
	if err != nil || len(listed) != 2 || listed[0].Name != "gc-0" {
		t.Fatalf("list = %+v, %v", listed, err)
	}

	updated, err := nodes.Update(ctx, client, "gc-0", nodes.UpdateOpts{
		nodes.UpdateOperation{Op: nodes.AddOp, Path: "/instance_info/image_source", Value: "http://img"},
		nodes.UpdateOperation{Op: nodes.ReplaceOp, Path: "/automated_clean", Value: false},
	}).Extract()
	if err != nil || updated.InstanceInfo["image_source"] != "http://img" || updated.AutomatedClean == nil || *updated.AutomatedClean {
		t.Errorf("update = %+v, %v", updated, err)
	}

	if err := nodes.ChangeProvisionState(ctx, client, uuids[0], nodes.ProvisionStateOpts{Target: nodes.TargetManage}).ExtractErr(); err != nil {
		t.Errorf("manage: %v", err)
	}
	if got := e.wf.last(); got.name != contract.ManageName {
		t.Errorf("started %q", got.name)
	}
	e.wf.running[contract.WorkflowID(uuids[0])] = true
	err = nodes.ChangePowerState(ctx, client, uuids[0], nodes.PowerStateOpts{Target: nodes.PowerOff}).ExtractErr()
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Errorf("power while locked: %v, want 409", err)
	}

	v, err := nodes.Validate(ctx, client, uuids[1]).Extract()
	if err != nil || !v.Power.Result || !v.Deploy.Result {
		t.Errorf("validate = %+v, %v", v, err)
	}
	bd, err := nodes.GetBootDevice(ctx, client, uuids[1]).Extract()
	if err != nil || bd.BootDevice != "pxe" {
		t.Errorf("boot device = %+v, %v", bd, err)
	}
	if err := nodes.SetMaintenance(ctx, client, uuids[1], nodes.MaintenanceOpts{Reason: "fan"}).ExtractErr(); err != nil {
		t.Errorf("maintenance: %v", err)
	}
	if n, _ := nodes.Get(ctx, client, uuids[1]).Extract(); n == nil || !n.Maintenance || n.MaintenanceReason != "fan" {
		t.Errorf("after maintenance: %+v", n)
	}

	p, err := ports.Create(ctx, client, ports.CreateOpts{NodeUUID: uuids[1], Address: "52:54:00:00:00:01"}).Extract()
	if err != nil || !p.PXEEnabled {
		t.Fatalf("port create = %+v, %v", p, err)
	}
	all, err := ports.ListDetail(client, ports.ListOpts{NodeUUID: uuids[1]}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps, _ := ports.ExtractPorts(all); len(ps) != 1 || ps[0].Address != "52:54:00:00:00:01" {
		t.Errorf("ports = %+v", ps)
	}

	methods, err := nodes.ListVendorPassthruMethods(ctx, client, uuids[2]).Extract()
	if err != nil || !methods["second_method"].Async {
		t.Errorf("vendor methods = %+v, %v", methods, err)
	}

	e.moveTo(uuids[2], node.Active, node.NoState)
	err = nodes.Delete(ctx, client, uuids[2]).ExtractErr()
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Errorf("delete active: %v, want 409", err)
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		var doc map[string]string
		if json.Unmarshal(ue.Body, &doc) != nil || doc["error_message"] == "" {
			t.Errorf("409 body = %s", ue.Body)
		}
	}
	if err := nodes.Delete(ctx, client, uuids[1]).ExtractErr(); err != nil {
		t.Errorf("delete enroll node: %v", err)
	}
}
