package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// portgroupColumns are a Portgroup's fields as columns of the portgroups
// table, read over "g" (portgroups or a CTE returning portgroups rows)
// joined to "n" (nodes). node_uuid is written as node_id, an unknown node
// UUID as -1, which the foreign key rejects (ErrNotFound).
func portgroupColumns() []column[Portgroup] {
	opt := optTextCol[Portgroup]
	js := jsonCol[Portgroup]
	return []column[Portgroup]{
		idCol(func(g *Portgroup) *int64 { return &g.ID }),
		uuidCol("g", func(g *Portgroup) *string { return &g.UUID }),
		opt("name", func(g *Portgroup) **string { return &g.Name }).sorted(),
		textCol("node_uuid", func(g *Portgroup) *string { return &g.NodeUUID }).readAs("n.uuid::text").
			writeTo("node_id", "COALESCE((SELECT id FROM nodes WHERE uuid = %[1]s::uuid), -1)"),
		opt("address", func(g *Portgroup) **string { return &g.Address }).sorted(),
		opt("mode", func(g *Portgroup) **string { return &g.Mode }).sorted(),
		js("properties", func(g *Portgroup) *json.RawMessage { return &g.Properties }),
		boolCol("standalone_ports_supported", func(g *Portgroup) *bool { return &g.StandalonePortsSupported }).sorted(),
		js("extra", func(g *Portgroup) *json.RawMessage { return &g.Extra }),
		js("internal_info", func(g *Portgroup) *json.RawMessage { return &g.InternalInfo }),
		createdCol(func(g *Portgroup) *time.Time { return &g.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(g *Portgroup) **time.Time { return &g.UpdatedAt }).insertOnly().sorted(),
	}
}

// portgroupTable is portgroupColumns with the SQL they build.
var portgroupTable = newTable("portgroups", "g", "portgroup", " JOIN nodes n ON n.id = g.node_id",
	portgroupColumns())

// normalizePortgroup checks g's node UUID for a write and canonicalizes it
// and the address.
func normalizePortgroup(g *Portgroup) error {
	if g.Address != nil {
		a := normalizeMAC(*g.Address)
		g.Address = &a
	}
	n, err := uuid.Parse(g.NodeUUID)
	if err != nil {
		return fmt.Errorf("node %q: %w", g.NodeUUID, ErrNotFound)
	}
	g.NodeUUID = n.String()
	return nil
}

// CreatePortgroup inserts g and returns the stored row: every field as given
// except ID. A UUID (v4) is generated when g.UUID is empty, CreatedAt when
// zero is now, the address is stored in lower case and absent JSON fields
// become {}.
//
// Errors: ErrExists for a duplicate UUID, name or address; ErrNotFound when
// g.NodeUUID names no node; ErrInvalidArgument for a malformed UUID.
func (q Queries) CreatePortgroup(ctx context.Context, g Portgroup) (Portgroup, error) {
	return portgroupTable.create(ctx, q.db, &g, &g.UUID, normalizePortgroup)
}

// Portgroup returns the port group whose UUID is ident when ident parses as
// a UUID, else the one named ident. ErrNotFound when there is none.
func (q Queries) Portgroup(ctx context.Context, ident string) (Portgroup, error) {
	return portgroupTable.byIdent(ctx, q.db, ident)
}

// PortgroupSortKeys returns the sort keys ListPortgroups accepts.
func PortgroupSortKeys() []string { return slices.Clone(portgroupTable.sortKeys) }

// ListPortgroups returns the port groups l selects, ordered by (l.SortKey,
// id) and paged by keyset like ListNodes.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when l.MarkerID names no port group.
func (q Queries) ListPortgroups(ctx context.Context, l ListPortgroups) ([]Portgroup, error) {
	return portgroupTable.list(ctx, q.db, listPage{l.SortKey, l.SortDesc, l.MarkerID, l.Limit},
		func(b *queryBuilder) bool {
			if l.NodeUUID != "" && !b.uuidCond("n.uuid", l.NodeUUID) {
				return false
			}
			if l.Address != "" {
				b.cond("g.address = %s::text", normalizeMAC(l.Address))
			}
			b.projectCond(l.Project)
			return true
		}, nil)
}

// UpdatePortgroup writes g over the stored port group with the same UUID
// (every field but ID, UUID and CreatedAt; it may move the group to another
// node), sets UpdatedAt and returns the stored row.
//
// Errors: ErrNotFound when the port group is gone or g.NodeUUID names no
// node, and when the group would move to another node while ports are its
// members (the foreign key refuses; callers check membership first);
// ErrExists for a duplicate name or address.
func (q Queries) UpdatePortgroup(ctx context.Context, g Portgroup) (Portgroup, error) {
	return portgroupTable.update(ctx, q.db, &g, &g.UUID, normalizePortgroup)
}

// DeletePortgroup deletes the port group with that UUID. ErrNotFound when
// there is none, ErrInUse while ports are its members.
func (q Queries) DeletePortgroup(ctx context.Context, portgroupUUID string) error {
	return portgroupTable.delete(ctx, q.db, portgroupUUID, ErrInUse)
}
