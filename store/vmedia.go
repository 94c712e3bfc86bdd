package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/drivers"
)

// AttachedMedia returns the virtual media recorded as attached to a node,
// in device type order. ErrNotFound when the node does not exist.
func (q Queries) AttachedMedia(ctx context.Context, nodeUUID string) ([]drivers.AttachedMedia, error) {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return nil, fmt.Errorf("virtual media of node %q: %w", nodeUUID, ErrNotFound)
	}
	var (
		found bool
		raw   []byte
	)
	err = q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM nodes WHERE uuid = $1::uuid),
		(SELECT coalesce(jsonb_agg(jsonb_build_object('device_type', v.device_type, 'image_url', v.image_url,
			'image_download_source', v.image_download_source) ORDER BY v.device_type), '[]'::jsonb)
		 FROM node_virtual_media v JOIN nodes n ON n.id = v.node_id WHERE n.uuid = $1::uuid)`,
		id.String()).Scan(&found, &raw)
	if err != nil {
		return nil, fmt.Errorf("virtual media of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	if !found {
		return nil, fmt.Errorf("virtual media of node %s: %w", nodeUUID, ErrNotFound)
	}
	out := []drivers.AttachedMedia{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("virtual media of node %s: %w", nodeUUID, err)
	}
	return out, nil
}

// SetAttachedMedia records what is attached to a node now (replacing the
// previous record) in one statement. ErrNotFound when the node does not
// exist.
func (q Queries) SetAttachedMedia(ctx context.Context, nodeUUID string, media []drivers.AttachedMedia) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("record virtual media of node %q: %w", nodeUUID, ErrNotFound)
	}
	if media == nil {
		media = []drivers.AttachedMedia{}
	}
	raw, err := json.Marshal(media)
	if err != nil {
		return fmt.Errorf("record virtual media of node %s: %w", nodeUUID, err)
	}
	var found bool
	// The delete and the upsert touch disjoint rows (devices not given,
	// devices given): one statement, one snapshot.
	err = q.db.QueryRow(ctx, `WITH n AS (SELECT id FROM nodes WHERE uuid = $1::uuid),
		g AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(device_type text, image_url text,
			image_download_source text)),
		del AS (DELETE FROM node_virtual_media v USING n WHERE v.node_id = n.id
			AND v.device_type NOT IN (SELECT device_type FROM g)),
		up AS (INSERT INTO node_virtual_media AS v (node_id, device_type, image_url, image_download_source)
			SELECT n.id, g.device_type, g.image_url, g.image_download_source FROM n, g
			ON CONFLICT (node_id, device_type) DO UPDATE SET image_url = EXCLUDED.image_url,
				image_download_source = EXCLUDED.image_download_source, created_at = now())
		SELECT EXISTS (SELECT 1 FROM n)`, id.String(), string(raw)).Scan(&found)
	if err != nil {
		return fmt.Errorf("record virtual media of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	if !found {
		return fmt.Errorf("record virtual media of node %s: %w", nodeUUID, ErrNotFound)
	}
	return nil
}
