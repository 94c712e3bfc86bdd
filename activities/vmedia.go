package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/workflows/contract"
)

// MediaStore records the virtual media attached to nodes; *store.Store
// satisfies it.
type MediaStore interface {
	AttachedMedia(ctx context.Context, nodeUUID string) ([]drivers.AttachedMedia, error)
	SetAttachedMedia(ctx context.Context, nodeUUID string, media []drivers.AttachedMedia) error
	SaveMediaRead(ctx context.Context, readID, nodeUUID string, devs []drivers.VirtualMedia) error
}

// VirtualMediaCallInput is one virtual media call: an attach (its
// arguments in the operation record OperationID), a detach (DeviceTypes;
// nil: all) or a read (its devices recorded under the read's ID
// OperationID for the API to take; without one, returned).
type VirtualMediaCallInput struct {
	UUID        string                      `json:"uuid"`
	Action      contract.VirtualMediaAction `json:"action"`
	OperationID string                      `json:"operation_id,omitempty"`
	DeviceTypes []string                    `json:"device_types"`
}

// vmediaUnsupported is Ironic's UnsupportedDriverExtension for a virtual
// media call, with its message.
func vmediaUnsupported(driver, call string) error {
	return temporal.NewNonRetryableApplicationError(contract.UnsupportedExtension(driver, call),
		contract.ErrTypeUnsupported, nil)
}

// CallVirtualMedia makes one virtual media call through the node's
// management interface (drivers.VirtualMediaManager) and records what is
// attached afterwards. A read records the devices as the interface reports
// them under its read ID, so that their image URLs stay out of workflow
// history (a read started without an ID, by an older API, returns them);
// attach and detach return nil. An interface without virtual media
// is Ironic's UnsupportedDriverExtension: for an attach, the failure to
// publish the image that Ironic 29 meets first.
func (a *Activities) CallVirtualMedia(ctx context.Context, in VirtualMediaCallInput) ([]contract.VirtualMedia, error) {
	if a.Media == nil {
		return nil, fmt.Errorf("virtual media of node %s: no media store configured", in.UUID)
	}
	l, err := a.load(ctx, in.UUID)
	if err != nil {
		return nil, classify(err)
	}
	if l.dn.AttachedMedia, err = a.Media.AttachedMedia(ctx, in.UUID); err != nil {
		return nil, classify(err)
	}
	m, err := a.Drivers.Management(l.rec.Interfaces.Management, l.dn)
	if err != nil {
		return nil, classify(err)
	}
	vm, ok := m.(drivers.VirtualMediaManager)
	switch {
	case !ok && in.Action == contract.VMediaAttach:
		return nil, temporal.NewNonRetryableApplicationError(contract.ImagePublishingUnsupported(l.rec.Driver),
			contract.ErrTypeUnsupported, nil)
	case !ok:
		return nil, vmediaUnsupported(l.rec.Driver, string(in.Action)+"_virtual_media")
	}
	var after []drivers.AttachedMedia
	switch in.Action {
	case contract.VMediaGet:
		done := a.call(ctx, l.rec.Driver, "management.get_virtual_media")
		devs, err := vm.VirtualMedia(ctx)
		done(err)
		if err != nil {
			return nil, classify(fmt.Errorf("read virtual media of node %s: %w", in.UUID, err))
		}
		if in.OperationID != "" {
			return nil, classify(a.Media.SaveMediaRead(ctx, in.OperationID, in.UUID, devs))
		}
		out := make([]contract.VirtualMedia, 0, len(devs))
		for _, d := range devs {
			out = append(out, contract.VirtualMedia{MediaTypes: d.MediaTypes, Inserted: d.Inserted, Image: d.Image})
		}
		return out, nil
	case contract.VMediaAttach:
		args, err := a.vmediaArgs(ctx, in)
		if err != nil {
			return nil, err
		}
		done := a.call(ctx, l.rec.Driver, "management.attach_virtual_media")
		after, err = vm.AttachVirtualMedia(ctx, drivers.AttachedMedia{Device: drivers.VirtualMediaDevice(args.DeviceType),
			ImageURL: args.ImageURL, DownloadSource: args.ImageDownloadSource})
		done(err)
		if err != nil {
			return nil, classify(fmt.Errorf("attach %s to node %s: %w", args.DeviceType, in.UUID, err))
		}
	case contract.VMediaDetach:
		var devs []drivers.VirtualMediaDevice
		for _, d := range in.DeviceTypes {
			devs = append(devs, drivers.VirtualMediaDevice(d))
		}
		done := a.call(ctx, l.rec.Driver, "management.detach_virtual_media")
		after, err = vm.DetachVirtualMedia(ctx, devs)
		done(err)
		if err != nil {
			return nil, classify(fmt.Errorf("detach %v from node %s: %w", in.DeviceTypes, in.UUID, err))
		}
	default:
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("unknown virtual media action %q", in.Action), contract.ErrTypeUnsupported, nil)
	}
	slices.SortFunc(after, func(x, y drivers.AttachedMedia) int { return cmp.Compare(x.Device, y.Device) })
	if err := a.Media.SetAttachedMedia(ctx, in.UUID, after); err != nil {
		return nil, classify(err)
	}
	return nil, nil
}

// vmediaArgs reads an attach's arguments from its operation record.
func (a *Activities) vmediaArgs(ctx context.Context, in VirtualMediaCallInput) (contract.VirtualMediaArgs, error) {
	var args contract.VirtualMediaArgs
	if a.Operations == nil {
		return args, fmt.Errorf("virtual media attach on node %s: no operation store configured", in.UUID)
	}
	op, err := a.Operations.Operation(ctx, in.OperationID)
	if err != nil {
		return args, classify(fmt.Errorf("virtual media attach on node %s: %w", in.UUID, err))
	}
	if err := json.Unmarshal(op.Args, &args); err != nil || args.DeviceType == "" || args.ImageURL == "" {
		return args, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("operation %s holds no virtual media attach", in.OperationID), contract.ErrTypeNotFound, err)
	}
	return args, nil
}
