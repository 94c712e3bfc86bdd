package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// ReconcileStore is what the reconciler needs of the store; *store.Store
// satisfies it.
type ReconcileStore interface {
	NodesInProgress(ctx context.Context, q store.InProgressQuery) ([]store.NodeRef, error)
}

// NodeRef names a node at the version a pass read.
type NodeRef struct {
	UUID    string `json:"uuid"`
	Version int64  `json:"version"`
}

// ListNodesInProgressInput bounds one reconciler listing.
type ListNodesInProgressInput struct {
	// IdleSeconds skips nodes written more recently (an operation that just
	// moved them is certainly alive).
	IdleSeconds int `json:"idle_seconds"`
	Limit       int `json:"limit"`
}

// ListNodesInProgress lists nodes that an operation should be holding: in an
// in-progress provision state (busy or waiting) or with a target power state,
// idle for a while. Whether an operation still holds each one is for the
// reconciler workflow to find out, on the node's lock.
func (a *Activities) ListNodesInProgress(ctx context.Context, in ListNodesInProgressInput) ([]NodeRef, error) {
	st, ok := a.Nodes.(ReconcileStore)
	if !ok {
		return nil, nil
	}
	states := append(node.BusyStates(), node.WaitStates()...)
	refs, err := st.NodesInProgress(ctx, store.InProgressQuery{States: states,
		Idle: time.Duration(in.IdleSeconds) * time.Second, Limit: in.Limit})
	if err != nil {
		return nil, classify(fmt.Errorf("list nodes in progress: %w", err))
	}
	out := make([]NodeRef, len(refs))
	for i, r := range refs {
		out[i] = NodeRef{UUID: r.UUID, Version: r.Version}
	}
	return out, nil
}
