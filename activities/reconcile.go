package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// NodeRef names a node at the version a pass read.
type NodeRef struct {
	UUID    string `json:"uuid"`
	Version int64  `json:"version"`
	// ConductorGroup is the node's conductor group: its workflows run on
	// that group's task queue.
	ConductorGroup string `json:"conductor_group,omitempty"`
}

// ListNodesInProgressInput bounds one reconciler listing.
type ListNodesInProgressInput struct {
	Limit int `json:"limit"`
}

// DefaultReconcileIdle is how long a node must have gone unwritten before
// the reconciler looks at it (Activities.ReconcileIdle).
const DefaultReconcileIdle = time.Minute

// ListNodesInProgress lists nodes that an operation should be holding: in an
// in-progress provision state (busy, waiting or held) or with a target power state,
// and unwritten for ReconcileIdle (an operation that just moved them is
// certainly alive). Whether an operation still holds each one is for the
// reconciler workflow to find out, on the node's lock.
func (a *Activities) ListNodesInProgress(ctx context.Context, in ListNodesInProgressInput) ([]NodeRef, error) {
	idle := a.ReconcileIdle
	if idle == 0 {
		idle = DefaultReconcileIdle
	}
	refs, err := a.Nodes.NodesInProgress(ctx, store.InProgressQuery{States: node.InProgressStates(), Idle: max(idle, 0), Limit: in.Limit})
	if err != nil {
		return nil, classify(fmt.Errorf("list nodes in progress: %w", err))
	}
	out := make([]NodeRef, len(refs))
	for i, r := range refs {
		out[i] = NodeRef{UUID: r.UUID, Version: r.Version, ConductorGroup: r.ConductorGroup}
	}
	return out, nil
}
