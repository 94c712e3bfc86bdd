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
	what := "record virtual media of node " + nodeUUID
	raw, err := jsonList(media)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	// The delete and the upsert touch disjoint rows (devices not given,
	// devices given): one statement, one snapshot.
	return q.writeNodeRows(ctx, what, `WITH n AS (SELECT id FROM nodes WHERE uuid = $1::uuid),
		g AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(device_type text, image_url text,
			image_download_source text)),
		del AS (DELETE FROM node_virtual_media v USING n WHERE v.node_id = n.id
			AND v.device_type NOT IN (SELECT device_type FROM g)),
		up AS (INSERT INTO node_virtual_media AS v (node_id, device_type, image_url, image_download_source)
			SELECT n.id, g.device_type, g.image_url, g.image_download_source FROM n, g
			ON CONFLICT (node_id, device_type) DO UPDATE SET image_url = EXCLUDED.image_url,
				image_download_source = EXCLUDED.image_download_source, created_at = now())
		SELECT EXISTS (SELECT 1 FROM n)`, id.String(), raw)
}

// jsonList returns v as a JSON array argument, [] for nil.
func jsonList[E any](v []E) (string, error) {
	if v == nil {
		v = []E{}
	}
	raw, err := json.Marshal(v)
	return string(raw), err
}

// writeNodeRows runs sql, a statement that writes rows of one node and
// returns whether that node exists; what names the write in errors.
// ErrNotFound when the node does not exist.
func (q Queries) writeNodeRows(ctx context.Context, what, sql string, args ...any) error {
	var found bool
	if err := q.db.QueryRow(ctx, sql, args...).Scan(&found); err != nil {
		return fmt.Errorf("%s: %w", what, translate(err, ErrNotFound))
	}
	if !found {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// staleMediaRead is how long a virtual media read nobody took is kept.
const staleMediaRead = "10 minutes"

// SaveMediaRead records what a virtual media read of a node found, under
// the read's ID, and drops every read older than staleMediaRead (the API
// never took them), in one statement. ErrNotFound when the node does
// not exist.
func (q Queries) SaveMediaRead(ctx context.Context, readID, nodeUUID string, devs []drivers.VirtualMedia) error {
	id, err := uuid.Parse(readID)
	if err != nil {
		return fmt.Errorf("record virtual media read %q: %w", readID, ErrNotFound)
	}
	nodeID, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("record virtual media read of node %q: %w", nodeUUID, ErrNotFound)
	}
	what := "record virtual media read of node " + nodeUUID
	raw, err := jsonList(devs)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return q.writeNodeRows(ctx, what, `WITH n AS (SELECT id FROM nodes WHERE uuid = $2::uuid),
		old AS (DELETE FROM node_vmedia_reads WHERE created_at < now() - $4::interval),
		ins AS (INSERT INTO node_vmedia_reads (id, node_id, devices) SELECT $1::uuid, n.id, $3::jsonb FROM n
			ON CONFLICT (id) DO UPDATE SET devices = EXCLUDED.devices)
		SELECT EXISTS (SELECT 1 FROM n)`, id.String(), nodeID.String(), raw, staleMediaRead)
}

// TakeMediaRead returns the devices a virtual media read recorded and
// deletes the record. ErrNotFound when there is none (the read did not
// record one, or it was taken already).
func (q Queries) TakeMediaRead(ctx context.Context, readID string) ([]drivers.VirtualMedia, error) {
	id, err := uuid.Parse(readID)
	if err != nil {
		return nil, fmt.Errorf("virtual media read %q: %w", readID, ErrNotFound)
	}
	var raw []byte
	err = q.db.QueryRow(ctx, `DELETE FROM node_vmedia_reads WHERE id = $1::uuid RETURNING devices`,
		id.String()).Scan(&raw)
	if err != nil {
		return nil, fmt.Errorf("virtual media read %s: %w", readID, translate(err, ErrNotFound))
	}
	var devs []drivers.VirtualMedia
	if err := json.Unmarshal(raw, &devs); err != nil {
		return nil, fmt.Errorf("virtual media read %s: %w", readID, err)
	}
	return devs, nil
}
