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
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return Inventory{}, fmt.Errorf("get inventory of node %q: %w", nodeUUID, ErrNotFound)
	}
	var inv Inventory
	var doc, plugin string
	err = q.db.QueryRow(ctx, `SELECT n.uuid::text, i.inventory, i.plugin_data, i.source, i.created_at
		FROM node_inventory i JOIN nodes n ON n.id = i.node_id WHERE n.uuid = $1::uuid`, id.String()).
		Scan(&inv.NodeUUID, &doc, &plugin, &inv.Source, &inv.CreatedAt)
	if err != nil {
		return Inventory{}, fmt.Errorf("get inventory of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	inv.Inventory, inv.PluginData = []byte(doc), []byte(plugin)
	return inv, nil
}
