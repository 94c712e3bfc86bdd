package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/workflows/contract"
)

// VirtualMedia attaches, detaches or reads a node's virtual media on the
// node lock, as Ironic's conductor does (attach_virtual_media,
// detach_virtual_media, get_virtual_media). A read records the devices
// for the API under its read ID (what it returns is empty: the devices'
// image URLs stay out of history; a read without an ID, from an older API,
// returns them), or fails (the API answers with the failure). An attach or a detach clears
// last_error first and records a failure as last_error and an error event
// in the node's history, the run itself succeeding: Ironic's API has
// answered 204 by then, and its conductor records the error the same way.
func VirtualMedia(ctx workflow.Context, in contract.VirtualMediaInput) ([]contract.VirtualMedia, error) {
	ctx = withOptions(ctx)
	var info activities.NodeInfo
	if err := workflow.ExecuteLocalActivity(ctx, a.LoadNode, in.NodeUUID).Get(ctx, &info); err != nil {
		return nil, fmt.Errorf("load node: %w", err)
	}
	o := &op{info: info}
	call := activities.VirtualMediaCallInput{UUID: in.NodeUUID, Action: in.Action, OperationID: in.OperationID,
		DeviceTypes: in.DeviceTypes}
	if in.Action == contract.VMediaGet {
		var out []contract.VirtualMedia
		err := o.driver(ctx, a.CallVirtualMedia, call).Get(ctx, &out)
		return out, err
	}
	by := in.RequestedBy
	clear := ""
	if err := workflow.ExecuteLocalActivity(ctx, a.RecordPower, activities.RecordPowerInput{
		UUID: in.NodeUUID, LastError: &clear, User: by.User, Project: by.Project,
	}).Get(ctx, nil); err != nil {
		return nil, err
	}
	err := o.driver(ctx, a.CallVirtualMedia, call).Get(ctx, nil)
	if err == nil {
		return nil, nil
	}
	msg := contract.VMediaDetachError(in.DeviceTypes, in.NodeUUID, message(err))
	if in.Action == contract.VMediaAttach {
		dev := ""
		if len(in.DeviceTypes) > 0 {
			dev = in.DeviceTypes[0]
		}
		msg = contract.VMediaAttachError(dev, in.NodeUUID, message(err))
	}
	return nil, workflow.ExecuteLocalActivity(ctx, a.RecordPower, activities.RecordPowerInput{
		UUID: in.NodeUUID, LastError: &msg, Event: msg, Error: true, User: by.User, Project: by.Project,
	}).Get(ctx, nil)
}
