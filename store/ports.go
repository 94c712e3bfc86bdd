package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// portSelect lists the columns scanPort reads, over "p" (ports or a CTE
// returning ports rows) joined to "n" (nodes).
const portSelect = `p.id, p.uuid::text, p.address, n.uuid::text, p.portgroup_uuid, p.local_link_connection,
	p.pxe_enabled, p.physical_network, p.extra, p.internal_info, p.is_smartnic, p.name,
	p.created_at, p.updated_at`

// portJoin is the FROM clause matching portSelect for the ports table.
const portJoin = ` FROM ports p JOIN nodes n ON n.id = p.node_id`

func scanPort(row pgx.Row) (Port, error) {
	var p Port
	err := row.Scan(&p.ID, &p.UUID, &p.Address, &p.NodeUUID, &p.PortgroupUUID,
		(*[]byte)(&p.LocalLinkConnection), &p.PXEEnabled, &p.PhysicalNetwork,
		(*[]byte)(&p.Extra), (*[]byte)(&p.InternalInfo), &p.IsSmartNIC, &p.Name,
		&p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// normalizeMAC returns a MAC address as stored: trimmed and lower case.
func normalizeMAC(mac string) string { return strings.ToLower(strings.TrimSpace(mac)) }

// portArgs validates p and returns its canonical UUID, address and node UUID.
func portArgs(p Port) (id, address, nodeUUID string, err error) {
	address = normalizeMAC(p.Address)
	if address == "" {
		return "", "", "", fmt.Errorf("empty address: %w", ErrInvalidArgument)
	}
	n, err := uuid.Parse(p.NodeUUID)
	if err != nil {
		return "", "", "", fmt.Errorf("node %q: %w", p.NodeUUID, ErrNotFound)
	}
	return p.UUID, address, n.String(), nil
}

// CreatePort inserts p and returns the stored row. A UUID (v4) is generated
// when p.UUID is empty and the address is stored in lower case; absent JSON
// fields become {}.
//
// Errors: ErrExists for a duplicate address or UUID; ErrNotFound when
// p.NodeUUID names no node; ErrInvalidArgument for an empty address or a
// malformed UUID.
func (q Queries) CreatePort(ctx context.Context, p Port) (Port, error) {
	if p.UUID == "" {
		p.UUID = uuid.NewString()
	} else if id, err := uuid.Parse(p.UUID); err == nil {
		p.UUID = id.String()
	} else {
		return Port{}, fmt.Errorf("create port %q: malformed uuid: %w", p.UUID, ErrInvalidArgument)
	}
	id, address, nodeUUID, err := portArgs(p)
	if err != nil {
		return Port{}, fmt.Errorf("create port %s: %w", p.Address, err)
	}
	out, err := scanPort(q.db.QueryRow(ctx, `WITH p AS (
		INSERT INTO ports (uuid, address, node_id, portgroup_uuid, local_link_connection, pxe_enabled,
			physical_network, extra, internal_info, is_smartnic, name)
		SELECT $1::uuid, $2::text, n.id, $4::text, $5::jsonb, $6::boolean,
			$7::text, $8::jsonb, $9::jsonb, $10::boolean, $11::text
		FROM nodes n WHERE n.uuid = $3::uuid
		RETURNING *)
		SELECT `+portSelect+` FROM p JOIN nodes n ON n.id = p.node_id`,
		id, address, nodeUUID, p.PortgroupUUID, jsonObject(p.LocalLinkConnection), p.PXEEnabled,
		p.PhysicalNetwork, jsonObject(p.Extra), jsonObject(p.InternalInfo), p.IsSmartNIC, p.Name))
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) { // the INSERT ... SELECT found no node
			return Port{}, fmt.Errorf("create port %s: node %s: %w", address, nodeUUID, ErrNotFound)
		}
		return Port{}, fmt.Errorf("create port %s: %w", address, translate(err, ErrNotFound))
	}
	return out, nil
}

// Port returns the port with that UUID. ErrNotFound when there is none.
func (q Queries) Port(ctx context.Context, portUUID string) (Port, error) {
	id, err := uuid.Parse(portUUID)
	if err != nil {
		return Port{}, fmt.Errorf("get port %q: %w", portUUID, ErrNotFound)
	}
	p, err := scanPort(q.db.QueryRow(ctx, `SELECT `+portSelect+portJoin+` WHERE p.uuid = $1::uuid`, id.String()))
	if err != nil {
		return Port{}, fmt.Errorf("get port %s: %w", portUUID, translate(err, ErrNotFound))
	}
	return p, nil
}

// PortByAddress returns the port with that MAC address (any case).
// ErrNotFound when there is none.
func (q Queries) PortByAddress(ctx context.Context, mac string) (Port, error) {
	p, err := scanPort(q.db.QueryRow(ctx, `SELECT `+portSelect+portJoin+` WHERE p.address = $1::text`,
		normalizeMAC(mac)))
	if err != nil {
		return Port{}, fmt.Errorf("get port by address %s: %w", mac, translate(err, ErrNotFound))
	}
	return p, nil
}

// portSortColumn resolves a PortSortKeys key.
func portSortColumn(key string) (sortColumn, bool) {
	switch key {
	case "", "id":
		return sortColumn{expr: "p.id"}, true
	case "uuid", "address", "created_at":
		return sortColumn{expr: "p." + key}, true
	case "updated_at":
		return sortColumn{expr: "p." + key, nullable: true}, true
	}
	return sortColumn{}, false
}

// PortSortKeys returns the sort keys ListPorts accepts (ListPorts.SortKey).
func PortSortKeys() []string { return []string{"id", "uuid", "address", "created_at", "updated_at"} }

// ListPorts returns the ports l selects, ordered by (l.SortKey, id) and paged
// by keyset like ListNodes.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when l.MarkerID names no port.
func (q Queries) ListPorts(ctx context.Context, l ListPorts) ([]Port, error) {
	col, ok := portSortColumn(l.SortKey)
	if !ok {
		return nil, fmt.Errorf("list ports: sort key %q: %w", l.SortKey, ErrInvalidArgument)
	}
	if err := (page{limit: l.Limit, markerID: l.MarkerID}).check(); err != nil {
		return nil, fmt.Errorf("list ports: %w", err)
	}
	var b queryBuilder
	if l.NodeUUID != "" {
		id, err := uuid.Parse(l.NodeUUID)
		if err != nil {
			return nil, nil // no node has that UUID, so it has no ports
		}
		b.cond("n.uuid = %s::uuid", id.String())
	}
	if l.Address != "" {
		b.cond("p.address = %s::text", normalizeMAC(l.Address))
	}
	if l.Project != "" {
		b.cond("(n.owner = %[1]s::text OR n.lessee = %[1]s::text)", l.Project)
	}
	ks := keyset{table: "ports", alias: "p", col: col, desc: l.SortDesc}
	sql := ks.pageSQL(&b, `SELECT `+portSelect+portJoin, l.MarkerID, l.Limit)
	rows, err := q.db.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("list ports: %w", translate(err, ErrNotFound))
	}
	defer rows.Close()
	var out []Port
	for rows.Next() {
		p, err := scanPort(rows)
		if err != nil {
			return nil, fmt.Errorf("list ports: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ports: %w", translate(err, ErrNotFound))
	}
	if len(out) == 0 && l.MarkerID != 0 {
		if err := q.checkMarker(ctx, "ports", l.MarkerID); err != nil {
			return nil, fmt.Errorf("list ports: %w", err)
		}
	}
	return out, nil
}

// UpdatePort writes p over the stored port with the same UUID (every field
// but ID, UUID and CreatedAt; it may move the port to another node), sets
// UpdatedAt and returns the stored row.
//
// Errors: ErrNotFound when the port is gone or p.NodeUUID names no node;
// ErrExists for a duplicate address.
func (q Queries) UpdatePort(ctx context.Context, p Port) (Port, error) {
	pid, err := uuid.Parse(p.UUID)
	if err != nil {
		return Port{}, fmt.Errorf("update port %q: %w", p.UUID, ErrNotFound)
	}
	_, address, nodeUUID, err := portArgs(p)
	if err != nil {
		return Port{}, fmt.Errorf("update port %s: %w", p.UUID, err)
	}
	// An unknown node resolves to -1, which the foreign key rejects.
	out, err := scanPort(q.db.QueryRow(ctx, `WITH p AS (
		UPDATE ports SET address = $2::text,
			node_id = COALESCE((SELECT id FROM nodes WHERE uuid = $3::uuid), -1),
			portgroup_uuid = $4::text, local_link_connection = $5::jsonb, pxe_enabled = $6::boolean,
			physical_network = $7::text, extra = $8::jsonb, internal_info = $9::jsonb,
			is_smartnic = $10::boolean, name = $11::text, updated_at = now()
		WHERE uuid = $1::uuid
		RETURNING *)
		SELECT `+portSelect+` FROM p JOIN nodes n ON n.id = p.node_id`,
		pid.String(), address, nodeUUID, p.PortgroupUUID, jsonObject(p.LocalLinkConnection), p.PXEEnabled,
		p.PhysicalNetwork, jsonObject(p.Extra), jsonObject(p.InternalInfo), p.IsSmartNIC, p.Name))
	if err != nil {
		return Port{}, fmt.Errorf("update port %s: %w", p.UUID, translate(err, ErrNotFound))
	}
	return out, nil
}

// DeletePort deletes the port with that UUID. ErrNotFound when there is none.
func (q Queries) DeletePort(ctx context.Context, portUUID string) error {
	id, err := uuid.Parse(portUUID)
	if err != nil {
		return fmt.Errorf("delete port %q: %w", portUUID, ErrNotFound)
	}
	tag, err := q.db.Exec(ctx, `DELETE FROM ports WHERE uuid = $1::uuid`, id.String())
	if err != nil {
		return fmt.Errorf("delete port %s: %w", portUUID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete port %s: %w", portUUID, ErrNotFound)
	}
	return nil
}
