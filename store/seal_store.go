package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// ResealSecrets rewrites every node's driver_info whose secrets are not
// sealed under the key ring's current key (sealed under an older key, or
// stored in clear before a key file was given), each with an optimistic
// compare-and-set; a node that changed meanwhile is tried again. It returns
// how many nodes it rewrote. ErrInvalidArgument without a key ring.
func (s *Store) ResealSecrets(ctx context.Context) (int, error) {
	if s.ring == nil {
		return 0, fmt.Errorf("reseal secrets: no key file: %w", ErrInvalidArgument)
	}
	rewritten := 0
	for attempt := 0; attempt < 5; attempt++ {
		rows, err := s.db.Query(ctx, `SELECT uuid::text, version, driver_info::text FROM nodes ORDER BY id`)
		if err != nil {
			return rewritten, fmt.Errorf("reseal secrets: %w", err)
		}
		type todo struct {
			uuid    string
			version int64
			info    json.RawMessage
		}
		var work []todo
		for rows.Next() {
			var t todo
			var raw string
			if err := rows.Scan(&t.uuid, &t.version, &raw); err != nil {
				rows.Close()
				return rewritten, fmt.Errorf("reseal secrets: %w", err)
			}
			sealed, err := s.ring.SealJSON(json.RawMessage(raw), t.uuid)
			if err != nil {
				rows.Close()
				return rewritten, fmt.Errorf("reseal secrets of node %s: %w", t.uuid, err)
			}
			if string(sealed) != raw {
				t.info = sealed
				work = append(work, t)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return rewritten, fmt.Errorf("reseal secrets: %w", err)
		}
		lost := 0
		for _, t := range work {
			tag, err := s.db.Exec(ctx, `UPDATE nodes SET driver_info = $3::jsonb, version = version + 1, updated_at = now()
				WHERE uuid = $1::uuid AND version = $2::bigint`, t.uuid, t.version, string(t.info))
			if err != nil {
				return rewritten, fmt.Errorf("reseal secrets of node %s: %w", t.uuid, err)
			}
			if tag.RowsAffected() == 1 {
				rewritten++
			} else {
				lost++
			}
		}
		if lost == 0 {
			return rewritten, nil
		}
	}
	return rewritten, fmt.Errorf("reseal secrets: nodes kept changing: %w", ErrConflict)
}
