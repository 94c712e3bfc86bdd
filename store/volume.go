package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Volume connectors and targets: read over "v" joined to "n" (nodes), their
// node_uuid written as node_id (an unknown node UUID as -1, which the
// foreign key rejects: ErrNotFound).

// volumeNodeCol is the node_uuid column of a volume table.
func volumeNodeCol[T any](p func(*T) *string) column[T] {
	return textCol("node_uuid", p).readAs("n.uuid::text").
		writeTo("node_id", "COALESCE((SELECT id FROM nodes WHERE uuid = %[1]s::uuid), -1)")
}

func volumeConnectorColumns() []column[VolumeConnector] {
	type c = VolumeConnector
	return []column[c]{
		idCol(func(v *c) *int64 { return &v.ID }),
		uuidCol("v", func(v *c) *string { return &v.UUID }),
		volumeNodeCol(func(v *c) *string { return &v.NodeUUID }),
		textCol("type", func(v *c) *string { return &v.Type }).sorted(),
		textCol("connector_id", func(v *c) *string { return &v.ConnectorID }).sorted(),
		jsonCol("extra", func(v *c) *json.RawMessage { return &v.Extra }),
		createdCol(func(v *c) *time.Time { return &v.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(v *c) **time.Time { return &v.UpdatedAt }).insertOnly().sorted(),
	}
}

func volumeTargetColumns() []column[VolumeTarget] {
	type t = VolumeTarget
	return []column[t]{
		idCol(func(v *t) *int64 { return &v.ID }),
		uuidCol("v", func(v *t) *string { return &v.UUID }),
		volumeNodeCol(func(v *t) *string { return &v.NodeUUID }),
		textCol("volume_type", func(v *t) *string { return &v.VolumeType }).sorted(),
		jsonCol("properties", func(v *t) *json.RawMessage { return &v.Properties }),
		valueCol("boot_index", "integer", false, func(v *t) *int32 { return &v.BootIndex }).sorted(),
		textCol("volume_id", func(v *t) *string { return &v.VolumeID }).sorted(),
		jsonCol("extra", func(v *t) *json.RawMessage { return &v.Extra }),
		createdCol(func(v *t) *time.Time { return &v.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(v *t) **time.Time { return &v.UpdatedAt }).insertOnly().sorted(),
	}
}

var (
	volumeConnectorTable = newTable("volume_connectors", "v", "volume connector", " JOIN nodes n ON n.id = v.node_id",
		volumeConnectorColumns())
	volumeTargetTable = newTable("volume_targets", "v", "volume target", " JOIN nodes n ON n.id = v.node_id",
		volumeTargetColumns())
)

// normalizeNodeUUID canonicalizes the node UUID of a write.
func normalizeNodeUUID(p *string) error {
	n, err := uuid.Parse(*p)
	if err != nil {
		return fmt.Errorf("node %q: %w", *p, ErrNotFound)
	}
	*p = n.String()
	return nil
}

// volumeFilter selects the rows of one node and of one project's nodes, if
// l names them.
func volumeFilter(l ListVolume) func(b *queryBuilder) bool {
	return func(b *queryBuilder) bool {
		b.projectCond(l.Project)
		return l.NodeUUID == "" || b.uuidCond("n.uuid", l.NodeUUID)
	}
}

// CreateVolumeConnector inserts v and returns the stored row (a UUID is
// generated when v.UUID is empty, CreatedAt when zero is now).
//
// Errors: ErrExists for a duplicate UUID or (type, connector ID);
// ErrNotFound when v.NodeUUID names no node.
func (q Queries) CreateVolumeConnector(ctx context.Context, v VolumeConnector) (VolumeConnector, error) {
	return volumeConnectorTable.create(ctx, q.db, &v, &v.UUID,
		func(v *VolumeConnector) error { return normalizeNodeUUID(&v.NodeUUID) })
}

// VolumeConnector returns the volume connector with that UUID. ErrNotFound
// when there is none.
func (q Queries) VolumeConnector(ctx context.Context, connectorUUID string) (VolumeConnector, error) {
	return volumeConnectorTable.byUUID(ctx, q.db, connectorUUID)
}

// VolumeConnectorSortKeys returns the sort keys ListVolumeConnectors accepts.
func VolumeConnectorSortKeys() []string { return slices.Clone(volumeConnectorTable.sortKeys) }

// ListVolumeConnectors returns the volume connectors l selects, ordered by
// (l.SortKey, id) and paged by keyset like ListNodes.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when l.MarkerID names no connector.
func (q Queries) ListVolumeConnectors(ctx context.Context, l ListVolume) ([]VolumeConnector, error) {
	return volumeConnectorTable.list(ctx, q.db, listPage{l.SortKey, l.SortDesc, l.MarkerID, l.Limit},
		volumeFilter(l), nil)
}

// UpdateVolumeConnector writes v over the stored connector with the same
// UUID (every field but ID, UUID and CreatedAt), sets UpdatedAt and returns
// the stored row.
//
// Errors: ErrNotFound when the connector is gone or v.NodeUUID names no
// node; ErrExists for a duplicate (type, connector ID).
func (q Queries) UpdateVolumeConnector(ctx context.Context, v VolumeConnector) (VolumeConnector, error) {
	return volumeConnectorTable.update(ctx, q.db, &v, &v.UUID,
		func(v *VolumeConnector) error { return normalizeNodeUUID(&v.NodeUUID) })
}

// DeleteVolumeConnector deletes the connector with that UUID. ErrNotFound
// when there is none.
func (q Queries) DeleteVolumeConnector(ctx context.Context, connectorUUID string) error {
	return volumeConnectorTable.delete(ctx, q.db, connectorUUID, ErrInUse)
}

// CreateVolumeTarget inserts v and returns the stored row (a UUID is
// generated when v.UUID is empty, CreatedAt when zero is now).
//
// Errors: ErrExists for a duplicate UUID or boot index on the node;
// ErrNotFound when v.NodeUUID names no node.
func (q Queries) CreateVolumeTarget(ctx context.Context, v VolumeTarget) (VolumeTarget, error) {
	return volumeTargetTable.create(ctx, q.db, &v, &v.UUID,
		func(v *VolumeTarget) error { return normalizeNodeUUID(&v.NodeUUID) })
}

// VolumeTarget returns the volume target with that UUID. ErrNotFound when
// there is none.
func (q Queries) VolumeTarget(ctx context.Context, targetUUID string) (VolumeTarget, error) {
	return volumeTargetTable.byUUID(ctx, q.db, targetUUID)
}

// VolumeTargetSortKeys returns the sort keys ListVolumeTargets accepts.
func VolumeTargetSortKeys() []string { return slices.Clone(volumeTargetTable.sortKeys) }

// ListVolumeTargets returns the volume targets l selects, ordered by
// (l.SortKey, id) and paged by keyset like ListNodes.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when l.MarkerID names no target.
func (q Queries) ListVolumeTargets(ctx context.Context, l ListVolume) ([]VolumeTarget, error) {
	return volumeTargetTable.list(ctx, q.db, listPage{l.SortKey, l.SortDesc, l.MarkerID, l.Limit},
		volumeFilter(l), nil)
}

// UpdateVolumeTarget writes v over the stored target with the same UUID
// (every field but ID, UUID and CreatedAt), sets UpdatedAt and returns the
// stored row.
//
// Errors: ErrNotFound when the target is gone or v.NodeUUID names no node;
// ErrExists for a duplicate boot index on the node.
func (q Queries) UpdateVolumeTarget(ctx context.Context, v VolumeTarget) (VolumeTarget, error) {
	return volumeTargetTable.update(ctx, q.db, &v, &v.UUID,
		func(v *VolumeTarget) error { return normalizeNodeUUID(&v.NodeUUID) })
}

// DeleteVolumeTarget deletes the target with that UUID. ErrNotFound when
// there is none.
func (q Queries) DeleteVolumeTarget(ctx context.Context, targetUUID string) error {
	return volumeTargetTable.delete(ctx, q.db, targetUUID, ErrInUse)
}
