package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ferric-project/ferric/drivers"
)

// BIOSSetting is one of a node's BIOS settings as last applied or read
// (Ironic's bios_settings row), with the registry fields of API 1.74.
type BIOSSetting struct {
	drivers.BIOSSetting
	CreatedAt time.Time
	UpdatedAt *time.Time
}

const biosColumns = `b.name, b.value, b.attribute_type, b.allowable_values, b.lower_bound, b.upper_bound,
	b.min_length, b.max_length, b.read_only, b.reset_required, b.is_unique, b.created_at, b.updated_at`

func scanBIOS(row pgx.Row, s *BIOSSetting) error {
	var allowed []byte
	if err := row.Scan(&s.Name, &s.Value, &s.AttributeType, &allowed, &s.LowerBound, &s.UpperBound,
		&s.MinLength, &s.MaxLength, &s.ReadOnly, &s.ResetRequired, &s.Unique, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return err
	}
	if len(allowed) > 0 {
		if err := json.Unmarshal(allowed, &s.AllowableValues); err != nil {
			return fmt.Errorf("allowable_values of %s: %w", s.Name, err)
		}
	}
	return nil
}

// BIOSSettings returns a node's BIOS settings ordered by name. ErrNotFound
// when the node does not exist.
func (q Queries) BIOSSettings(ctx context.Context, nodeUUID string) ([]BIOSSetting, error) {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return nil, fmt.Errorf("BIOS settings of node %q: %w", nodeUUID, ErrNotFound)
	}
	rows, err := q.db.Query(ctx, `SELECT `+biosColumns+` FROM bios_settings b JOIN nodes n ON n.id = b.node_id
		WHERE n.uuid = $1::uuid ORDER BY b.name`, id.String())
	if err != nil {
		return nil, fmt.Errorf("BIOS settings of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	defer rows.Close()
	var out []BIOSSetting
	for rows.Next() {
		var s BIOSSetting
		if err := scanBIOS(rows, &s); err != nil {
			return nil, fmt.Errorf("BIOS settings of node %s: %w", nodeUUID, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("BIOS settings of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	if len(out) == 0 {
		var exists bool
		if err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM nodes WHERE uuid = $1::uuid)`, id.String()).
			Scan(&exists); err != nil {
			return nil, fmt.Errorf("BIOS settings of node %s: %w", nodeUUID, translate(err, ErrNotFound))
		}
		if !exists {
			return nil, fmt.Errorf("BIOS settings of node %s: %w", nodeUUID, ErrNotFound)
		}
	}
	return out, nil
}

// BIOSSettingNamed returns one of a node's BIOS settings. ErrNotFound when
// the node has no such setting (or does not exist).
func (q Queries) BIOSSettingNamed(ctx context.Context, nodeUUID, name string) (BIOSSetting, error) {
	var s BIOSSetting
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return s, fmt.Errorf("BIOS setting %q of node %q: %w", name, nodeUUID, ErrNotFound)
	}
	err = scanBIOS(q.db.QueryRow(ctx, `SELECT `+biosColumns+` FROM bios_settings b JOIN nodes n ON n.id = b.node_id
		WHERE n.uuid = $1::uuid AND b.name = $2::text`, id.String(), name), &s)
	if err != nil {
		return s, fmt.Errorf("BIOS setting %q of node %s: %w", name, nodeUUID, translate(err, ErrNotFound))
	}
	return s, nil
}

// ApplyBIOSChange records a change of a node's BIOS settings in one
// statement: a reset deletes them all; otherwise the settings given are
// synchronized as Ironic's fake BIOS interface does (drivers.BIOSChange).
// ErrNotFound when the node does not exist.
func (q Queries) ApplyBIOSChange(ctx context.Context, nodeUUID string, c drivers.BIOSChange) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("BIOS settings of node %q: %w", nodeUUID, ErrNotFound)
	}
	what := "BIOS settings of node " + nodeUUID
	if c.Reset {
		return q.writeNodeRows(ctx, what, `WITH n AS (SELECT id FROM nodes WHERE uuid = $1::uuid),
			del AS (DELETE FROM bios_settings b USING n WHERE b.node_id = n.id)
			SELECT EXISTS (SELECT 1 FROM n)`, id.String())
	}
	raw, err := jsonList(c.Settings)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	// The delete and the upsert touch disjoint rows (names not given,
	// names given): one statement, one snapshot.
	return q.writeNodeRows(ctx, what, `WITH n AS (SELECT id FROM nodes WHERE uuid = $1::uuid),
			g AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(name text, value text, attribute_type text,
				allowable_values jsonb, lower_bound bigint, upper_bound bigint, min_length bigint, max_length bigint,
				read_only boolean, reset_required boolean, "unique" boolean)),
			del AS (DELETE FROM bios_settings b USING n WHERE b.node_id = n.id
				AND b.name NOT IN (SELECT name FROM g)),
			up AS (INSERT INTO bios_settings AS b (node_id, name, value, attribute_type, allowable_values,
					lower_bound, upper_bound, min_length, max_length, read_only, reset_required, is_unique)
				SELECT n.id, g.name, g.value, g.attribute_type, g.allowable_values, g.lower_bound, g.upper_bound,
					g.min_length, g.max_length, g.read_only, g.reset_required, g."unique" FROM n, g
				ON CONFLICT (node_id, name) DO UPDATE SET value = EXCLUDED.value,
					attribute_type = EXCLUDED.attribute_type, allowable_values = EXCLUDED.allowable_values,
					lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound,
					min_length = EXCLUDED.min_length, max_length = EXCLUDED.max_length,
					read_only = EXCLUDED.read_only, reset_required = EXCLUDED.reset_required,
					is_unique = EXCLUDED.is_unique, updated_at = now()
				WHERE b.value IS DISTINCT FROM EXCLUDED.value)
			SELECT EXISTS (SELECT 1 FROM n)`, id.String(), raw)
}

// SetRAIDInfo records the RAID configuration a RAID step left on a node:
// raid_config, and properties (the root volume's size and hints).
// ErrNotFound when the node does not exist.
func (q Queries) SetRAIDInfo(ctx context.Context, nodeUUID string, raidConfig, properties json.RawMessage) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("record RAID configuration of node %q: %w", nodeUUID, ErrNotFound)
	}
	tag, err := q.db.Exec(ctx, `UPDATE nodes SET raid_config = $2::jsonb, properties = $3::jsonb,
		version = version + 1, updated_at = now() WHERE uuid = $1::uuid`,
		id.String(), jsonObject(raidConfig), jsonObject(properties))
	if err != nil {
		return fmt.Errorf("record RAID configuration of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record RAID configuration of node %s: %w", nodeUUID, ErrNotFound)
	}
	return nil
}
