package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/ports"

	"github.com/ferric-project/ferric/drivers/ipmi/ipmisim"
)

// TestIPMINodeThroughTheAPI drives an ipmi node whose BMC is go-ipmi's BMC
// server (a real RMCP+ peer on loopback) through the REST API: credentials
// verified by manage, power on/off and boot device reach the BMC, vendor
// passthru send_raw round-trips, out-of-band inspection (ipmitool) stores
// the BMC's FRU and LAN facts and returns the node to manageable, the
// password never shows in the API or in the workflow history, and a wrong
// password leaves the node in enroll with a last_error that says so.
func TestIPMINodeThroughTheAPI(t *testing.T) {
	s := startStack(t, "all")
	ctx := context.Background()
	const password = "bmc-pa55-never-shown"
	fru, err := types.PackFRU(types.FRUPackConfig{Product: &types.FRUPackProduct{Manufacturer: "Supermicro",
		Name: "SYS-1029P", Serial: "PSN-4711"}})
	if err != nil {
		t.Fatal(err)
	}
	bmc, err := ipmisim.Start(ctx, ipmisim.Options{Password: password, FRU: fru,
		LAN: ipmisim.LAN{IP: netip.MustParseAddr("192.0.2.17"), MAC: net.HardwareAddr{0x52, 0x54, 0, 0xab, 0xcd, 0xef}}})
	if err != nil {
		t.Fatalf("start BMC: %v", err)
	}
	t.Cleanup(func() { _ = bmc.Close() })
	var info map[string]any
	if err := json.Unmarshal(bmc.DriverInfo(nil), &info); err != nil {
		t.Fatal(err)
	}

	n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "bmc-0", Driver: "ipmi", DriverInfo: info,
		InspectInterface: "ipmitool"}).Extract()
	if err != nil {
		t.Fatalf("create ipmi node: %v", err)
	}
	if got := n.DriverInfo["ipmi_password"]; got != "******" {
		t.Errorf("ipmi_password shown as %v, want ******", got)
	}
	s.provision(t, n.UUID, nodes.TargetManage, nodes.Manageable)

	s.power(t, n.UUID, nodes.PowerOn, "power on")
	if !bmc.Chassis().On() {
		t.Error("API says power on, the BMC's chassis is off")
	}
	assertNoSecretInHistory(t, s, n.UUID, password)
	s.power(t, n.UUID, nodes.PowerOff, "power off")
	if bmc.Chassis().On() {
		t.Error("API says power off, the BMC's chassis is on")
	}

	if err := nodes.SetBootDevice(ctx, s.client, n.UUID, nodes.BootDeviceOpts{BootDevice: "pxe", Persistent: false}).ExtractErr(); err != nil {
		t.Fatalf("set boot device: %v", err)
	}
	bd, err := nodes.GetBootDevice(ctx, s.client, n.UUID).Extract()
	if err != nil || bd.BootDevice != "pxe" {
		t.Errorf("boot device = %+v, %v; want pxe", bd, err)
	}

	// Vendor passthru: Get Device ID (netfn 0x06, cmd 0x01), synchronous.
	req, _ := http.NewRequest("POST", s.endpoint+"/nodes/"+n.UUID+"/vendor_passthru?method=send_raw",
		strings.NewReader(`{"netfn": 6, "command": 1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-OpenStack-Ironic-API-Version", "latest")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "completion_code") {
		t.Errorf("send_raw: %d %s; want 200 with the BMC's reply", resp.StatusCode, body)
	}

	// Out-of-band inspection: what the BMC knows, in the same schema as an
	// agent's inventory; nothing to derive properties or ports from.
	if err := nodes.ChangeProvisionState(ctx, s.client, n.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetInspect}).ExtractErr(); err != nil {
		t.Fatalf("inspect: %v", err)
	}
	got := s.waitFor(t, n.UUID, time.Minute, func(n *nodes.Node) bool {
		return n.ProvisionState == "manageable" || n.ProvisionState == "inspect failed"
	})
	if got.ProvisionState != "manageable" || got.LastError != "" || got.InspectionFinishedAt == nil ||
		got.InspectInterface != "ipmitool" {
		t.Fatalf("after inspection the node is %q (last_error %q, inspect_interface %q), want manageable",
			got.ProvisionState, got.LastError, got.InspectInterface)
	}
	for _, k := range []string{"cpus", "memory_mb", "local_gb", "cpu_arch", "capabilities"} {
		if v, ok := got.Properties[k]; ok {
			t.Errorf("property %s = %v set from a BMC-only inventory", k, v)
		}
	}
	if ps, err := ports.List(s.client, ports.ListOpts{NodeUUID: n.UUID}).AllPages(ctx); err != nil {
		t.Fatal(err)
	} else if list, _ := ports.ExtractPorts(ps); len(list) != 0 {
		t.Errorf("ports %+v created from a BMC-only inventory", list)
	}
	c := *s.client
	c.Microversion = "1.81"
	inv, err := nodes.GetInventory(ctx, &c, n.UUID).Extract()
	if err != nil {
		t.Fatalf("GET /v1/nodes/%s/inventory: %v", n.UUID, err)
	}
	vendor := inv.Inventory.SystemVendor
	if vendor.Manufacturer != "Supermicro" || vendor.ProductName != "SYS-1029P" || vendor.SerialNumber != "PSN-4711" ||
		inv.Inventory.BmcAddress != "192.0.2.17" || len(inv.Inventory.Interfaces) != 0 || inv.Inventory.CPU.Count != 0 {
		t.Errorf("inventory %+v", inv.Inventory)
	}
	pd, err := inv.PluginData.AsMap()
	if bmcData, ok := pd["bmc"].(map[string]any); err != nil || !ok || bmcData["firmware_version"] != "1.02" {
		t.Errorf("plugin_data %v, %v; want bmc.firmware_version 1.02", pd, err)
	}
	assertNoSecretInHistory(t, s, n.UUID, password)

	// Wrong password: verification fails, the node returns to enroll, and
	// last_error says the BMC refused the credentials.
	info["ipmi_password"] = "wrong"
	bad, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: "bmc-bad", Driver: "ipmi", DriverInfo: info}).Extract()
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	if err := nodes.ChangeProvisionState(ctx, s.client, bad.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetManage}).ExtractErr(); err != nil {
		t.Fatalf("manage: %v", err)
	}
	got = s.waitFor(t, bad.UUID, 60*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == "enroll" && n.LastError != ""
	})
	if !strings.Contains(strings.ToLower(got.LastError), "credentials") || strings.Contains(got.LastError, "wrong") {
		t.Errorf("last_error %q: want a credentials failure, without the password", got.LastError)
	}
}
