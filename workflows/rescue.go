package workflows

import (
	"go.temporal.io/sdk/workflow"

	"fmt"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Adopt takes over a node deployed outside ferric (Metal3 adopts
// externally provisioned hosts): manageable|adopt failed -> adopting ->
// active. Nothing is written to the node's disk; ferric checks it can
// manage the node (TakeOverNode). A failure ends in adopt failed with
// Ironic's last_error, and the power state is forgotten (as Ironic wipes
// it: it is likely invalid).
func Adopt(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := startIn(ctx, in, contract.AdoptName, node.Adopting, node.Active, nil)
	if err != nil {
		return err
	}
	o.step = "take over"
	if err := o.driver(ctx, a.TakeOverNode, in.NodeUUID).Get(ctx, nil); err != nil {
		none := node.PowerNone
		return o.failWith(ctx, node.AdoptFail,
			ironicf("Error while attempting to adopt node %s: %s.", in.NodeUUID, message(err)),
			func(t *activities.TransitionInput) { t.PowerState = &none })
	}
	return o.succeed(ctx, node.Active, nil)
}

// Rescue boots a deployed node into its rescue environment through its
// rescue interface: active|rescue|rescue failed|unrescue failed ->
// rescuing -> rescue. The rescue password was stored in instance_info by
// the API (it never travels through Temporal); a failure removes it, as
// Ironic does, and ends in rescue failed.
func Rescue(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := startIn(ctx, in, contract.RescueName, node.Rescuing, node.Rescue, nil)
	if err != nil {
		return err
	}
	o.step = "rescue"
	dropPassword := func(t *activities.TransitionInput) { t.DropRescuePassword = true }
	var done bool
	if err := o.driver(ctx, a.RescueNode, in.NodeUUID).Get(ctx, &done); err != nil {
		return o.failWith(ctx, node.RescueFail, ironicf("Failed to rescue: %s", message(err)), dropPassword)
	}
	if !done {
		return o.failWith(ctx, node.RescueFail,
			ironicf("Failed to rescue: the rescue interface of node %s needs a ramdisk agent, which ferric "+
				"does not run for rescue", in.NodeUUID), dropPassword)
	}
	return o.succeed(ctx, node.Rescue, nil)
}

// Unrescue returns a rescued node to its instance:
// rescue|rescue failed|unrescue failed -> unrescuing -> active, or
// unrescue failed.
func Unrescue(ctx workflow.Context, in contract.ProvisionInput) error {
	o, ctx, err := startIn(ctx, in, contract.UnrescueName, node.Unrescuing, node.Active, nil)
	if err != nil {
		return err
	}
	o.step = "unrescue"
	if err := o.driver(ctx, a.UnrescueNode, in.NodeUUID).Get(ctx, nil); err != nil {
		return o.fail(ctx, node.UnrescueFail, ironicf("Failed to unrescue: %s", message(err)))
	}
	return o.succeed(ctx, node.Active, nil)
}

// ironicError is a failure whose text is Ironic's last_error verbatim
// (capitalized and punctuated as Ironic writes it).
type ironicError string

func (e ironicError) Error() string { return string(e) }

// ironicf formats Ironic's message for a failure.
func ironicf(format string, args ...any) error { return ironicError(fmt.Sprintf(format, args...)) }
