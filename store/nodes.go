package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store/seal"
)

// nodeColumns are a Node's fields as columns of the nodes table, read over
// "n" (nodes or a CTE returning nodes rows) LEFT JOINed to "c" (chassis) and
// "al" (the allocation holding the node, see nodeJoins).
// chassis_uuid is written as chassis_id: an unknown chassis UUID becomes
// -1, which the foreign key rejects (ErrNotFound) in the same statement.
// The state fields are written on insert only: Transition and SetPower own
// them afterwards.
func nodeColumns() []column[Node] {
	type c = column[Node]
	text := textCol[Node]
	opt := optTextCol[Node]
	js := jsonCol[Node]
	iface := func(kind string, p func(i *Interfaces) *string) c {
		return text(kind+"_interface", func(n *Node) *string { return p(&n.Interfaces) })
	}
	state := func(name string, p func(n *Node) *string) c {
		return stateCol(name, p).readAs("COALESCE(n." + name + ", '')").insertOnly().sorted()
	}
	return []c{
		idCol(func(n *Node) *int64 { return &n.ID }),
		uuidCol("n", func(n *Node) *string { return &n.UUID }),
		opt("name", func(n *Node) **string { return &n.Name }).sorted(),
		valueCol("version", "bigint", false, func(n *Node) *int64 { return &n.Version }).setByDB(),
		text("driver", func(n *Node) *string { return &n.Driver }).sorted(),
		js("driver_info", func(n *Node) *json.RawMessage { return &n.DriverInfo }),
		js("driver_internal_info", func(n *Node) *json.RawMessage { return &n.DriverInternalInfo }),
		js("properties", func(n *Node) *json.RawMessage { return &n.Properties }),
		js("instance_info", func(n *Node) *json.RawMessage { return &n.InstanceInfo }),
		js("extra", func(n *Node) *json.RawMessage { return &n.Extra }),
		opt("instance_uuid", func(n *Node) **string { return &n.InstanceUUID }).sorted(),
		opt("chassis_uuid", func(n *Node) **string { return &n.ChassisUUID }).readAs("c.uuid::text").
			writeTo("chassis_id",
				`CASE WHEN %[1]s::uuid IS NULL THEN NULL ELSE COALESCE((SELECT id FROM chassis WHERE uuid = %[1]s::uuid), -1) END`),
		opt("allocation_uuid", func(n *Node) **string { return &n.AllocationUUID }).readAs("al.uuid::text").setByDB(),
		opt("resource_class", func(n *Node) **string { return &n.ResourceClass }).sorted(),
		opt("description", func(n *Node) **string { return &n.Description }),
		opt("owner", func(n *Node) **string { return &n.Owner }).sorted(),
		opt("lessee", func(n *Node) **string { return &n.Lessee }).sorted(),
		text("conductor_group", func(n *Node) *string { return &n.ConductorGroup }).sorted(),
		text("conductor", func(n *Node) *string { return &n.Conductor }).setByDB(),
		textsCol("traits", func(n *Node) *[]string { return &n.Traits }),
		js("network_data", func(n *Node) *json.RawMessage { return &n.NetworkData }),
		optBoolCol("automated_clean", func(n *Node) **bool { return &n.AutomatedClean }),
		boolCol("protected", func(n *Node) *bool { return &n.Protected }).sorted(),
		opt("protected_reason", func(n *Node) **string { return &n.ProtectedReason }),
		boolCol("retired", func(n *Node) *bool { return &n.Retired }).sorted(),
		opt("retired_reason", func(n *Node) **string { return &n.RetiredReason }),
		opt("shard", func(n *Node) **string { return &n.Shard }).sorted(),
		opt("parent_node", func(n *Node) **string { return &n.ParentNode }).sorted(),
		boolCol("disable_power_off", func(n *Node) *bool { return &n.DisablePowerOff }).sorted(),
		opt("boot_mode", func(n *Node) **string { return &n.BootMode }),
		optBoolCol("secure_boot", func(n *Node) **bool { return &n.SecureBoot }),
		opt("fault", func(n *Node) **string { return &n.Fault }).sorted(),
		boolCol("maintenance", func(n *Node) *bool { return &n.Maintenance }).sorted(),
		opt("maintenance_reason", func(n *Node) **string { return &n.MaintenanceReason }),
		boolCol("console_enabled", func(n *Node) *bool { return &n.ConsoleEnabled }).sorted(),
		js("clean_step", func(n *Node) *json.RawMessage { return &n.CleanStep }),
		js("deploy_step", func(n *Node) *json.RawMessage { return &n.DeployStep }),
		js("service_step", func(n *Node) *json.RawMessage { return &n.ServiceStep }),
		js("raid_config", func(n *Node) *json.RawMessage { return &n.RAIDConfig }),
		js("target_raid_config", func(n *Node) *json.RawMessage { return &n.TargetRAIDConfig }),
		iface("bios", func(i *Interfaces) *string { return &i.Bios }),
		iface("boot", func(i *Interfaces) *string { return &i.Boot }),
		iface("console", func(i *Interfaces) *string { return &i.Console }),
		iface("deploy", func(i *Interfaces) *string { return &i.Deploy }),
		iface("firmware", func(i *Interfaces) *string { return &i.Firmware }),
		iface("inspect", func(i *Interfaces) *string { return &i.Inspect }),
		iface("management", func(i *Interfaces) *string { return &i.Management }),
		iface("network", func(i *Interfaces) *string { return &i.Network }),
		iface("power", func(i *Interfaces) *string { return &i.Power }),
		iface("raid", func(i *Interfaces) *string { return &i.RAID }),
		iface("rescue", func(i *Interfaces) *string { return &i.Rescue }),
		iface("storage", func(i *Interfaces) *string { return &i.Storage }),
		iface("vendor", func(i *Interfaces) *string { return &i.Vendor }),
		text("provision_state", func(n *Node) *string { return (*string)(&n.ProvisionState) }).insertOnly().sorted(),
		state("target_provision_state", func(n *Node) *string { return (*string)(&n.TargetProvisionState) }),
		state("power_state", func(n *Node) *string { return (*string)(&n.PowerState) }),
		state("target_power_state", func(n *Node) *string { return (*string)(&n.TargetPowerState) }),
		opt("last_error", func(n *Node) **string { return &n.LastError }),
		optTimeCol("provision_updated_at", func(n *Node) **time.Time { return &n.ProvisionUpdatedAt }).insertOnly().sorted(),
		optTimeCol("inspection_started_at", func(n *Node) **time.Time { return &n.InspectionStartedAt }).sorted(),
		optTimeCol("inspection_finished_at", func(n *Node) **time.Time { return &n.InspectionFinishedAt }).sorted(),
		createdCol(func(n *Node) *time.Time { return &n.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(n *Node) **time.Time { return &n.UpdatedAt }).insertOnly().sorted(),
	}
}

// nodeJoins are the joins every read of nodes (as "n") makes: its chassis,
// and the allocation that holds it. A node is held by the allocation linked
// to it whose UUID is its instance_uuid (Ironic sets one to the other): a
// statement that clears or changes instance_uuid releases the allocation
// in the same statement (releaseAllocationCTE), and reads the row it wrote
// without it even though the deletion is not yet visible to it.
const nodeJoins = " LEFT JOIN chassis c ON c.id = n.chassis_id" +
	" LEFT JOIN allocations al ON al.node_id = n.id AND al.uuid::text = lower(n.instance_uuid)"

// releaseAllocationCTE deletes the allocation of the node rows that the CTE
// named %[1]s wrote when their instance_uuid no longer is the allocation's
// UUID (Ironic destroys the allocation when instance_uuid is removed).
const releaseAllocationCTE = `released AS (
	DELETE FROM allocations x USING %[1]s u
	WHERE x.node_id = u.id AND (u.instance_uuid IS NULL OR x.uuid::text <> lower(u.instance_uuid)))`

// nodeTable is nodeColumns with the SQL they build.
var nodeTable = newTable("nodes", "n", "node", nodeJoins, nodeColumns())

// nodeSelect lists the columns scanNode reads, over "n" LEFT JOINed to "c".
var nodeSelect = nodeTable.selectList

// nodeJoin is the FROM clause matching nodeSelect for the nodes table.
var nodeJoin = nodeTable.from

// UpdateNode's statement binds the UUID and the version read as $1 and $2,
// the columns from $3; replaying compares the stored row with what the
// update would write.
var nodeUpdateSQL, nodeReplaySQL = func() (string, string) {
	cols, vals := nodeTable.writeList(always, 3)
	return nodeTable.updateWhereWith(3, "version = version + 1, updated_at = now()",
			"uuid = $1::uuid AND version = $2::bigint", fmt.Sprintf(releaseAllocationCTE, "n")),
		`SELECT version, version = $2::bigint + 1 AND (` + cols + `) IS NOT DISTINCT FROM (` + vals + `)
		FROM nodes WHERE uuid = $1::uuid`
}()

// normalizeChassis checks and canonicalizes n.ChassisUUID for a write.
func normalizeChassis(n *Node) error {
	if n.ChassisUUID == nil {
		return nil
	}
	id, err := uuid.Parse(*n.ChassisUUID)
	if err != nil {
		return fmt.Errorf("chassis %q: %w", *n.ChassisUUID, ErrNotFound)
	}
	s := id.String()
	n.ChassisUUID = &s
	return nil
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
	if err := nodeTable.scan(row, &n, pre...); err != nil {
		return Node{}, err
	}
	q.open(&n)
	return n, nil
}

// open opens the sealed secrets of a node just read.
func (q Queries) open(n *Node) {
	if q.ring != nil && seal.HasSealed(n.DriverInfo) {
		// A value that does not open (its key left the key file) stays
		// sealed: the API masks it anyway, and a driver given it fails
		// with the reason (see Node.SealedSecrets).
		if open, err := q.ring.OpenJSON(n.DriverInfo, n.UUID); err == nil {
			n.DriverInfo = open
		}
	}
}

// scanNodes appends the nodes rows holds (nodeSelect rows) to out; the
// caller checks rows.Err.
func (q Queries) scanNodes(rows pgx.Rows, out []Node) ([]Node, error) {
	return nodeTable.scanAll(rows, out, q.open)
}

// CreateNode inserts n and returns the stored row: every field as given
// except ID and Version. A UUID (v4) is generated when n.UUID is empty;
// Version starts at 1; ID is set by the database, and so is CreatedAt when
// zero (now); absent JSON fields become {} and nil Traits an empty list. An
// empty ProvisionState becomes enroll, Ironic's initial state.
//
// Errors: ErrExists for a duplicate UUID, name or instance UUID; ErrNotFound
// when n.ChassisUUID names no chassis; ErrInvalidArgument for a malformed
// UUID or JSON field.
func (q Queries) CreateNode(ctx context.Context, n Node) (Node, error) {
	out, err := nodeTable.create(ctx, q.db, &n, &n.UUID, func(n *Node) error {
		if n.ProvisionState == node.NoState {
			n.ProvisionState = node.Enroll
		}
		return q.prepareWrite(n)
	})
	if err != nil {
		return Node{}, err
	}
	q.open(&out)
	return out, nil
}

// prepareWrite checks n's chassis UUID and seals its secrets.
func (q Queries) prepareWrite(n *Node) error {
	if err := normalizeChassis(n); err != nil {
		return err
	}
	return q.seal(n)
}

// Node returns the node whose UUID is ident when ident parses as a UUID, else
// the node named ident. ErrNotFound when there is none.
func (q Queries) Node(ctx context.Context, ident string) (Node, error) {
	n, err := nodeTable.byIdent(ctx, q.db, ident)
	if err != nil {
		return Node{}, err
	}
	q.open(&n)
	return n, nil
}

// NodeSortKeys returns the sort keys ListNodes accepts (ListNodes.SortKey).
func NodeSortKeys() []string { return slices.Clone(nodeTable.sortKeys) }

// ListNodes returns the nodes q selects, ordered by (q.SortKey, id) and paged
// by keyset: the rows strictly after the node whose ID is q.MarkerID in that
// order, at most q.Limit of them (0 = all). Chassis UUIDs come from a join: it
// is one query whatever the page size.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when q.MarkerID names no node.
func (q Queries) ListNodes(ctx context.Context, l ListNodes) ([]Node, error) {
	return nodeTable.list(ctx, q.db, listPage{l.SortKey, l.SortDesc, l.MarkerID, l.Limit}, func(b *queryBuilder) bool {
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
		b.projectCond(l.Project)
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
		switch {
		case l.IncludeChildren:
		case l.ParentNode != "":
			b.cond("n.parent_node = %s::text", l.ParentNode)
		default:
			b.where = append(b.where, "n.parent_node IS NULL")
		}
		if l.Conductors != nil {
			b.cond("n.conductor = ANY(%s::text[])", l.Conductors)
		}
		if l.ChassisUUID != "" && !b.uuidCond("c.uuid", l.ChassisUUID) {
			return false // no chassis has that UUID, so no node is in it
		}
		return true
	}, q.open)
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
	if err := q.prepareWrite(&n); err != nil {
		return Node{}, fmt.Errorf("update node %s: %w", n.UUID, err)
	}
	out, err := nodeTable.write(ctx, q.db, nodeUpdateSQL, &n, always, n.UUID, n.Version)
	if err == nil {
		q.open(&out)
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
	err = q.db.QueryRow(ctx, nodeReplaySQL, nodeTable.args(&n, always, n.UUID, n.Version)...).Scan(&version, &replay)
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

// ConductorGroups returns the conductor groups of the nodes, sorted, with
// the empty group always first.
func (q Queries) ConductorGroups(ctx context.Context) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT DISTINCT conductor_group FROM nodes WHERE conductor_group <> ''
		ORDER BY conductor_group`)
	if err != nil {
		return nil, fmt.Errorf("conductor groups: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("conductor groups: %w", err)
	}
	return append([]string{""}, out...), nil
}

// DeleteNode deletes the node with that UUID, with its ports and history.
// ErrNotFound when there is none.
func (q Queries) DeleteNode(ctx context.Context, nodeUUID string) error {
	return nodeTable.delete(ctx, q.db, nodeUUID, ErrInUse)
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
