package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Inventory is a node's stored hardware inventory: the inventory and
// plugin_data parts of an inspection's document, exactly as submitted.
type Inventory struct {
	NodeUUID   string
	Inventory  []byte
	PluginData []byte
	Source     string // "agent" or the inspect interface
	CreatedAt  time.Time
	// AppliedAt: for inspection data a ramdisk posted, when its
	// inspection applied it (nil: not yet).
	AppliedAt *time.Time
}

// SetInventory stores (replaces) a node's inventory. ErrNotFound when the
// node does not exist.
func (q Queries) SetInventory(ctx context.Context, inv Inventory) error {
	id, err := uuid.Parse(inv.NodeUUID)
	if err != nil {
		return fmt.Errorf("set inventory of node %q: %w", inv.NodeUUID, ErrNotFound)
	}
	tag, err := q.db.Exec(ctx, `INSERT INTO node_inventory (node_id, inventory, plugin_data, source)
		SELECT n.id, $2::text, $3::text, $4::text FROM nodes n WHERE n.uuid = $1::uuid
		ON CONFLICT (node_id) DO UPDATE SET inventory = EXCLUDED.inventory, plugin_data = EXCLUDED.plugin_data,
			source = EXCLUDED.source, created_at = now()`,
		id.String(), string(inv.Inventory), string(inv.PluginData), inv.Source)
	if err != nil {
		return fmt.Errorf("set inventory of node %s: %w", inv.NodeUUID, translate(err, ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set inventory of node %s: %w", inv.NodeUUID, ErrNotFound)
	}
	return nil
}

// NodeInventory returns a node's inventory. ErrNotFound when the node has
// none (never inspected) or does not exist.
func (q Queries) NodeInventory(ctx context.Context, nodeUUID string) (Inventory, error) {
	var inv Inventory
	err := q.readInventory(ctx, "inventory", nodeUUID, &inv, `SELECT n.uuid::text, i.inventory, i.plugin_data, i.source, i.created_at
		FROM node_inventory i JOIN nodes n ON n.id = i.node_id WHERE n.uuid = $1::uuid`, &inv.Source, &inv.CreatedAt)
	if err != nil {
		return Inventory{}, err
	}
	return inv, nil
}

// readInventory reads into inv the one row query selects for a node ($1):
// its UUID, the inventory and plugin data documents, then the columns into
// rest. what names the read in errors; ErrNotFound when there is no row.
func (q Queries) readInventory(ctx context.Context, what, nodeUUID string, inv *Inventory, query string, rest ...any) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("get %s of node %q: %w", what, nodeUUID, ErrNotFound)
	}
	var doc, plugin string
	if err := q.db.QueryRow(ctx, query, id.String()).Scan(append([]any{&inv.NodeUUID, &doc, &plugin}, rest...)...); err != nil {
		return fmt.Errorf("get %s of node %s: %w", what, nodeUUID, translate(err, ErrNotFound))
	}
	inv.Inventory, inv.PluginData = []byte(doc), []byte(plugin)
	return nil
}

// SubmitInspectionData keeps the inspection data a ramdisk posted for a
// node until its inspection workflow processes it. It writes only while
// the node is in inspect wait (ErrInvalidState otherwise, ErrNotFound for
// no node) and once per inspection: a second post while one is pending is
// ErrExists (data left from an earlier inspection is replaced).
func (q Queries) SubmitInspectionData(ctx context.Context, nodeUUID string, inventory, pluginData []byte) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("submit inspection data of node %q: %w", nodeUUID, ErrNotFound)
	}
	var state string
	var written bool
	err = q.db.QueryRow(ctx, `WITH n AS (SELECT id, provision_state, inspection_started_at FROM nodes WHERE uuid = $1::uuid),
		ins AS (INSERT INTO inspection_data (node_id, inventory, plugin_data)
			SELECT n.id, $2::text, $3::text FROM n WHERE n.provision_state = 'inspect wait'
			ON CONFLICT (node_id) DO UPDATE SET inventory = EXCLUDED.inventory, plugin_data = EXCLUDED.plugin_data,
				created_at = now(), applied_at = NULL
			WHERE inspection_data.created_at < coalesce((SELECT inspection_started_at FROM n), '-infinity')
			RETURNING node_id)
		SELECT n.provision_state, EXISTS (SELECT 1 FROM ins) FROM n`,
		id.String(), string(inventory), string(pluginData)).Scan(&state, &written)
	if err != nil {
		return fmt.Errorf("submit inspection data of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	switch {
	case written:
		return nil
	case state != "inspect wait":
		return fmt.Errorf("submit inspection data of node %s in %q: %w", nodeUUID, state, ErrInvalidState)
	default:
		return fmt.Errorf("submit inspection data of node %s: one is pending: %w", nodeUUID, ErrExists)
	}
}

// InspectionData returns the inspection data posted for a node (as
// Inventory, Source "agent"; AppliedAt set once its inspection applied
// it). ErrNotFound when there is none.
func (q Queries) InspectionData(ctx context.Context, nodeUUID string) (Inventory, error) {
	inv := Inventory{Source: "agent"}
	err := q.readInventory(ctx, "inspection data", nodeUUID, &inv, `SELECT n.uuid::text, d.inventory, d.plugin_data, d.created_at, d.applied_at
		FROM inspection_data d JOIN nodes n ON n.id = d.node_id WHERE n.uuid = $1::uuid`, &inv.CreatedAt, &inv.AppliedAt)
	if err != nil {
		return Inventory{}, err
	}
	return inv, nil
}

// DeleteInspectionData removes the inspection data pending for a node, if
// any.
func (q Queries) DeleteInspectionData(ctx context.Context, nodeUUID string) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return nil
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM inspection_data d USING nodes n
		WHERE n.id = d.node_id AND n.uuid = $1::uuid`, id.String()); err != nil {
		return fmt.Errorf("delete inspection data of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	return nil
}

// MarkInspectionApplied marks the inspection data posted for a node as
// applied by its inspection (once: a second mark keeps the first time).
// Marking a node without posted data is not an error.
func (q Queries) MarkInspectionApplied(ctx context.Context, nodeUUID string) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return nil
	}
	if _, err := q.db.Exec(ctx, `UPDATE inspection_data d SET applied_at = now() FROM nodes n
		WHERE n.id = d.node_id AND n.uuid = $1::uuid AND d.applied_at IS NULL`, id.String()); err != nil {
		return fmt.Errorf("mark inspection data of node %s applied: %w", nodeUUID, translate(err, ErrNotFound))
	}
	return nil
}
