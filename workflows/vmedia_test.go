package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/testsuite"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/ipmi"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows"
	"github.com/ferric-project/ferric/workflows/contract"
)

// runVMedia runs virtual-media in a fresh environment over e's store and
// hardware and returns its result.
func runVMedia(t *testing.T, e *testEnv, in contract.VirtualMediaInput) []contract.VirtualMedia {
	t.Helper()
	env := newEnvOn(t, e)
	env.ExecuteWorkflow(contract.VirtualMediaName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("virtual-media did not complete")
	}
	var out []contract.VirtualMedia
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatalf("virtual-media %s: %v", in.Action, err)
	}
	return out
}

// TestVirtualMediaFake attaches, reads and detaches virtual media of a
// fake-hardware node with the real workflow and activities: each call
// reaches the fake management interface, what is attached is recorded in
// the store (node_virtual_media) and read back from there, and last_error
// stays clear.
func TestVirtualMediaFake(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	n := createNode(t, e.st, nodeSpec{state: node.Manageable})
	msg := "stale"
	if _, err := e.st.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, LastError: &msg}); err != nil {
		t.Fatal(err)
	}
	attach := func(dev, url string) {
		t.Helper()
		args, _ := json.Marshal(contract.VirtualMediaArgs{DeviceType: dev, ImageURL: url, ImageDownloadSource: "http"})
		op, err := e.st.CreateOperation(ctx, store.Operation{NodeUUID: n.UUID, Verb: contract.VMediaAttachVerb,
			Args: args})
		if err != nil {
			t.Fatal(err)
		}
		runVMedia(t, e, contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaAttach,
			OperationID: op.ID, DeviceTypes: []string{dev}})
	}
	attach("cdrom", "https://example.com/boot.iso")
	attach("floppy", "http://example.com/a.img")
	attach("cdrom", "https://example.com/other.iso") // replaces the first

	got, err := e.st.AttachedMedia(ctx, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	want := []drivers.AttachedMedia{
		{Device: drivers.VMediaCDROM, ImageURL: "https://example.com/other.iso", DownloadSource: "http"},
		{Device: drivers.VMediaFloppy, ImageURL: "http://example.com/a.img", DownloadSource: "http"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("recorded %+v, want %+v", got, want)
	}
	if le := mustNode(t, e.st, n.UUID).LastError; le != nil && *le != "" {
		t.Errorf("last_error = %q, want cleared", *le)
	}

	// A read with an ID (the API's) records the devices for the API to
	// take and returns none through history; one without (an older API's)
	// returns them.
	wantGet := `[{"media_types":["CD","DVD"],"inserted":true,"image":"https://example.com/other.iso"},` +
		`{"media_types":["Floppy"],"inserted":true,"image":"http://example.com/a.img"},` +
		`{"media_types":["USBStick"],"inserted":false,"image":null}]`
	read := uuid.NewString()
	if devs := runVMedia(t, e, contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaGet,
		OperationID: read}); len(devs) != 0 {
		t.Errorf("a read with an ID returned %+v through workflow history", devs)
	}
	taken, err := e.st.TakeMediaRead(ctx, read)
	if raw, _ := json.Marshal(taken); err != nil || string(raw) != wantGet {
		t.Errorf("recorded read = %s, %v\nwant %s", raw, err, wantGet)
	}
	devs := runVMedia(t, e, contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaGet})
	if raw, _ := json.Marshal(devs); string(raw) != wantGet {
		t.Errorf("get without a read ID = %s\nwant %s", raw, wantGet)
	}

	runVMedia(t, e, contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaDetach,
		DeviceTypes: []string{"cdrom", "disk"}})
	if got := attached(t, e.st, n.UUID); len(got) != 1 || got[0].Device != drivers.VMediaFloppy {
		t.Errorf("after detaching cdrom: %+v", got)
	}
	runVMedia(t, e, contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaDetach})
	if got := attached(t, e.st, n.UUID); len(got) != 0 {
		t.Errorf("after detaching all: %+v", got)
	}

	var calls []string
	for _, c := range e.hw.Calls() {
		if c.Node == n.UUID && c.Op == "vmedia" {
			calls = append(calls, c.Arg)
		}
	}
	wantCalls := []string{"attach cdrom", "attach floppy", "attach cdrom", "get", "get", "detach [cdrom disk]", "detach all"}
	if !slices.Equal(calls, wantCalls) {
		t.Errorf("fake calls %q, want %q", calls, wantCalls)
	}
}

// TestVirtualMediaFailure: a failed attach (fake_fail vmedia) changes
// nothing recorded and is recorded as last_error and an error event, the
// run succeeding (the API answered 204 already).
func TestVirtualMediaFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	n := createNode(t, e.st, nodeSpec{state: node.Manageable, driverInfo: `{"fake_fail":["vmedia"]}`})
	args, _ := json.Marshal(contract.VirtualMediaArgs{DeviceType: "disk", ImageURL: "http://x/y.img",
		ImageDownloadSource: "local"})
	op, err := e.st.CreateOperation(ctx, store.Operation{NodeUUID: n.UUID, Verb: contract.VMediaAttachVerb, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	runVMedia(t, e, contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaAttach, OperationID: op.ID,
		DeviceTypes: []string{"disk"}})
	le := mustNode(t, e.st, n.UUID).LastError
	prefix := "Could not attach device disk to node " + n.UUID + ": "
	if le == nil || !strings.HasPrefix(*le, prefix) || !strings.Contains(*le, "fake vmedia failure") {
		t.Fatalf("last_error = %v, want %q...", le, prefix)
	}
	events, err := e.st.NodeEvents(ctx, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[len(events)-1].Severity != "ERROR" || events[len(events)-1].Event != *le {
		t.Errorf("events = %+v, want an ERROR event %q", events, *le)
	}
	if got := attached(t, e.st, n.UUID); len(got) != 0 {
		t.Errorf("recorded %+v after a failed attach", got)
	}
}

// TestVirtualMediaUnsupported: a management interface without virtual
// media (ipmitool) answers a read with Ironic's UnsupportedDriverExtension,
// has a detach recorded as Ironic 29 records it for its fake-hardware (its
// capture, with the driver's name and the node's UUID) and an attach as
// Ironic 29 records it for an ipmi node (gophercloud's TestNodesVirtualMedia
// node: its image publishing fails), the run ending (the node lock
// released) with last_error and an error event.
func TestVirtualMediaUnsupported(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	n, err := e.st.CreateNode(ctx, store.Node{Driver: ipmi.TypeName,
		DriverInfo: json.RawMessage(`{"ipmi_address":"127.0.0.1","ipmi_username":"admin","ipmi_password":"pw"}`),
		Interfaces: store.Interfaces{Power: ipmi.InterfaceName, Management: ipmi.InterfaceName, Deploy: "direct",
			Vendor: "no-vendor", Boot: "pxe", Bios: "no-bios", Console: "no-console", Inspect: "no-inspect",
			Network: "noop", RAID: "no-raid", Rescue: "no-rescue", Storage: "noop", Firmware: "no-firmware"}})
	if err != nil {
		t.Fatal(err)
	}
	newIPMIEnv := func() *testsuite.TestWorkflowEnvironment {
		var ts testsuite.WorkflowTestSuite
		env := ts.NewTestWorkflowEnvironment()
		r := drivers.NewRegistry()
		ipmi.New(ipmi.Config{}).Register(r)
		env.RegisterActivity(&activities.Activities{Drivers: r, Nodes: e.st, Operations: e.st, Media: e.st,
			PollInterval: time.Millisecond})
		workflows.Register(env)
		return env
	}

	env := newIPMIEnv()
	env.ExecuteWorkflow(contract.VirtualMediaName, contract.VirtualMediaInput{NodeUUID: n.UUID,
		Action: contract.VMediaGet})
	err = env.GetWorkflowResult(nil)
	if err == nil || !strings.Contains(err.Error(), "Driver ipmi does not support get_virtual_media (disabled or not implemented).") {
		t.Errorf("get: %v, want UnsupportedDriverExtension", err)
	}

	env = newIPMIEnv()
	env.ExecuteWorkflow(contract.VirtualMediaName, contract.VirtualMediaInput{NodeUUID: n.UUID,
		Action: contract.VMediaDetach, DeviceTypes: []string{"cdrom", "floppy"}})
	if err := env.GetWorkflowResult(nil); err != nil {
		t.Fatalf("detach: %v", err)
	}
	raw, err := os.ReadFile("../api/testdata/ironic29-wire/fwvm_vmedia_delete_types_last_error.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var body struct {
		UUID      string `json:"uuid"`
		LastError string `json:"last_error"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &body); err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(strings.ReplaceAll(body.LastError, body.UUID, n.UUID), "fake-hardware", "ipmi")
	if le := mustNode(t, e.st, n.UUID).LastError; le == nil || *le != want {
		t.Errorf("last_error = %v\nwant %q", le, want)
	}

	args, _ := json.Marshal(contract.VirtualMediaArgs{DeviceType: "cdrom", ImageURL: "http://127.0.0.1:17",
		ImageDownloadSource: "local"})
	op, err := e.st.CreateOperation(ctx, store.Operation{NodeUUID: n.UUID, Verb: contract.VMediaAttachVerb, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	env = newIPMIEnv()
	env.ExecuteWorkflow(contract.VirtualMediaName, contract.VirtualMediaInput{NodeUUID: n.UUID,
		Action: contract.VMediaAttach, OperationID: op.ID, DeviceTypes: []string{"cdrom"}})
	if !env.IsWorkflowCompleted() {
		t.Fatal("attach did not complete")
	}
	if err := env.GetWorkflowResult(nil); err != nil {
		t.Fatalf("attach: %v", err)
	}
	// Ironic 29's last_error for this attach on an ipmi node.
	want = "Could not attach device cdrom to node " + n.UUID + ": Publishing images is not supported for driver ipmi"
	if le := mustNode(t, e.st, n.UUID).LastError; le == nil || *le != want {
		t.Errorf("attach: last_error = %v\nwant %q", le, want)
	}
	events, err := e.st.NodeEvents(ctx, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Severity != "ERROR" || last.Event != want {
		t.Errorf("attach: last event %+v, want an ERROR event %q", last, want)
	}
}

// attached is what the store records as attached to node uuid.
func attached(t *testing.T, st *store.Store, uuid string) []drivers.AttachedMedia {
	t.Helper()
	got, err := st.AttachedMedia(context.Background(), uuid)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
