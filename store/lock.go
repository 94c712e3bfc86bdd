package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// lockNodesSQL reads the nodes whose UUIDs are $1 and locks their rows, in
// id order, so that two writers locking overlapping sets cannot deadlock.
var lockNodesSQL = `SELECT ` + nodeSelect + nodeJoin + ` WHERE n.uuid = ANY($1::uuid[]) ORDER BY n.id FOR UPDATE OF n`

// LockNodes reads the nodes with these UUIDs and holds their rows locked
// until the transaction q runs in ends (Store.InTx; outside a transaction
// the lock ends with the statement). Every writer of a node's row takes the
// same lock (UpdateNode, Transition, SetPower), so what the caller decides
// from the nodes it gets stays true until it commits: a change to a node's
// ports, port groups or volume made this way is ordered before or after a
// workflow's state change, never across it.
//
// It returns the nodes by UUID (canonical form). ErrNotFound when one of
// them does not exist.
func (q Queries) LockNodes(ctx context.Context, uuids ...string) (map[string]Node, error) {
	ids := make([]string, 0, len(uuids))
	for _, s := range uuids {
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("lock node %q: %w", s, ErrNotFound)
		}
		ids = append(ids, u.String())
	}
	rows, err := q.db.Query(ctx, lockNodesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("lock nodes %v: %w", ids, translate(err, ErrNotFound))
	}
	defer rows.Close()
	nodes, err := q.scanNodes(rows, nil)
	if err != nil {
		return nil, fmt.Errorf("lock nodes %v: %w", ids, err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock nodes %v: %w", ids, translate(err, ErrNotFound))
	}
	out := make(map[string]Node, len(nodes))
	for _, n := range nodes {
		out[n.UUID] = n
	}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			return nil, fmt.Errorf("lock node %s: %w", id, ErrNotFound)
		}
	}
	return out, nil
}
