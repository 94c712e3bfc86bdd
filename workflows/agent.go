package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
)

// Version gates of the agent paths. Runs that started before them (waiting
// in wait call-back or clean wait for a bare signal) keep the old behaviour.
const (
	versionAgentDeploy = "agent-deploy"
	versionAgentClean  = "agent-clean"
	versionUndeployOff = "undeploy-power-off"
	// versionUndeployOffAll powers off every node on undeploy, in-memory
	// fakes included (before it, only real hardware was).
	versionUndeployOffAll = "undeploy-power-off-all"
	// versionKeepPowerOn, revision 3: a node with disable_power_off is
	// never powered off by an operation (o.power).
	versionKeepPowerOn  = "keep-power-on"
	revisionKeepPowerOn = 3
)

// Deploy and clean steps as Ironic shows them in deploy_step / clean_step.
var (
	stepDeploy     = json.RawMessage(`{"step":"deploy","interface":"deploy","priority":100,"args":{}}`)
	stepWriteImage = json.RawMessage(`{"step":"write_image","interface":"deploy","priority":80,"args":{}}`)
	stepErase      = json.RawMessage(`{"step":"erase_devices_metadata","interface":"deploy","priority":99,"args":{}}`)
	noStep         = json.RawMessage(`{}`)
)

// AgentCommandTimeout bounds one agent command (an image write over a slow
// link included); the agent's heartbeats bound a dead agent much sooner.
const AgentCommandTimeout = 4 * time.Hour

// agentOptions are the options of RunAgentCommand: it polls for as long as
// the command runs and heartbeats every poll; a retry (after a worker crash)
// re-attaches to the same command.
func agentOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: AgentCommandTimeout,
		// It heartbeats every poll (500 ms): a dead worker is noticed, and the
		// command re-attached on another, within 10 s.
		HeartbeatTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
}

// commandID names an agent command after the run and the step: the same on
// every retry and replay of this run, new for the next run.
func commandID(ctx workflow.Context, step string) string {
	return workflow.GetInfo(ctx).WorkflowExecution.RunID + "-" + step
}

// power runs a power action through the node's power interface. A node
// with disable_power_off (API 1.95) is never powered off by an operation,
// as Ironic 29's power_off_and_on and deploy utilities do it: a power off
// is skipped, and a power on becomes a reboot (the node boots whatever was
// set up since). Runs started before revisionKeepPowerOn replay as they
// ran.
func (o *op) power(ctx workflow.Context, target node.PowerState) error {
	if (target == node.PowerOff || target == node.PowerOn) && o.keepsPowerOn(ctx) {
		if target == node.PowerOff {
			workflow.GetLogger(ctx).Info("power off skipped: disable_power_off", "node", o.in.NodeUUID)
			return nil
		}
		target = node.Rebooting
	}
	return o.driver(ctx, a.ChangePowerState, activities.SetPowerInput{UUID: o.in.NodeUUID, Target: target}).Get(ctx, nil)
}

// keepsPowerOn: the node has disable_power_off and the run keeps it on.
func (o *op) keepsPowerOn(ctx workflow.Context) bool {
	return o.info.DisablePowerOff && o.takesAt(ctx, revisionKeepPowerOn, versionKeepPowerOn)
}

// powerOff powers the node off at the end of a sequence (a ramdisk's work
// done, an instance torn down) and records it. A node with
// disable_power_off (keepsPowerOn) is rebooted instead, as Ironic 29 does
// in the tear-down of in-band cleaning and in clean_up after an instance:
// its boot configuration removed, it no longer runs the ramdisk (no agent
// keeps running into its next operation) nor the instance.
func (o *op) powerOff(ctx workflow.Context) error {
	if !o.keepsPowerOn(ctx) {
		if err := o.power(ctx, node.PowerOff); err != nil {
			return err
		}
		off := node.PowerOff
		o.powerState = &off
		return nil
	}
	if err := o.power(ctx, node.Rebooting); err != nil {
		return err
	}
	on := node.PowerOn
	o.powerState = &on
	return nil
}

// bootDevice sets the node's boot device.
func (o *op) bootDevice(ctx workflow.Context, dev drivers.BootDevice, persistent bool) error {
	return o.driver(ctx, a.SetBootDevice, activities.BootDeviceInput{UUID: o.in.NodeUUID, Device: dev,
		Persistent: persistent}).Get(ctx, nil)
}

// bootRamdisk makes the node network-boot the deploy ramdisk: it is powered
// off, its boot configuration is opened (the boot server now serves the
// ramdisk to its MACs; opening after the power off means no agent left
// running from an earlier boot can take the new token: a node kept on,
// which is not powered off, was rebooted out of its last ramdisk by
// powerOff), it is set to boot from the network once and powered on (a
// node kept on: rebooted).
func (o *op) bootRamdisk(ctx workflow.Context) error {
	o.step = "boot deploy ramdisk"
	if err := o.power(ctx, node.PowerOff); err != nil {
		return fmt.Errorf("power off before booting the ramdisk: %w", err)
	}
	if err := workflow.ExecuteLocalActivity(ctx, a.PrepareRamdiskBoot, o.in.NodeUUID).Get(ctx, nil); err != nil {
		return fmt.Errorf("prepare ramdisk boot: %w", err)
	}
	if err := o.bootDevice(ctx, drivers.BootPXE, false); err != nil {
		return fmt.Errorf("set boot device to pxe: %w", err)
	}
	if err := o.power(ctx, node.PowerOn); err != nil {
		return fmt.Errorf("power on into the ramdisk: %w", err)
	}
	return nil
}

// runAgent runs one agent command and waits for its result.
func (o *op) runAgent(ctx workflow.Context, step string, cmd wire.Command, progress json.RawMessage) error {
	cmd.ID = commandID(ctx, step)
	return workflow.ExecuteActivity(agentOptions(ctx), a.RunAgentCommand, activities.AgentCommandInput{
		UUID: o.in.NodeUUID, Command: cmd, DeployStep: progress,
	}).Get(ctx, nil)
}

// abandonAgent undoes the agent path after a failure, best effort: the boot
// configuration is removed (the token dies) and the node is powered off, as
// Ironic does after a failed deploy. It runs even if the workflow is being
// cancelled; its own failures are only logged, the cause stays the error.
func (o *op) abandonAgent(ctx workflow.Context) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	log := workflow.GetLogger(ctx)
	if err := workflow.ExecuteLocalActivity(ctx, a.CleanUpRamdiskBoot, o.in.NodeUUID).Get(ctx, nil); err != nil {
		log.Warn("clean up ramdisk boot after failure", "node", o.in.NodeUUID, "err", err)
	}
	if err := o.powerOff(ctx); err != nil {
		log.Warn("power off after failure", "node", o.in.NodeUUID, "err", err)
	}
}

// agentDeploy is the deploy with a ramdisk agent (Ironic's direct deploy):
// boot the ramdisk, wait call-back, write the image through the agent, boot
// from disk. Every failure ends in deploy failed with the ramdisk boot
// removed; the node never becomes active with a bad image.
func (o *op) agentDeploy(ctx workflow.Context) error {
	o.clearSteps = true
	failed := func(err error) error {
		o.abandonAgent(ctx)
		return o.failWith(ctx, node.DeployFail, err, nil)
	}
	var params json.RawMessage
	if err := workflow.ExecuteLocalActivity(ctx, a.ReadInstanceImage, o.in.NodeUUID).Get(ctx, &params); err != nil {
		return o.failWith(ctx, node.DeployFail, err, nil)
	}
	if err := o.bootRamdisk(ctx); err != nil {
		return failed(err)
	}
	on := node.PowerOn
	if err := o.enter(ctx, node.DeployWait, node.Active, func(t *activities.TransitionInput) {
		t.DeployStep, t.PowerState = stepDeploy, &on
	}); err != nil {
		return failed(err)
	}
	o.step = "wait for agent"
	if err := o.waitAgent(ctx); err != nil {
		return failed(err)
	}
	if err := o.enter(ctx, node.Deploying, node.Active, func(t *activities.TransitionInput) {
		t.DeployStep = stepWriteImage
	}); err != nil {
		return failed(err)
	}
	o.step = "write image"
	if err := o.runAgent(ctx, "write-image", wire.Command{Name: wire.CmdWriteImage, Params: params}, stepWriteImage); err != nil {
		return failed(err)
	}
	return o.bootFromDisk(ctx, failed)
}

// agentClean erases disk metadata through the ramdisk agent: boot the
// ramdisk, clean wait for the agent, erase_metadata, power off. On failure
// the ramdisk boot is removed and the error returned (the caller fails the
// node to clean failed).
func (o *op) agentClean(ctx workflow.Context) error {
	o.clearSteps = true
	if err := o.bootRamdisk(ctx); err != nil {
		o.abandonAgent(ctx)
		return err
	}
	err := func() error {
		on := node.PowerOn
		if err := o.enter(ctx, node.CleanWait, o.target, func(t *activities.TransitionInput) {
			t.CleanStep, t.PowerState = stepErase, &on
		}); err != nil {
			return err
		}
		o.step = "wait for agent"
		if err := o.waitAgent(ctx); err != nil {
			return err
		}
		if err := o.enter(ctx, node.Cleaning, o.target, nil); err != nil {
			return err
		}
		o.step = "erase devices metadata"
		return o.runAgent(ctx, "erase-metadata", wire.Command{Name: wire.CmdEraseMetadata}, nil)
	}()
	if err != nil {
		o.abandonAgent(ctx)
		return err
	}
	if err := workflow.ExecuteLocalActivity(ctx, a.CleanUpRamdiskBoot, o.in.NodeUUID).Get(ctx, nil); err != nil {
		o.abandonAgent(ctx)
		return fmt.Errorf("clean up ramdisk boot: %w", err)
	}
	if err := o.powerOff(ctx); err != nil {
		return fmt.Errorf("power off after cleaning: %w", err)
	}
	return nil
}
