package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/node"
)

// PowerSyncFailuresKey is the driver_internal_info key counting the power
// sync's consecutive failed BMC reads of a node.
const PowerSyncFailuresKey = "power_sync_failures"

// PowerSyncQuery selects one page of the nodes a power sync pass reads: no
// operation targets them (no target_provision_state, no target_power_state),
// their provision state is not excluded, and they are out of maintenance or
// in maintenance for MaintenanceFault (so that a pass can see the BMC answer
// again).
type PowerSyncQuery struct {
	AfterID          int64 // rows with a larger internal id (0: from the start)
	Limit            int   // page size (> 0)
	ExcludeStates    []node.ProvisionState
	MaintenanceFault string
	// ConductorGroup, when not nil, keeps the nodes of that conductor
	// group only (a group's worker reads only its own BMCs).
	ConductorGroup *string
}

// NodesForPowerSync returns one page of the nodes q selects, in internal id
// order.
func (q Queries) NodesForPowerSync(ctx context.Context, pq PowerSyncQuery) ([]Node, error) {
	if pq.Limit <= 0 || pq.AfterID < 0 {
		return nil, fmt.Errorf("nodes for power sync: limit %d after %d: %w", pq.Limit, pq.AfterID, ErrInvalidArgument)
	}
	excl := make([]string, len(pq.ExcludeStates))
	for i, s := range pq.ExcludeStates {
		excl[i] = string(s)
	}
	rows, err := q.db.Query(ctx, `SELECT `+nodeSelect+nodeJoin+`
		WHERE n.id > $1::bigint AND n.target_power_state IS NULL AND n.target_provision_state IS NULL
			AND n.provision_state <> ALL($2::text[])
			AND (NOT n.maintenance OR n.fault = $3::text)
			AND ($5::text IS NULL OR n.conductor_group = $5::text)
		ORDER BY n.id LIMIT $4::int`, pq.AfterID, excl, pq.MaintenanceFault, pq.Limit, pq.ConductorGroup)
	if err != nil {
		return nil, fmt.Errorf("nodes for power sync: %w", err)
	}
	defer rows.Close()
	out, err := q.scanNodes(rows, make([]Node, 0, min(pq.Limit, 1024)))
	if err != nil {
		return nil, fmt.Errorf("nodes for power sync: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("nodes for power sync: %w", err)
	}
	return out, nil
}

// PowerSyncUpdate is what a power sync pass records on one node. It applies
// only if the node is still at Version and no operation targets it: a sync
// write always loses to an operation that started (or finished) since the
// node was read.
type PowerSyncUpdate struct {
	UUID    string
	Version int64
	// PowerState, when set, records the state the BMC reported.
	PowerState *node.PowerState
	// Failures, when set, records the count of consecutive failed reads
	// (0 removes the key from driver_internal_info).
	Failures *int
	// SetMaintenance puts the node in maintenance with Fault, and Reason as
	// maintenance_reason and last_error.
	SetMaintenance bool
	Fault          string
	Reason         string
	// ClearMaintenance takes the node out of maintenance, clearing fault,
	// maintenance_reason and last_error.
	ClearMaintenance bool
	// Event, when set, is appended to the node's history (EventType,
	// ERROR severity when Error).
	Event     string
	EventType string
	Error     bool
}

// ApplyPowerSync writes u in one statement (the node and its history event)
// if the node is still at u.Version with no target state; applied is false
// when it lost to a concurrent write. ErrInvalidArgument when u sets and
// clears maintenance at once.
func (q Queries) ApplyPowerSync(ctx context.Context, u PowerSyncUpdate) (applied bool, err error) {
	id, err := uuid.Parse(u.UUID)
	if err != nil {
		return false, fmt.Errorf("power sync of node %q: %w", u.UUID, ErrNotFound)
	}
	if u.SetMaintenance && u.ClearMaintenance {
		return false, fmt.Errorf("power sync of node %s: set and clear maintenance: %w", u.UUID, ErrInvalidArgument)
	}
	power, setPower := optString(u.PowerState)
	failures := 0
	if u.Failures != nil {
		failures = *u.Failures
	}
	var n int
	err = q.db.QueryRow(ctx, `WITH upd AS (
		UPDATE nodes n SET
			power_state = CASE WHEN $3::boolean THEN NULLIF($4::text, '') ELSE n.power_state END,
			driver_internal_info = CASE
				WHEN NOT $5::boolean THEN n.driver_internal_info
				WHEN $6::int = 0 THEN n.driver_internal_info - $7::text
				ELSE jsonb_set(n.driver_internal_info, ARRAY[$7::text], to_jsonb($6::int)) END,
			maintenance = CASE WHEN $8::boolean THEN true WHEN $9::boolean THEN false ELSE n.maintenance END,
			fault = CASE WHEN $8::boolean THEN $10::text WHEN $9::boolean THEN NULL ELSE n.fault END,
			maintenance_reason = CASE WHEN $8::boolean THEN $11::text WHEN $9::boolean THEN NULL
				ELSE n.maintenance_reason END,
			last_error = CASE WHEN $8::boolean THEN $11::text WHEN $9::boolean THEN NULL ELSE n.last_error END,
			version = n.version + 1,
			updated_at = now()
		WHERE n.uuid = $1::uuid AND n.version = $2::bigint
			AND n.target_power_state IS NULL AND n.target_provision_state IS NULL
		RETURNING n.id
	), ev AS (
		INSERT INTO node_events (uuid, node_id, severity, event_type, event)
		SELECT gen_random_uuid(), upd.id, $12::text, $13::text, $14::text FROM upd WHERE $14::text <> ''
	)
	SELECT count(*) FROM upd`,
		id.String(), u.Version, setPower, power, u.Failures != nil, failures, PowerSyncFailuresKey,
		u.SetMaintenance, u.ClearMaintenance, u.Fault, u.Reason, severity(u.Error), u.EventType, u.Event).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("power sync of node %s: %w", u.UUID, translate(err, ErrNotFound))
	}
	return n == 1, nil
}

// InProgressQuery selects nodes an operation should be holding: in one of
// States, or with a target_power_state, and not written for Idle.
type InProgressQuery struct {
	States []node.ProvisionState
	Idle   time.Duration
	Limit  int
}

// NodeRef names a node at a version.
type NodeRef struct {
	UUID           string
	Version        int64
	ConductorGroup string
}

// NodesInProgress returns up to q.Limit nodes that q selects, oldest write
// first.
func (q Queries) NodesInProgress(ctx context.Context, iq InProgressQuery) ([]NodeRef, error) {
	if iq.Limit <= 0 {
		return nil, fmt.Errorf("nodes in progress: limit %d: %w", iq.Limit, ErrInvalidArgument)
	}
	states := make([]string, len(iq.States))
	for i, s := range iq.States {
		states[i] = string(s)
	}
	rows, err := q.db.Query(ctx, `SELECT uuid::text, version, conductor_group FROM nodes
		WHERE (provision_state = ANY($1::text[]) OR target_power_state IS NOT NULL)
			AND COALESCE(updated_at, created_at) < now() - make_interval(secs => $2::float8)
		ORDER BY COALESCE(updated_at, created_at), id LIMIT $3::int`, states, iq.Idle.Seconds(), iq.Limit)
	if err != nil {
		return nil, fmt.Errorf("nodes in progress: %w", err)
	}
	defer rows.Close()
	var out []NodeRef
	for rows.Next() {
		var r NodeRef
		if err := rows.Scan(&r.UUID, &r.Version, &r.ConductorGroup); err != nil {
			return nil, fmt.Errorf("nodes in progress: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("nodes in progress: %w", err)
	}
	return out, nil
}
