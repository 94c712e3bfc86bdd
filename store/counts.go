package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ferric-project/ferric/node"
)

// CountNodesByProvisionState returns how many nodes are in each provision
// state (states with no node are absent), read in one statement.
func (q Queries) CountNodesByProvisionState(ctx context.Context) (map[node.ProvisionState]int64, error) {
	rows, err := q.db.Query(ctx, `SELECT provision_state, count(*) FROM nodes GROUP BY provision_state`)
	if err != nil {
		return nil, fmt.Errorf("count nodes: %w", unavailable(err))
	}
	counts := map[node.ProvisionState]int64{}
	var state string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		counts[node.ProvisionState(state)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count nodes: %w", unavailable(err))
	}
	return counts, nil
}
