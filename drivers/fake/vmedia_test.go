package fake_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/fake"
)

func fakeRegistry() *drivers.Registry {
	r := drivers.NewRegistry()
	fake.New().Register(r)
	return r
}

// TestVirtualMedia: the fake management interface reports its three
// devices from the media recorded on the node, and attach and detach
// return what is attached afterwards (the caller records it).
func TestVirtualMedia(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := fakeRegistry()
	build := func(n drivers.Node) drivers.VirtualMediaManager {
		t.Helper()
		m, err := r.Management("fake", n)
		if err != nil {
			t.Fatal(err)
		}
		vm, ok := m.(drivers.VirtualMediaManager)
		if !ok {
			t.Fatal("the fake management interface has no virtual media")
		}
		return vm
	}
	n := drivers.Node{UUID: "n1"}
	after, err := build(n).AttachVirtualMedia(ctx, drivers.AttachedMedia{Device: drivers.VMediaCDROM,
		ImageURL: "http://x/a.iso", DownloadSource: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || after[0].Device != drivers.VMediaCDROM || after[0].ImageURL != "http://x/a.iso" {
		t.Fatalf("after attach: %+v", after)
	}
	// A new interface for the node sees what the caller recorded.
	n.AttachedMedia = after
	after, err = build(n).AttachVirtualMedia(ctx, drivers.AttachedMedia{Device: drivers.VMediaDisk,
		ImageURL: "http://x/b.img", DownloadSource: "http"})
	if err != nil || len(after) != 2 {
		t.Fatalf("after second attach: %+v, %v", after, err)
	}
	n.AttachedMedia = after
	devs, err := build(n).VirtualMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(devs)
	want := `[{"media_types":["CD","DVD"],"inserted":true,"image":"http://x/a.iso"},` +
		`{"media_types":["Floppy"],"inserted":false,"image":null},` +
		`{"media_types":["USBStick"],"inserted":true,"image":"http://x/b.img"}]`
	if string(raw) != want {
		t.Errorf("devices %s\nwant %s", raw, want)
	}
	after, err = build(n).DetachVirtualMedia(ctx, []drivers.VirtualMediaDevice{drivers.VMediaDisk, drivers.VMediaFloppy})
	if err != nil || len(after) != 1 || after[0].Device != drivers.VMediaCDROM {
		t.Fatalf("after detaching disk and floppy: %+v, %v", after, err)
	}
	after, err = build(n).DetachVirtualMedia(ctx, nil)
	if err != nil || after == nil || len(after) != 0 {
		t.Fatalf("after detaching all: %#v, %v", after, err)
	}
	if _, err := build(n).AttachVirtualMedia(ctx, drivers.AttachedMedia{Device: "usb", ImageURL: "http://x"}); !errors.Is(err, drivers.ErrUnsupported) {
		t.Errorf("attach usb: %v, want ErrUnsupported", err)
	}
	failing := build(drivers.Node{UUID: "n2", DriverInfo: json.RawMessage(`{"fake_fail":["vmedia"]}`)})
	if _, err := failing.VirtualMedia(ctx); !errors.Is(err, drivers.ErrFailed) {
		t.Errorf("fake_fail vmedia: %v, want ErrFailed", err)
	}
}

// TestFirmware: the fake firmware interface offers Ironic's fake update
// clean step (on request, settings required) and runs it in memory;
// no-firmware has no implementation, and the node's steps include update.
func TestFirmware(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := fakeRegistry()
	fw, err := r.Firmware("fake", drivers.Node{UUID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	steps := fw.CleanSteps()
	if len(steps) != 1 || steps[0].ID() != "firmware.update" || steps[0].Priority != 0 ||
		!steps[0].Args["settings"].Required || len(fw.DeploySteps()) != 0 {
		t.Fatalf("steps %+v / %+v", steps, fw.DeploySteps())
	}
	run := fw.(drivers.StepRunner)
	if _, err := run.RunStep(ctx, steps[0], json.RawMessage(`{"settings":[{"component":"bios","url":"http://x/f"}]}`)); err != nil {
		t.Errorf("update: %v", err)
	}
	if _, err := run.RunStep(ctx, steps[0], json.RawMessage(`{}`)); !errors.Is(err, drivers.ErrFailed) {
		t.Errorf("update without settings: %v, want ErrFailed", err)
	}
	if _, err := r.Firmware("no-firmware", drivers.Node{}); !errors.Is(err, drivers.ErrUnsupported) {
		t.Errorf("no-firmware: %v, want ErrUnsupported", err)
	}
	ifaces, err := r.ResolveInterfaces(fake.TypeName, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ifaces[drivers.KindFirmware] != "fake" {
		t.Errorf("default firmware interface %q, want fake", ifaces[drivers.KindFirmware])
	}
	cat, err := r.NodeSteps(ifaces, drivers.Node{UUID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(cat.Clean, func(s drivers.Step) bool { return s.ID() == "firmware.update" }) {
		t.Errorf("clean steps %+v lack firmware.update", cat.Clean)
	}
}
