package api

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/store"
)

// Writes under the node lock.
//
// Ironic's conductor changes a node's ports, port groups, VIFs and volume
// under the node's reservation (task_manager.acquire): while another
// operation holds it, the change answers NodeLocked (409); while the change
// runs, no operation can start. In ferric the reservation of an operation is
// its workflow (ID node/<uuid>), and what an operation holding it does shows
// in the node's row: a busy provision state (deploying, cleaning, verifying,
// inspecting, ...) or a target power state. These short changes are not run
// as workflows (a workflow per PATCH would cost a Temporal round trip and put
// user data into workflow history for a single-statement write); they run as
// conditional writes, like the node PATCH and the power sync:
//
//   - one transaction locks the rows of the nodes concerned (LockNodes, the
//     row lock every Transition and node update takes too), so the write is
//     ordered entirely before or entirely after a workflow's state change;
//   - under that lock it answers NodeLocked when an operation holds one of
//     the nodes, then applies Ironic's rules to the nodes and objects as they
//     are now (read in the transaction), and writes;
//   - any refusal rolls the transaction back: nothing is written.
//
// An operation in a wait state (wait call-back, clean wait, inspect wait)
// does not hold Ironic's reservation, and does not here: Ironic's state rules
// decide (a port's connectivity cannot change while the node is deploying,
// whatever the lock).

// errStale says that what a handler read before taking the lock changed
// meanwhile (a port group moved to another node): it reads again.
var errStale = errors.New("changed before the node lock was taken")

// operationHolds reports whether an operation holds n as Ironic's conductor
// holds its reservation: n is in a busy provision state or a power change
// is under way.
func operationHolds(n *store.Node) bool {
	return n.ProvisionState.Busy() || n.TargetPowerState != ""
}

// lockedWrite runs fn in one transaction holding the row locks of the nodes
// with these UUIDs (canonical; duplicates allowed), after answering
// NodeLocked if an operation holds one of them. fn gets the nodes as they
// are under the lock and writes through q; its error rolls everything back.
// A node that is gone answers Ironic's 404 for it; errStale from fn reads
// again, a few times.
func (s *Server) lockedWrite(c *fiber.Ctx, nodeUUIDs []string, fn func(q store.Queries, nodes map[string]store.Node) error) error {
	ctx := c.UserContext()
	uuids := slices.Compact(slices.Sorted(slices.Values(nodeUUIDs)))
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		nodes, err := q.LockNodes(ctx, uuids...)
		if err != nil {
			return err
		}
		for _, u := range uuids {
			if n := nodes[u]; operationHolds(&n) {
				return s.nodeLocked(n.UUID)
			}
		}
		return fn(q, nodes)
	})
	var ae *apiError
	if err == nil || errors.As(err, &ae) || errors.Is(err, errStale) {
		return err
	}
	return fmt.Errorf("write under the lock of %v: %w", uuids, err)
}

// rewriteLocked runs write under the lock of the node(s) of an object, *obj
// as last read: lock names them (nil: the object's own node, nodeOf). Under
// the lock reread reads the object again; when it has moved to another node
// meanwhile, *obj takes the fresh copy and it all runs again (retryStale).
// write gets the locked nodes and the object as it is under the lock.
func rewriteLocked[T any](s *Server, c *fiber.Ctx, obj *T, nodeOf func(*T) string,
	reread func(ctx context.Context, q store.Queries) (T, error), lock func() ([]string, error),
	write func(q store.Queries, nodes map[string]store.Node, cur T) error) error {
	return retryStale(func() error {
		nodeUUIDs := []string{nodeOf(obj)}
		if lock != nil {
			var err error
			if nodeUUIDs, err = lock(); err != nil {
				return err
			}
		}
		return s.lockedWrite(c, nodeUUIDs, func(q store.Queries, nodes map[string]store.Node) error {
			cur, err := reread(c.UserContext(), q)
			if err != nil {
				return err
			}
			if nodeOf(&cur) != nodeOf(obj) {
				*obj = cur
				return errStale
			}
			return write(q, nodes, cur)
		})
	})
}

// retryStale runs write until it does not answer errStale, a few times.
func retryStale(write func() error) error {
	var err error
	for range conflictRetries {
		if err = write(); !errors.Is(err, errStale) {
			return err
		}
	}
	return conflict("The resource was updated concurrently, please retry.")
}
