package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// portColumns are a Port's fields as columns of the ports table, read over
// "p" (ports or a CTE returning ports rows) joined to "n" (nodes) and left
// joined to "pg" (portgroups). node_uuid is written as node_id and
// portgroup_uuid as portgroup_id: an unknown UUID becomes -1, which the
// foreign key rejects (ErrNotFound) in the same statement; so does a port
// group on another node than the port's.
func portColumns() []column[Port] {
	opt := optTextCol[Port]
	js := jsonCol[Port]
	return []column[Port]{
		idCol(func(p *Port) *int64 { return &p.ID }),
		uuidCol("p", func(p *Port) *string { return &p.UUID }),
		textCol("address", func(p *Port) *string { return &p.Address }).sorted(),
		textCol("node_uuid", func(p *Port) *string { return &p.NodeUUID }).readAs("n.uuid::text").
			writeTo("node_id", "COALESCE((SELECT id FROM nodes WHERE uuid = %[1]s::uuid), -1)"),
		opt("portgroup_uuid", func(p *Port) **string { return &p.PortgroupUUID }).readAs("pg.uuid::text").
			writeTo("portgroup_id",
				`CASE WHEN %[1]s::uuid IS NULL THEN NULL ELSE COALESCE((SELECT id FROM portgroups WHERE uuid = %[1]s::uuid), -1) END`),
		js("local_link_connection", func(p *Port) *json.RawMessage { return &p.LocalLinkConnection }),
		boolCol("pxe_enabled", func(p *Port) *bool { return &p.PXEEnabled }),
		opt("physical_network", func(p *Port) **string { return &p.PhysicalNetwork }),
		js("extra", func(p *Port) *json.RawMessage { return &p.Extra }),
		js("internal_info", func(p *Port) *json.RawMessage { return &p.InternalInfo }),
		boolCol("is_smartnic", func(p *Port) *bool { return &p.IsSmartNIC }),
		opt("name", func(p *Port) **string { return &p.Name }),
		createdCol(func(p *Port) *time.Time { return &p.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(p *Port) **time.Time { return &p.UpdatedAt }).insertOnly().sorted(),
	}
}

// portTable is portColumns with the SQL they build.
var portTable = newTable("ports", "p", "port",
	" JOIN nodes n ON n.id = p.node_id LEFT JOIN portgroups pg ON pg.id = p.portgroup_id", portColumns())

// normalizeMAC returns a MAC address as stored: trimmed and lower case.
func normalizeMAC(mac string) string { return strings.ToLower(strings.TrimSpace(mac)) }

// normalizePort checks p's address and node UUID for a write and
// canonicalizes them.
func normalizePort(p *Port) error {
	p.Address = normalizeMAC(p.Address)
	if p.Address == "" {
		return fmt.Errorf("empty address: %w", ErrInvalidArgument)
	}
	n, err := uuid.Parse(p.NodeUUID)
	if err != nil {
		return fmt.Errorf("node %q: %w", p.NodeUUID, ErrNotFound)
	}
	p.NodeUUID = n.String()
	if p.PortgroupUUID != nil {
		g, err := uuid.Parse(*p.PortgroupUUID)
		if err != nil {
			return fmt.Errorf("portgroup %q: %w", *p.PortgroupUUID, ErrNotFound)
		}
		s := g.String()
		p.PortgroupUUID = &s
	}
	return nil
}

// CreatePort inserts p and returns the stored row: every field as given
// except ID. A UUID (v4) is generated when p.UUID is empty, CreatedAt when
// zero is now, the address is stored in lower case and absent JSON fields
// become {}.
//
// Errors: ErrExists for a duplicate address or UUID; ErrNotFound when
// p.NodeUUID names no node or p.PortgroupUUID no port group of that node;
// ErrInvalidArgument for an empty address or a malformed UUID.
func (q Queries) CreatePort(ctx context.Context, p Port) (Port, error) {
	return portTable.create(ctx, q.db, &p, &p.UUID, normalizePort)
}

// Port returns the port with that UUID. ErrNotFound when there is none.
func (q Queries) Port(ctx context.Context, portUUID string) (Port, error) {
	return portTable.byUUID(ctx, q.db, portUUID)
}

// PortByAddress returns the port with that MAC address (any case).
// ErrNotFound when there is none.
func (q Queries) PortByAddress(ctx context.Context, mac string) (Port, error) {
	return portTable.get(ctx, q.db, mac, `p.address = $1::text`, normalizeMAC(mac))
}

// PortsByAddresses returns the ports with any of those MAC addresses (any
// case; duplicates are looked up once) in one query, ordered by id: Ironic's
// get_ports_by_addresses (one "address IN (...)"). None found is an empty
// list, not an error.
func (q Queries) PortsByAddresses(ctx context.Context, macs []string) ([]Port, error) {
	norm := make([]string, 0, len(macs))
	for _, m := range macs {
		norm = append(norm, normalizeMAC(m))
	}
	slices.Sort(norm)
	norm = slices.Compact(norm)
	if len(norm) == 0 {
		return nil, nil
	}
	rows, err := q.db.Query(ctx, `SELECT `+portTable.selectList+portTable.from+
		` WHERE p.address = ANY($1::text[]) ORDER BY p.id`, norm)
	if err != nil {
		return nil, fmt.Errorf("get ports by %d addresses: %w", len(norm), translate(err, ErrNotFound))
	}
	defer rows.Close()
	out, err := portTable.scanAll(rows, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("get ports by %d addresses: %w", len(norm), err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get ports by %d addresses: %w", len(norm), translate(err, ErrNotFound))
	}
	return out, nil
}

// PortByName returns the port with that name. ErrNotFound when there is
// none.
func (q Queries) PortByName(ctx context.Context, name string) (Port, error) {
	return portTable.byName(ctx, q.db, name)
}

// PortSortKeys returns the sort keys ListPorts accepts (ListPorts.SortKey).
func PortSortKeys() []string { return slices.Clone(portTable.sortKeys) }

// ListPorts returns the ports l selects, ordered by (l.SortKey, id) and paged
// by keyset like ListNodes.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when l.MarkerID names no port.
func (q Queries) ListPorts(ctx context.Context, l ListPorts) ([]Port, error) {
	return portTable.list(ctx, q.db, listPage{l.SortKey, l.SortDesc, l.MarkerID, l.Limit}, func(b *queryBuilder) bool {
		if l.NodeUUID != "" && !b.uuidCond("n.uuid", l.NodeUUID) {
			return false // no node has that UUID, so it has no ports
		}
		if l.Address != "" {
			b.cond("p.address = %s::text", normalizeMAC(l.Address))
		}
		if l.PortgroupUUID != "" && !b.uuidCond("pg.uuid", l.PortgroupUUID) {
			return false
		}
		b.projectCond(l.Project)
		return true
	}, nil)
}

// UpdatePort writes p over the stored port with the same UUID (every field
// but ID, UUID and CreatedAt; it may move the port to another node), sets
// UpdatedAt and returns the stored row.
//
// Errors: ErrNotFound when the port is gone, p.NodeUUID names no node or
// p.PortgroupUUID no port group of that node; ErrExists for a duplicate
// address.
func (q Queries) UpdatePort(ctx context.Context, p Port) (Port, error) {
	return portTable.update(ctx, q.db, &p, &p.UUID, normalizePort)
}

// DeletePort deletes the port with that UUID. ErrNotFound when there is none.
func (q Queries) DeletePort(ctx context.Context, portUUID string) error {
	return portTable.delete(ctx, q.db, portUUID, ErrInUse)
}
