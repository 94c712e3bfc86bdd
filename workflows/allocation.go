package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Ironic's node_locked_retry_attempts and node_locked_retry_interval: how
// often an allocation whose suitable nodes are all busy tries again.
const (
	allocateAttempts      = 3
	allocateRetryInterval = time.Second
)

// Allocate fulfils an allocation as Ironic's allocation process does: it
// reserves one available node of the allocation's resource class with its
// traits, among its candidate nodes and its owner's, in one conditional
// store write (so that concurrent allocations never hold a node twice), and
// the allocation becomes active. When every suitable node is busy it tries
// again, allocateAttempts times in all; when none is suitable, or they stay
// busy, the allocation fails with Ironic's last_error. An allocation
// deleted meanwhile ends the run.
func Allocate(ctx workflow.Context, in contract.AllocateInput) error {
	ctx = withOptions(ctx)
	for attempt := 1; ; attempt++ {
		var r activities.Reservation
		err := workflow.ExecuteLocalActivity(ctx, a.ReserveAllocationNode, in.AllocationUUID).Get(ctx, &r)
		var ae *temporal.ApplicationError
		switch {
		case errors.As(err, &ae) && ae.Type() == contract.ErrTypeInstanceAssociated:
			return failAllocation(ctx, in.AllocationUUID, "Unexpected exception during allocation: "+ae.Message())
		case err != nil:
			return fmt.Errorf("reserve a node: %w", err)
		case r.Gone || r.State != node.AllocationAllocating:
			return nil
		case r.WithTraits > 0 && attempt < allocateAttempts:
			if err := workflow.Sleep(ctx, allocateRetryInterval); err != nil {
				return err
			}
			continue
		}
		return failAllocation(ctx, in.AllocationUUID,
			fmt.Sprintf("Failed to process allocation %s: %s.", in.AllocationUUID, allocationFailure(r)))
	}
}

// allocationFailure says why no node was reserved, in Ironic's words.
func allocationFailure(r activities.Reservation) string {
	switch {
	case r.Matching == 0 && r.Candidates:
		return "none of the requested nodes are available and match the resource class " + r.ResourceClass
	case r.Matching == 0:
		return "no available nodes match the resource class " + r.ResourceClass
	case r.WithTraits == 0:
		return "no suitable nodes have the requested traits " + strings.Join(r.Traits, ", ")
	}
	return fmt.Sprintf("could not reserve any of %d suitable nodes", r.WithTraits)
}

// failAllocation records msg on the allocation and fails the run with it.
func failAllocation(ctx workflow.Context, uuid, msg string) error {
	if err := workflow.ExecuteLocalActivity(ctx, a.FailAllocation,
		activities.FailAllocationInput{UUID: uuid, LastError: msg}).Get(ctx, nil); err != nil {
		return fmt.Errorf("record the failure of allocation %s: %w", uuid, err)
	}
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrTypeAllocationFailed, nil)
}
