package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// AllocationStore is what the allocation activities need of the store;
// *store.Store satisfies it.
type AllocationStore interface {
	ReserveNode(ctx context.Context, allocUUID string) (store.Reservation, error)
	FailAllocation(ctx context.Context, allocUUID, lastError string) (store.Allocation, error)
}

// Reservation is what ReserveAllocationNode found (see store.Reservation):
// the allocation's request and state, and the counts that say why no node
// was reserved.
type Reservation struct {
	Gone          bool                 `json:"gone,omitempty"`
	State         node.AllocationState `json:"state,omitempty"`
	NodeUUID      string               `json:"node_uuid,omitempty"`
	ResourceClass string               `json:"resource_class,omitempty"`
	Traits        []string             `json:"traits,omitempty"`
	Candidates    bool                 `json:"candidates,omitempty"` // the request named candidate nodes
	Matching      int                  `json:"matching"`
	WithTraits    int                  `json:"with_traits"`
}

// ReserveAllocationNode reserves an available node matching the allocation
// allocUUID, if it is still allocating, in one conditional store write.
// The allocation's UUID being another node's instance_uuid is a
// non-retryable ErrTypeInstanceAssociated.
func (a *Activities) ReserveAllocationNode(ctx context.Context, allocUUID string) (Reservation, error) {
	if a.Allocations == nil {
		return Reservation{}, temporal.NewNonRetryableApplicationError("this worker has no allocation store",
			contract.ErrTypeUnsupported, nil)
	}
	r, err := a.Allocations.ReserveNode(ctx, allocUUID)
	if errors.Is(err, store.ErrExists) {
		return Reservation{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("Instance %s is already associated with a node", allocUUID),
			contract.ErrTypeInstanceAssociated, err)
	}
	if err != nil {
		return Reservation{}, classify(fmt.Errorf("reserve a node for allocation %s: %w", allocUUID, err))
	}
	al := r.Allocation
	out := Reservation{Gone: r.Gone, State: al.State, Traits: al.Traits, Candidates: len(al.CandidateNodes) > 0,
		Matching: r.Matching, WithTraits: r.WithTraits}
	if al.NodeUUID != nil {
		out.NodeUUID = *al.NodeUUID
	}
	if al.ResourceClass != nil {
		out.ResourceClass = *al.ResourceClass
	}
	return out, nil
}

// FailAllocationInput records an allocation's failure.
type FailAllocationInput struct {
	UUID      string `json:"uuid"`
	LastError string `json:"last_error"`
}

// FailAllocation records that an allocation still allocating failed (state
// error, last_error). An allocation deleted meanwhile is no error.
func (a *Activities) FailAllocation(ctx context.Context, in FailAllocationInput) error {
	if a.Allocations == nil {
		return temporal.NewNonRetryableApplicationError("this worker has no allocation store",
			contract.ErrTypeUnsupported, nil)
	}
	if _, err := a.Allocations.FailAllocation(ctx, in.UUID, in.LastError); err != nil && !errors.Is(err, store.ErrNotFound) {
		return classify(fmt.Errorf("fail allocation %s: %w", in.UUID, err))
	}
	return nil
}
