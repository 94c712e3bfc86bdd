package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
)

// powerTarget is the power_state a power action ends in (Ironic shows it as
// target_power_state while the action runs).
func powerTarget(t node.PowerState) (node.PowerState, bool) {
	switch t {
	case node.PowerOn, node.Rebooting, node.SoftRebooting:
		return node.PowerOn, true
	case node.PowerOff, node.SoftPowerOff:
		return node.PowerOff, true
	}
	return "", false
}

// ValidPowerTarget reports whether the API may start set-power with t.
func ValidPowerTarget(t node.PowerState) bool {
	_, ok := powerTarget(t)
	return ok
}

// SetPower performs a power action: target_power_state is set while it runs
// and cleared after; the reached state is recorded, or last_error on failure.
func SetPower(ctx workflow.Context, in PowerInput) error {
	target, ok := powerTarget(in.Target)
	if !ok {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("invalid power target %q", in.Target),
			activities.ErrTypeUnsupported, nil)
	}
	st := Status{Step: string(in.Target)}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (Status, error) { return st, nil }); err != nil {
		return err
	}
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		return fmt.Errorf("load node: %w", err)
	}
	if err := workflow.ExecuteLocalActivity(ctx, a.RecordPower, activities.RecordPowerInput{
		UUID: in.NodeUUID, Target: &target,
	}).Get(ctx, nil); err != nil {
		return err
	}
	o := &op{info: info}
	var reached node.PowerState
	err := o.driver(ctx, a.ChangePowerState, activities.SetPowerInput{
		UUID: in.NodeUUID, Target: in.Target, TimeoutSeconds: in.TimeoutSeconds,
	}).Get(ctx, &reached)
	none := node.PowerNone
	rec := activities.RecordPowerInput{UUID: in.NodeUUID, Target: &none}
	if err != nil {
		msg := fmt.Sprintf("failed to change power state to %q: %s", in.Target, message(err))
		st.Error = msg
		rec.LastError, rec.Error, rec.Event = &msg, true, msg
	} else {
		clear := ""
		rec.PowerState, rec.LastError = &reached, &clear
	}
	if rerr := workflow.ExecuteLocalActivity(ctx, a.RecordPower, rec).Get(ctx, nil); rerr != nil {
		return rerr
	}
	if err != nil {
		return temporal.NewNonRetryableApplicationError(st.Error, "PowerFailed", nil)
	}
	return nil
}

// SetBootDevice sets a node's boot device (the API waits for the result).
func SetBootDevice(ctx workflow.Context, in BootDeviceInput) error {
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
func ReadManagement(ctx workflow.Context, in ManagementInput) (ManagementResult, error) {
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		return ManagementResult{}, fmt.Errorf("load node: %w", err)
	}
	o := &op{info: info}
	var bd activities.BootDeviceInfo
	if err := o.driver(ctx, a.ReadBootDevice, in.NodeUUID).Get(ctx, &bd); err != nil {
		return ManagementResult{}, err
	}
	switch in.Read {
	case ReadSupportedBootDevices:
		out := ManagementResult{SupportedBootDevices: []string{}}
		for _, d := range bd.Supported {
			out.SupportedBootDevices = append(out.SupportedBootDevices, string(d))
		}
		return out, nil
	default:
		p := bd.Persistent
		return ManagementResult{BootDevice: string(bd.Device), Persistent: &p}, nil
	}
}

// VendorPassthru calls a vendor method; arguments and reply pass unaltered.
func VendorPassthru(ctx workflow.Context, in PassthruInput) (PassthruResult, error) {
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		return PassthruResult{}, fmt.Errorf("load node: %w", err)
	}
	o := &op{info: info}
	var out PassthruResult
	err := o.driver(ctx, a.CallVendorMethod, activities.VendorInput{
		UUID: in.NodeUUID, Method: in.Method, Args: in.Args,
	}).Get(ctx, &out.Return)
	return out, err
}
