package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/ferric-project/ferric/drivers"
)

// Virtual media and firmware. Ironic's fake management interface has no
// virtual media (its API answers that the driver does not support it);
// ferric's fake offers it, so that the whole path (API, workflow, record)
// can be exercised without a BMC: the node's "BMC" has a CD/DVD drive
// (cdrom), a floppy drive (floppy) and a USB stick slot (disk), and what is
// inserted is what ferric recorded as attached (drivers.Node.AttachedMedia),
// so the state survives workers. fake_fail "vmedia" fails every call.

var _ drivers.VirtualMediaManager = (*Node)(nil)

// mediaTypes are the Redfish media types of the fake's devices, in the
// order the fake reports them.
var mediaTypes = []struct {
	dev   drivers.VirtualMediaDevice
	types []string
}{
	{drivers.VMediaCDROM, []string{"CD", "DVD"}},
	{drivers.VMediaFloppy, []string{"Floppy"}},
	{drivers.VMediaDisk, []string{"USBStick"}},
}

// VirtualMedia reports the fake's three devices and what is inserted.
func (n *Node) VirtualMedia(ctx context.Context) ([]drivers.VirtualMedia, error) {
	if err := n.do(ctx, "vmedia", "get", 0); err != nil {
		return nil, err
	}
	out := make([]drivers.VirtualMedia, 0, len(mediaTypes))
	for _, d := range mediaTypes {
		vm := drivers.VirtualMedia{MediaTypes: slices.Clone(d.types)}
		if i := slices.IndexFunc(n.media, func(m drivers.AttachedMedia) bool { return m.Device == d.dev }); i >= 0 {
			url := n.media[i].ImageURL
			vm.Inserted, vm.Image = true, &url
		}
		out = append(out, vm)
	}
	return out, nil
}

// AttachVirtualMedia inserts m.ImageURL into device m.Device, replacing
// what it held.
func (n *Node) AttachVirtualMedia(ctx context.Context, m drivers.AttachedMedia) ([]drivers.AttachedMedia, error) {
	if !slices.Contains(drivers.VirtualMediaDevices(), m.Device) {
		return nil, fmt.Errorf("%w: virtual media device %q", drivers.ErrUnsupported, m.Device)
	}
	if err := n.do(ctx, "vmedia", "attach "+string(m.Device), 0); err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(slices.Clone(n.media), func(a drivers.AttachedMedia) bool { return a.Device == m.Device })
	return append(out, m), nil
}

// DetachVirtualMedia ejects the devices given (nil: every device).
// Ejecting an empty device is not an error.
func (n *Node) DetachVirtualMedia(ctx context.Context, devs []drivers.VirtualMediaDevice) ([]drivers.AttachedMedia, error) {
	arg := "detach all"
	if devs != nil {
		arg = fmt.Sprintf("detach %v", devs)
	}
	if err := n.do(ctx, "vmedia", arg, 0); err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(slices.Clone(n.media), func(a drivers.AttachedMedia) bool {
		return devs == nil || slices.Contains(devs, a.Device)
	})
	if out == nil {
		out = []drivers.AttachedMedia{}
	}
	return out, nil
}

// Firmware is the fake firmware interface, as Ironic's: its clean step
// update (on request; the settings are checked and nothing changes) and
// no firmware components to cache.
type Firmware struct{ n *Node }

var (
	_ drivers.Firmware   = Firmware{}
	_ drivers.StepRunner = Firmware{}
)

// CleanSteps is update, on request.
func (Firmware) CleanSteps() []drivers.Step {
	return []drivers.Step{{Interface: drivers.KindFirmware, Name: drivers.StepFirmwareUpdate,
		Args: drivers.FirmwareUpdateArgs()}}
}

// DeploySteps: none, as Ironic's fake.
func (Firmware) DeploySteps() []drivers.Step { return nil }

// RunStep runs update in memory (a call "step" "firmware.update"; fake_fail
// "step" fails it). Its settings argument must be a list.
func (f Firmware) RunStep(ctx context.Context, step drivers.Step, args json.RawMessage) (drivers.StepResult, error) {
	if err := f.n.do(ctx, "step", step.ID(), f.n.cfg.DeployDelay); err != nil {
		return drivers.StepResult{}, err
	}
	if step.Name != drivers.StepFirmwareUpdate {
		return drivers.StepResult{}, fmt.Errorf("%w: firmware step %q", drivers.ErrUnsupported, step.Name)
	}
	var a struct {
		Settings []json.RawMessage `json:"settings"`
	}
	if err := json.Unmarshal(args, &a); err != nil || a.Settings == nil {
		return drivers.StepResult{}, fmt.Errorf("%w: %s: settings is required: a list of firmware components",
			drivers.ErrFailed, step.ID())
	}
	return drivers.StepResult{}, nil
}
