package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store/seal"
)

// nodeSelect lists the columns scanNode reads, in order, over "n" (nodes or a
// CTE returning nodes rows) LEFT JOINed to "c" (chassis).
const nodeSelect = `n.id, n.uuid::text, n.name, n.version,
	n.driver, n.driver_info, n.driver_internal_info, n.properties, n.instance_info, n.extra,
	n.instance_uuid, c.uuid::text, n.resource_class, n.description, n.owner, n.lessee,
	n.conductor_group, n.traits, n.network_data, n.automated_clean, n.protected, n.protected_reason,
	n.retired, n.retired_reason, n.shard, n.boot_mode, n.secure_boot, n.fault,
	n.maintenance, n.maintenance_reason, n.console_enabled,
	n.clean_step, n.deploy_step, n.raid_config, n.target_raid_config,
	n.bios_interface, n.boot_interface, n.console_interface, n.deploy_interface, n.firmware_interface,
	n.inspect_interface, n.management_interface, n.network_interface, n.power_interface,
	n.raid_interface, n.rescue_interface, n.storage_interface, n.vendor_interface,
	n.provision_state, COALESCE(n.target_provision_state, ''), COALESCE(n.power_state, ''),
	COALESCE(n.target_power_state, ''),
	n.last_error, n.provision_updated_at, n.inspection_started_at, n.inspection_finished_at,
	n.created_at, n.updated_at`

// nodeJoin is the FROM clause matching nodeSelect for the nodes table.
const nodeJoin = ` FROM nodes n LEFT JOIN chassis c ON c.id = n.chassis_id`

// nodeWriteCols are the columns CreateNode and UpdateNode write from a Node,
// and nodeWriteVals their values: placeholders $3..$50 bound by
// nodeWriteArgs. $1 and $2 are left to each statement. chassis_id resolves
// the chassis UUID ($11); an unknown one becomes -1, which the foreign key
// rejects (ErrNotFound) in the same statement.
const (
	nodeWriteCols = `name, driver, driver_info, driver_internal_info, properties, instance_info, extra,
	instance_uuid, chassis_id, resource_class, description, owner, lessee, conductor_group, traits,
	network_data, automated_clean, protected, protected_reason, retired, retired_reason, shard,
	boot_mode, secure_boot, fault, maintenance, maintenance_reason, console_enabled,
	clean_step, deploy_step, raid_config, target_raid_config,
	bios_interface, boot_interface, console_interface, deploy_interface, firmware_interface,
	inspect_interface, management_interface, network_interface, power_interface, raid_interface,
	rescue_interface, storage_interface, vendor_interface,
	last_error, inspection_started_at, inspection_finished_at`
	nodeWriteVals = `$3::text, $4::text, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb,
	$10::text, CASE WHEN $11::uuid IS NULL THEN NULL
		ELSE COALESCE((SELECT id FROM chassis WHERE uuid = $11::uuid), -1) END,
	$12::text, $13::text, $14::text, $15::text, $16::text, $17::text[],
	$18::jsonb, $19::boolean, $20::boolean, $21::text, $22::boolean, $23::text, $24::text,
	$25::text, $26::boolean, $27::text, $28::boolean, $29::text, $30::boolean,
	$31::jsonb, $32::jsonb, $33::jsonb, $34::jsonb,
	$35::text, $36::text, $37::text, $38::text, $39::text,
	$40::text, $41::text, $42::text, $43::text, $44::text,
	$45::text, $46::text, $47::text,
	$48::text, $49::timestamptz, $50::timestamptz`
)

// nodeWriteArgs returns the arguments $3..$50 of nodeWriteVals.
func nodeWriteArgs(n Node) ([]any, error) {
	var chassis *string
	if n.ChassisUUID != nil {
		id, err := uuid.Parse(*n.ChassisUUID)
		if err != nil {
			return nil, fmt.Errorf("chassis %q: %w", *n.ChassisUUID, ErrNotFound)
		}
		s := id.String()
		chassis = &s
	}
	traits := n.Traits
	if traits == nil {
		traits = []string{}
	}
	i := n.Interfaces
	return []any{
		n.Name, n.Driver, jsonObject(n.DriverInfo), jsonObject(n.DriverInternalInfo),
		jsonObject(n.Properties), jsonObject(n.InstanceInfo), jsonObject(n.Extra),
		n.InstanceUUID, chassis, n.ResourceClass, n.Description, n.Owner, n.Lessee, n.ConductorGroup, traits,
		jsonObject(n.NetworkData), n.AutomatedClean, n.Protected, n.ProtectedReason, n.Retired, n.RetiredReason, n.Shard,
		n.BootMode, n.SecureBoot, n.Fault, n.Maintenance, n.MaintenanceReason, n.ConsoleEnabled,
		jsonObject(n.CleanStep), jsonObject(n.DeployStep), jsonObject(n.RAIDConfig), jsonObject(n.TargetRAIDConfig),
		i.Bios, i.Boot, i.Console, i.Deploy, i.Firmware,
		i.Inspect, i.Management, i.Network, i.Power, i.RAID,
		i.Rescue, i.Storage, i.Vendor,
		n.LastError, n.InspectionStartedAt, n.InspectionFinishedAt,
	}, nil
}

// jsonObject returns raw as a string argument, with "{}" for an absent value
// (nil, empty or JSON null), so that JSON columns always hold an object.
func jsonObject(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "{}"
	}
	return string(raw)
}

// scanNode reads one row of nodeSelect, after the columns that pre, if any,
// receive.
func (q Queries) scanNode(row pgx.Row, pre ...any) (Node, error) {
	var n Node
	if err := q.scanNodeInto(row, &n, pre...); err != nil {
		return Node{}, err
	}
	return n, nil
}

// scanNodeInto is scanNode writing to *n, which lets lists scan in place.
func (q Queries) scanNodeInto(row pgx.Row, n *Node, pre ...any) error {
	var (
		ps, tps, power, powerTarget string
		i                           = &n.Interfaces
	)
	dst := append(pre, &n.ID, &n.UUID, &n.Name, &n.Version,
		&n.Driver, (*[]byte)(&n.DriverInfo), (*[]byte)(&n.DriverInternalInfo), (*[]byte)(&n.Properties),
		(*[]byte)(&n.InstanceInfo), (*[]byte)(&n.Extra),
		&n.InstanceUUID, &n.ChassisUUID, &n.ResourceClass, &n.Description, &n.Owner, &n.Lessee,
		&n.ConductorGroup, &n.Traits, (*[]byte)(&n.NetworkData), &n.AutomatedClean, &n.Protected, &n.ProtectedReason,
		&n.Retired, &n.RetiredReason, &n.Shard, &n.BootMode, &n.SecureBoot, &n.Fault,
		&n.Maintenance, &n.MaintenanceReason, &n.ConsoleEnabled,
		(*[]byte)(&n.CleanStep), (*[]byte)(&n.DeployStep), (*[]byte)(&n.RAIDConfig), (*[]byte)(&n.TargetRAIDConfig),
		&i.Bios, &i.Boot, &i.Console, &i.Deploy, &i.Firmware,
		&i.Inspect, &i.Management, &i.Network, &i.Power,
		&i.RAID, &i.Rescue, &i.Storage, &i.Vendor,
		&ps, &tps, &power, &powerTarget,
		&n.LastError, &n.ProvisionUpdatedAt, &n.InspectionStartedAt, &n.InspectionFinishedAt,
		&n.CreatedAt, &n.UpdatedAt)
	if err := row.Scan(dst...); err != nil {
		return err
	}
	n.ProvisionState = node.ProvisionState(ps)
	n.TargetProvisionState = node.ProvisionState(tps)
	n.PowerState = node.PowerState(power)
	n.TargetPowerState = node.PowerState(powerTarget)
	if q.ring != nil && seal.HasSealed(n.DriverInfo) {
		// A value that does not open (its key left the key file) stays
		// sealed: the API masks it anyway, and a driver given it fails
		// with the reason (see Node.SealedSecrets).
		if open, err := q.ring.OpenJSON(n.DriverInfo, n.UUID); err == nil {
			n.DriverInfo = open
		}
	}
	return nil
}

// CreateNode inserts n and returns the stored row. A UUID (v4) is generated
// when n.UUID is empty; Version starts at 1 whatever n.Version says; ID,
// CreatedAt and UpdatedAt are set by the database; absent JSON fields become
// {} and nil Traits an empty list. An empty ProvisionState becomes enroll,
// Ironic's initial state.
//
// Errors: ErrExists for a duplicate UUID, name or instance UUID; ErrNotFound
// when n.ChassisUUID names no chassis; ErrInvalidArgument for a malformed
// UUID or JSON field.
func (q Queries) CreateNode(ctx context.Context, n Node) (Node, error) {
	if n.UUID == "" {
		n.UUID = uuid.NewString()
	} else {
		id, err := uuid.Parse(n.UUID)
		if err != nil {
			return Node{}, fmt.Errorf("create node %q: malformed uuid: %w", n.UUID, ErrInvalidArgument)
		}
		n.UUID = id.String()
	}
	if n.ProvisionState == node.NoState {
		n.ProvisionState = node.Enroll
	}
	if err := q.seal(&n); err != nil {
		return Node{}, fmt.Errorf("create node %s: %w", n.UUID, err)
	}
	args, err := nodeWriteArgs(n)
	if err != nil {
		return Node{}, fmt.Errorf("create node %s: %w", n.UUID, err)
	}
	args = append([]any{n.UUID, string(n.ProvisionState)}, args...)
	args = append(args, string(n.TargetProvisionState), string(n.PowerState), string(n.TargetPowerState),
		n.ProvisionUpdatedAt)
	row := q.db.QueryRow(ctx, `WITH n AS (
		INSERT INTO nodes (uuid, provision_state, `+nodeWriteCols+`,
			target_provision_state, power_state, target_power_state, provision_updated_at)
		VALUES ($1::uuid, $2::text, `+nodeWriteVals+`,
			NULLIF($51::text, ''), NULLIF($52::text, ''), NULLIF($53::text, ''), $54::timestamptz)
		RETURNING *)
		SELECT `+nodeSelect+` FROM n LEFT JOIN chassis c ON c.id = n.chassis_id`, args...)
	out, err := q.scanNode(row)
	if err != nil {
		return Node{}, fmt.Errorf("create node %s: %w", n.UUID, translate(err, ErrNotFound))
	}
	return out, nil
}

// Node returns the node whose UUID is ident when ident parses as a UUID, else
// the node named ident. ErrNotFound when there is none.
func (q Queries) Node(ctx context.Context, ident string) (Node, error) {
	where, arg := ` WHERE n.name = $1::text`, ident
	if id, err := uuid.Parse(ident); err == nil {
		where, arg = ` WHERE n.uuid = $1::uuid`, id.String()
	}
	n, err := q.scanNode(q.db.QueryRow(ctx, `SELECT `+nodeSelect+nodeJoin+where, arg))
	if err != nil {
		return Node{}, fmt.Errorf("get node %q: %w", ident, translate(err, ErrNotFound))
	}
	return n, nil
}

// nodeSortColumn resolves a NodeSortKeys key.
func nodeSortColumn(key string) (sortColumn, bool) {
	switch key {
	case "", "id":
		return sortColumn{expr: "n.id"}, true
	case "uuid", "created_at", "provision_state", "driver", "maintenance", "conductor_group",
		"retired", "protected", "console_enabled":
		return sortColumn{expr: "n." + key}, true
	case "name", "updated_at", "target_provision_state", "power_state", "target_power_state",
		"provision_updated_at", "inspection_started_at", "inspection_finished_at", "instance_uuid",
		"resource_class", "owner", "lessee", "shard", "fault":
		return sortColumn{expr: "n." + key, nullable: true}, true
	}
	return sortColumn{}, false
}

// NodeSortKeys returns the sort keys ListNodes accepts (ListNodes.SortKey).
func NodeSortKeys() []string {
	return []string{
		"id", "uuid", "name", "created_at", "updated_at",
		"provision_state", "target_provision_state", "provision_updated_at",
		"power_state", "target_power_state", "driver", "maintenance",
		"inspection_started_at", "inspection_finished_at", "instance_uuid", "resource_class",
		"conductor_group", "owner", "lessee", "shard", "fault", "retired", "protected", "console_enabled",
	}
}

// ListNodes returns the nodes q selects, ordered by (q.SortKey, id) and paged
// by keyset: the rows strictly after the node whose ID is q.MarkerID in that
// order, at most q.Limit of them (0 = all). Chassis UUIDs come from a join: it
// is one query whatever the page size.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when q.MarkerID names no node.
func (q Queries) ListNodes(ctx context.Context, l ListNodes) ([]Node, error) {
	col, ok := nodeSortColumn(l.SortKey)
	if !ok {
		return nil, fmt.Errorf("list nodes: sort key %q: %w", l.SortKey, ErrInvalidArgument)
	}
	if err := (page{limit: l.Limit, markerID: l.MarkerID}).check(); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var b queryBuilder
	if l.ProvisionState != nil {
		b.cond("n.provision_state = %s::text", string(*l.ProvisionState))
	}
	if l.Maintenance != nil {
		b.cond("n.maintenance = %s::boolean", *l.Maintenance)
	}
	if l.Associated != nil {
		if *l.Associated {
			b.where = append(b.where, "n.instance_uuid IS NOT NULL")
		} else {
			b.where = append(b.where, "n.instance_uuid IS NULL")
		}
	}
	if l.Retired != nil {
		b.cond("n.retired = %s::boolean", *l.Retired)
	}
	for _, f := range []struct{ col, val string }{
		{"driver", l.Driver}, {"resource_class", l.ResourceClass}, {"conductor_group", l.ConductorGroup},
		{"owner", l.Owner}, {"lessee", l.Lessee}, {"fault", l.Fault}, {"instance_uuid", l.InstanceUUID},
		{"shard", l.Shard},
	} {
		if f.val != "" {
			b.cond("n."+f.col+" = %s::text", f.val)
		}
	}
	if l.Project != "" {
		b.cond("(n.owner = %[1]s::text OR n.lessee = %[1]s::text)", l.Project)
	}
	if l.ChassisUUID != "" {
		id, err := uuid.Parse(l.ChassisUUID)
		if err != nil {
			return nil, nil // no chassis has that UUID, so no node is in it
		}
		b.cond("c.uuid = %s::uuid", id.String())
	}
	ks := keyset{table: "nodes", alias: "n", col: col, desc: l.SortDesc}
	sql := ks.pageSQL(&b, `SELECT `+nodeSelect+nodeJoin, l.MarkerID, l.Limit)
	rows, err := q.db.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", translate(err, ErrNotFound))
	}
	defer rows.Close()
	out := make([]Node, 0, capHint(l.Limit))
	for rows.Next() {
		out = append(out, Node{})
		if err := q.scanNodeInto(rows, &out[len(out)-1]); err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list nodes: %w", translate(err, ErrNotFound))
	}
	if len(out) == 0 && l.MarkerID != 0 {
		if err := q.checkMarker(ctx, "nodes", l.MarkerID); err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
	}
	return out, nil
}

// checkMarker returns ErrNotFound when table has no row with id markerID.
func (q Queries) checkMarker(ctx context.Context, table string, markerID int64) error {
	var ok bool
	// table is one of this package's constants, never input.
	if err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, markerID).Scan(&ok); err != nil {
		return fmt.Errorf("check marker %d: %w", markerID, err)
	}
	if !ok {
		return fmt.Errorf("marker %d: %w", markerID, ErrNotFound)
	}
	return nil
}

// UpdateNode writes n over the stored node with the same UUID if nobody
// changed it since n.Version was read (optimistic lock), bumping Version and
// UpdatedAt, and returns the stored row. It writes every field except ID,
// UUID, CreatedAt and the state fields owned by Transition and SetPower
// (provision_state, target_provision_state, power_state, target_power_state,
// provision_updated_at).
//
// A retried call whose first attempt committed (the node is at n.Version+1
// and holds exactly what n would write) is reported as success.
//
// Errors: ErrConflict when the version moved; ErrNotFound when the node is
// gone or n.ChassisUUID names no chassis; ErrExists for a duplicate name or
// instance UUID.
func (q Queries) UpdateNode(ctx context.Context, n Node) (Node, error) {
	id, err := uuid.Parse(n.UUID)
	if err != nil {
		return Node{}, fmt.Errorf("update node %q: %w", n.UUID, ErrNotFound)
	}
	n.UUID = id.String()
	if err := q.seal(&n); err != nil {
		return Node{}, fmt.Errorf("update node %s: %w", n.UUID, err)
	}
	args, err := nodeWriteArgs(n)
	if err != nil {
		return Node{}, fmt.Errorf("update node %s: %w", n.UUID, err)
	}
	args = append([]any{n.UUID, n.Version}, args...)
	out, err := q.scanNode(q.db.QueryRow(ctx, `WITH n AS (
		UPDATE nodes SET (`+nodeWriteCols+`) = (`+nodeWriteVals+`),
			version = version + 1, updated_at = now()
		WHERE uuid = $1::uuid AND version = $2::bigint
		RETURNING *)
		SELECT `+nodeSelect+` FROM n LEFT JOIN chassis c ON c.id = n.chassis_id`, args...))
	if err == nil {
		return out, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Node{}, fmt.Errorf("update node %s: %w", n.UUID, translate(err, ErrNotFound))
	}
	// Nothing matched: gone, moved on, or our own retried write.
	var (
		version int64
		replay  bool
	)
	err = q.db.QueryRow(ctx, `SELECT version, version = $2::bigint + 1
			AND (`+nodeWriteCols+`) IS NOT DISTINCT FROM (`+nodeWriteVals+`)
		FROM nodes WHERE uuid = $1::uuid`, args...).Scan(&version, &replay)
	if err != nil {
		return Node{}, fmt.Errorf("update node %s: %w", n.UUID, translate(err, ErrNotFound))
	}
	if !replay {
		return Node{}, fmt.Errorf("update node %s: have version %d, caller read %d: %w",
			n.UUID, version, n.Version, ErrConflict)
	}
	out, err = q.Node(ctx, n.UUID)
	if err != nil {
		return Node{}, fmt.Errorf("update node %s: %w", n.UUID, err)
	}
	return out, nil
}

// DeleteNode deletes the node with that UUID, with its ports and history.
// ErrNotFound when there is none.
func (q Queries) DeleteNode(ctx context.Context, nodeUUID string) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("delete node %q: %w", nodeUUID, ErrNotFound)
	}
	tag, err := q.db.Exec(ctx, `DELETE FROM nodes WHERE uuid = $1::uuid`, id.String())
	if err != nil {
		return fmt.Errorf("delete node %s: %w", nodeUUID, translate(err, ErrInUse))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete node %s: %w", nodeUUID, ErrNotFound)
	}
	return nil
}

// seal seals n's driver_info secrets with the store's key ring, if any.
func (q Queries) seal(n *Node) error {
	if q.ring == nil {
		return nil
	}
	sealed, err := q.ring.SealJSON(n.DriverInfo, n.UUID)
	if err != nil {
		return fmt.Errorf("seal driver_info secrets: %w: %w", ErrInvalidArgument, err)
	}
	n.DriverInfo = sealed
	return nil
}

// SealedSecrets reports whether n's driver_info still holds sealed values:
// the store could not open them (their key is not in the key file).
func (n *Node) SealedSecrets() bool { return seal.HasSealed(n.DriverInfo) }
