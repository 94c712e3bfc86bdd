package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// versionRefuseOff: a power off of a node with disable_power_off is
// refused (before it, it ran).
const versionRefuseOff = "disable-power-off"

// SetPower performs a power action: target_power_state is set while it runs
// and cleared after; the reached state is recorded, or last_error on failure.
func SetPower(ctx workflow.Context, in contract.PowerInput) error {
	target, ok := contract.PowerTarget(in.Target)
	if !ok {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("invalid power target %q", in.Target),
			contract.ErrTypeUnsupported, nil)
	}
	st := contract.Status{Step: string(in.Target)}
	if err := workflow.SetQueryHandler(ctx, contract.QueryState, func() (contract.Status, error) { return st, nil }); err != nil {
		return err
	}
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		return fmt.Errorf("load node: %w", err)
	}
	if in.IfRecorded != node.PowerNone && (info.PowerState != in.IfRecorded || info.Maintenance ||
		info.TargetPowerState != node.PowerNone || info.TargetProvisionState != node.NoState) {
		// A conditional action (the power sync forcing the recorded state
		// back) whose condition no longer holds: an operation or a user
		// changed the node since the pass read it, and wins.
		workflow.GetLogger(ctx).Info("conditional power action skipped: the node changed",
			"node", in.NodeUUID, "recorded", info.PowerState, "expected", in.IfRecorded)
		return nil
	}
	off := in.Target == node.PowerOff || in.Target == node.SoftPowerOff
	if off && info.DisablePowerOff && workflow.GetVersion(ctx, versionRefuseOff, workflow.DefaultVersion, 1) == 1 {
		// Ironic's node_power_action refuses before changing anything; its
		// power sync never forces such a node off.
		if in.IfRecorded != node.PowerNone {
			workflow.GetLogger(ctx).Info("conditional power off skipped: disable_power_off", "node", in.NodeUUID)
			return nil
		}
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("Failed to set node power state to %s.", in.Target), contract.ErrTypePowerFailed, nil)
	}
	o := &op{info: info}
	_, err, rerr := o.powerAction(ctx, in.RequestedBy, target, activities.SetPowerInput{
		UUID: in.NodeUUID, Target: in.Target, TimeoutSeconds: in.TimeoutSeconds,
	}, func(rec *activities.RecordPowerInput, err error) {
		if err != nil {
			msg := fmt.Sprintf("failed to change power state to %q: %s", in.Target, message(err))
			st.Error = msg
			rec.LastError, rec.Error, rec.Event = &msg, true, msg
			return
		}
		clear := ""
		rec.LastError, rec.Event = &clear, in.Reason
	})
	if rerr != nil {
		return rerr
	}
	if err != nil {
		return temporal.NewNonRetryableApplicationError(st.Error, contract.ErrTypePowerFailed, nil)
	}
	return nil
}

// powerAction performs a power action as Ironic's node_power_action does:
// target_power_state want while the driver acts, then the target cleared
// and the reached power_state recorded, with what outcome adds to that
// record (given the driver's error, nil on success, when the record has
// no power state). It returns the reached state, the driver's error, and
// the error of recording (the target or the outcome); when setting the
// target fails, nothing else runs.
func (o *op) powerAction(ctx workflow.Context, by contract.Requester, want node.PowerState,
	call activities.SetPowerInput, outcome func(*activities.RecordPowerInput, error),
) (reached node.PowerState, err, recordErr error) {
	if err := workflow.ExecuteLocalActivity(ctx, a.RecordPower, activities.RecordPowerInput{
		UUID: call.UUID, Target: &want, User: by.User, Project: by.Project,
	}).Get(ctx, nil); err != nil {
		return "", nil, err
	}
	err = o.driver(ctx, a.ChangePowerState, call).Get(ctx, &reached)
	none := node.PowerNone
	rec := activities.RecordPowerInput{UUID: call.UUID, Target: &none, User: by.User, Project: by.Project}
	if err == nil {
		rec.PowerState = &reached
	}
	outcome(&rec, err)
	recordErr = workflow.ExecuteLocalActivity(ctx, a.RecordPower, rec).Get(ctx, nil)
	return reached, err, recordErr
}

// SetBootDevice sets a node's boot device (the API waits for the result).
func SetBootDevice(ctx workflow.Context, in contract.BootDeviceInput) error {
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		return fmt.Errorf("load node: %w", err)
	}
	o := &op{info: info}
	return o.driver(ctx, a.SetBootDevice, activities.BootDeviceInput{
		UUID: in.NodeUUID, Device: drivers.BootDevice(in.Device), Persistent: in.Persistent,
	}).Get(ctx, nil)
}

// ReadManagement reads boot device facts from the BMC (no node lock).
func ReadManagement(ctx workflow.Context, in contract.ManagementInput) (contract.ManagementResult, error) {
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		return contract.ManagementResult{}, fmt.Errorf("load node: %w", err)
	}
	o := &op{info: info}
	var bd activities.BootDeviceInfo
	if err := o.driver(ctx, a.ReadBootDevice, in.NodeUUID).Get(ctx, &bd); err != nil {
		return contract.ManagementResult{}, err
	}
	switch in.Read {
	case contract.ReadSupportedBootDevices:
		out := contract.ManagementResult{SupportedBootDevices: []string{}}
		for _, d := range bd.Supported {
			out.SupportedBootDevices = append(out.SupportedBootDevices, string(d))
		}
		return out, nil
	default:
		p := bd.Persistent
		return contract.ManagementResult{BootDevice: string(bd.Device), Persistent: &p}, nil
	}
}

// VendorPassthru calls a vendor method; arguments and reply pass unaltered.
func VendorPassthru(ctx workflow.Context, in contract.PassthruInput) (contract.PassthruResult, error) {
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		return contract.PassthruResult{}, fmt.Errorf("load node: %w", err)
	}
	o := &op{info: info}
	var out contract.PassthruResult
	err := o.driver(ctx, a.CallVendorMethod, activities.VendorInput{
		UUID: in.NodeUUID, Method: in.Method, Args: in.Args,
	}).Get(ctx, &out.Return)
	return out, err
}
