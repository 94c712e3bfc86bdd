package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestVirtualMediaAPI: what the goldens do not show. A read renders the
// devices the workflow returns; an empty device_types detaches none (not
// all); a node in an operation answers NodeLocked once the lock wait has
// passed and keeps no operation record; a call waiting for the lock runs
// when it is released; a management interface whose driver_info is invalid
// answers 400 before anything starts.
func TestVirtualMediaAPI(t *testing.T) {
	t.Parallel()
	u := "/v1/nodes/" + sampleUUID + "/vmedia"
	v93 := ver("1.93")
	shared := newEnv(t)

	t.Run("read", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(nil)(e)
		img := "http://x/a.iso"
		// The workflow records the devices under the read's ID (as
		// activities.CallVirtualMedia does) and returns none.
		e.wf.result = func(_ string, input any) (any, error) {
			in, _ := input.(contract.VirtualMediaInput)
			if in.Action != contract.VMediaGet || in.OperationID == "" {
				return nil, fmt.Errorf("input %+v, want a read with an ID", in)
			}
			return nil, e.st.SaveMediaRead(context.Background(), in.OperationID, sampleUUID, []drivers.VirtualMedia{
				{MediaTypes: []string{"CD", "DVD"}, Inserted: true, Image: &img}, {MediaTypes: []string{"Floppy"}}})
		}
		resp, body := e.do(t, "GET", u, "", v93)
		want := `[{"media_types":["CD","DVD"],"inserted":true,"image":"http://x/a.iso"},` +
			`{"media_types":["Floppy"],"inserted":false,"image":null}]`
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("GET = %d %s\nwant 200 %s", resp.StatusCode, body, want)
		}
		var left int
		if err := e.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM node_vmedia_reads`).Scan(&left); err != nil || left != 0 {
			t.Errorf("%d reads left after the answer, %v", left, err)
		}
		// A read that recorded nothing (and returned nothing) is not an
		// empty list.
		e.wf.result = func(string, any) (any, error) { return nil, nil }
		if resp, body := e.do(t, "GET", u, "", v93); resp.StatusCode != 500 {
			t.Errorf("GET of a read that recorded nothing = %d %s, want 500", resp.StatusCode, body)
		}
		// A worker that predates read IDs returns the devices.
		e.wf.result = func(string, any) (any, error) {
			return []contract.VirtualMedia{{MediaTypes: []string{"CD", "DVD"}, Inserted: true, Image: &img},
				{MediaTypes: []string{"Floppy"}}}, nil
		}
		if resp, body := e.do(t, "GET", u, "", v93); resp.StatusCode != 200 || body != want {
			t.Fatalf("GET from an older worker = %d %s\nwant 200 %s", resp.StatusCode, body, want)
		}
	})

	t.Run("detach none", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(nil)(e)
		resp, body := e.do(t, "DELETE", u+"?device_types=", "", v93)
		if resp.StatusCode != 204 {
			t.Fatalf("DELETE = %d %s", resp.StatusCode, body)
		}
		in, _ := e.wf.last().input.(contract.VirtualMediaInput)
		if in.Action != contract.VMediaDetach || in.DeviceTypes == nil || len(in.DeviceTypes) != 0 {
			t.Errorf("input %+v, want a detach of no device", in)
		}
	})

	t.Run("locked", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(func(n *store.Node) { n.ProvisionState, n.TargetProvisionState = node.Cleaning, node.Manageable })(e)
		e.wf.running[contract.WorkflowID(sampleUUID)] = true
		e.srv.LockWait = 100 * time.Millisecond
		start := time.Now()
		runSteps(t, e, []step{
			{"attach", "POST", u, `{"device_type":"cdrom","image_url":"http://x/a.iso"}`, v93, 409, "is locked by host"},
			{"detach", "DELETE", u, "", v93, 409, "is locked by host"},
			{"read", "GET", u, "", v93, 409, "is locked by host"},
		})
		if took := time.Since(start); took < 3*50*time.Millisecond {
			t.Errorf("three NodeLocked answers in %s: the lock was not waited for", took)
		}
		var n int
		if err := e.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM node_operations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d operation records left by a refused attach", n)
		}
	})

	// Ironic's conductor retries a node lock for about 2 s: an attach,
	// detach or read sent while another operation ends (gophercloud's
	// detach right after its attach) runs once that one releases the lock.
	t.Run("lock released meanwhile", func(t *testing.T) {
		for _, tc := range []struct{ method, body string }{
			{"POST", `{"device_type":"cdrom","image_url":"http://x/a.iso"}`},
			{"DELETE", ""},
			{"GET", ""},
		} {
			e := shared.reuse(t)
			seedNode(nil)(e)
			e.wf.result = func(string, any) (any, error) { return []contract.VirtualMedia{}, nil }
			id := contract.WorkflowID(sampleUUID)
			e.wf.running[id] = true
			const held = 150 * time.Millisecond
			release := time.AfterFunc(held, func() {
				e.wf.mu.Lock()
				defer e.wf.mu.Unlock()
				delete(e.wf.running, id)
			})
			start := time.Now()
			resp, body := e.do(t, tc.method, u, tc.body, v93)
			took := time.Since(start)
			release.Stop()
			want := 204
			if tc.method == "GET" {
				want = 200
			}
			if resp.StatusCode != want || took < held {
				t.Errorf("%s after %s = %d %s, want %d once the lock is released", tc.method, took, resp.StatusCode,
					body, want)
			}
			if in, _ := e.wf.last().input.(contract.VirtualMediaInput); e.wf.startCount() != 1 ||
				in.NodeUUID != sampleUUID {
				t.Errorf("%s: %d starts, last %+v; want one virtual-media run", tc.method, e.wf.startCount(), in)
			}
		}
	})

	t.Run("bad driver_info", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(func(n *store.Node) {
			n.Driver, n.DriverInfo = "ipmi", json.RawMessage(`{}`)
			n.Interfaces = store.Interfaces{Power: "ipmitool", Management: "ipmitool", Boot: "pxe", Deploy: "direct",
				Bios: "no-bios", Console: "no-console", Firmware: "no-firmware", Inspect: "no-inspect",
				Network: "noop", RAID: "no-raid", Rescue: "no-rescue", Storage: "noop", Vendor: "no-vendor"}
		})(e)
		runSteps(t, e, []step{
			{"attach", "POST", u, `{"device_type":"cdrom","image_url":"http://x/a.iso"}`, v93, 400, "ipmi_address"},
			{"detach", "DELETE", u, "", v93, 400, "ipmi_address"},
			{"read", "GET", u, "", v93, 400, "ipmi_address"},
		})
		if e.wf.startCount() != 0 {
			t.Errorf("%d workflows started", e.wf.startCount())
		}
	})
}

// TestFirmwareInterfaceField: firmware_interface is a node field from
// 1.86 (shown, settable at create and by PATCH, reset with the other
// interfaces on a driver change), absent and refused below.
func TestFirmwareInterfaceField(t *testing.T) {
	t.Parallel()
	shared := newEnv(t)
	nu := "/v1/nodes/" + sampleUUID

	t.Run("shown from 1.86", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(nil)(e)
		_, body := e.do(t, "GET", nu, "", ver("1.86"))
		if !strings.Contains(body, `"firmware_interface":"fake"`) {
			t.Errorf("1.86 body lacks firmware_interface: %s", body)
		}
		_, body = e.do(t, "GET", nu, "", ver("1.85"))
		if strings.Contains(body, "firmware_interface") {
			t.Errorf("1.85 body shows firmware_interface: %s", body)
		}
	})

	t.Run("patch and reset", func(t *testing.T) {
		e := shared.reuse(t)
		seedNode(nil)(e)
		runSteps(t, e, []step{
			{"set", "PATCH", nu, `[{"op":"replace","path":"/firmware_interface","value":"no-firmware"}]`,
				ver("1.86"), 200, `"firmware_interface":"no-firmware"`},
			{"removed: the default", "PATCH", nu, `[{"op":"remove","path":"/firmware_interface"}]`,
				ver("1.86"), 200, `"firmware_interface":"fake"`},
		})
		runSteps(t, e, []step{{"driver change with reset", "PATCH", nu + "?reset_interfaces=true",
			`[{"op":"replace","path":"/driver","value":"ipmi"}]`, ver("1.86"), 200, `"firmware_interface":"no-firmware"`}})
		if got := e.node(sampleUUID).Interfaces.Firmware; got != "no-firmware" {
			t.Errorf("stored firmware_interface %q, want no-firmware", got)
		}
	})

	t.Run("create", func(t *testing.T) {
		e := shared.reuse(t)
		runSteps(t, e, []step{
			{"1.86", "POST", "/v1/nodes", `{"driver":"fake-hardware","firmware_interface":"no-firmware"}`,
				ver("1.86"), 201, `"firmware_interface":"no-firmware"`},
			{"bogus", "POST", "/v1/nodes", `{"driver":"fake-hardware","firmware_interface":"bogus"}`,
				ver("1.86"), 400, "Could not find the following interface in the 'ironic.hardware.interfaces.firmware' entrypoint: bogus."},
		})
	})
}
