package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Event severities.
const (
	SeverityInfo  = "INFO"
	SeverityError = "ERROR"
)

// Event types written by Transition and SetPower.
const (
	EventProvisioning = "provisioning"
	EventPower        = "power"
)

// transitionSQL is Transition's single round trip. cur locks the node and
// reads its current (latest committed) row; upd applies the compare-and-set
// on provision_state; ev appends the history row when upd did; the final
// SELECT returns either the updated row (applied = true) or the current one
// (applied = false) so that the caller can tell a replay from a refusal
// without another query.
var transitionSQL = `WITH cur AS (
	SELECT * FROM nodes WHERE uuid = $1::uuid FOR UPDATE
), upd AS (
	UPDATE nodes n SET
		provision_state = $3::text,
		target_provision_state = NULLIF($4::text, ''),
		provision_request_id = NULLIF($5::text, ''),
		provision_updated_at = now(),
		updated_at = now(),
		version = n.version + 1,
		last_error = CASE WHEN $6::boolean THEN NULLIF($7::text, '') ELSE n.last_error END,
		power_state = CASE WHEN $8::boolean THEN NULLIF($9::text, '') ELSE n.power_state END,
		instance_uuid = CASE WHEN $10::boolean THEN NULLIF($11::text, '') ELSE n.instance_uuid END,
		instance_info = COALESCE($12::jsonb, n.instance_info) - $23::text[],
		deploy_step = COALESCE($13::jsonb, n.deploy_step),
		clean_step = COALESCE($14::jsonb, n.clean_step),
		service_step = COALESCE($25::jsonb, n.service_step),
		driver_internal_info = COALESCE($15::jsonb, n.driver_internal_info),
		conductor = COALESCE(NULLIF($24::text, ''), n.conductor),
		inspection_started_at = CASE WHEN $19::boolean THEN now() ELSE n.inspection_started_at END,
		inspection_finished_at = CASE WHEN $20::boolean THEN now() WHEN $19::boolean THEN NULL
			ELSE n.inspection_finished_at END
	FROM cur
	WHERE n.id = cur.id AND cur.provision_state = ANY($2::text[])
	RETURNING n.*, cur.provision_state AS from_state
), ev AS (
	INSERT INTO node_events (uuid, node_id, severity, event_type, event, request_id, user_id, project_id, conductor)
	SELECT gen_random_uuid(), upd.id, $16::text, 'provisioning',
		COALESCE(NULLIF($17::text, ''), upd.from_state || ' -> ' || upd.provision_state), NULLIF($5::text, ''),
		NULLIF($21::text, ''), NULLIF($22::text, ''), $24::text
	FROM upd
), drop AS (
	UPDATE node_operations o SET config_drive = NULL FROM upd
	WHERE $18::boolean AND o.node_id = upd.id AND o.config_drive IS NOT NULL
), ` + fmt.Sprintf(releaseAllocationCTE, "upd") + `
SELECT true, false, '', ` + nodeSelect + ` FROM upd n` + nodeJoins + `
UNION ALL
SELECT false, $5::text <> '' AND EXISTS (SELECT 1 FROM node_events e WHERE e.node_id = n.id AND e.request_id = $5::text),
	COALESCE(n.provision_request_id, ''), ` + nodeSelect + `
	FROM cur n` + nodeJoins + `
	WHERE NOT EXISTS (SELECT 1 FROM upd)`

// Transition moves a node to r.To if its provision_state is one of r.From
// (compare-and-set), setting target_provision_state to r.Target,
// provision_updated_at, the optional fields of r, and bumping Version; in the
// same statement it appends a "provisioning" history event. It returns the
// updated node.
//
// When the node is not in r.From but already in r.To with target r.Target
// (and, if r.RequestID is set, the last transition carried the same
// RequestID), the call is a retry whose first attempt committed: Transition
// returns the node unchanged and no error. So is a call whose RequestID is
// recorded on any earlier history event: a workflow re-running a sequence of
// steps after a crash replays transitions that later ones superseded.
//
// Errors: ErrInvalidState (naming the current state) when the node is
// elsewhere; ErrNotFound when there is no such node; ErrExists when
// r.InstanceUUID is already used by another node.
func (q Queries) Transition(ctx context.Context, r TransitionRequest) (Node, error) {
	id, err := uuid.Parse(r.UUID)
	if err != nil {
		return Node{}, fmt.Errorf("transition node %q: %w", r.UUID, ErrNotFound)
	}
	from := make([]string, len(r.From))
	for i, s := range r.From {
		from[i] = string(s)
	}
	lastErr, setLastErr := optString(r.LastError)
	power, setPower := optString(r.PowerState)
	instanceUUID, setInstanceUUID := optString(r.InstanceUUID)
	var (
		applied, seen bool
		reqID         string
	)
	n, err := q.scanNode(q.db.QueryRow(ctx, transitionSQL,
		id.String(), from, string(r.To), string(r.Target), r.RequestID,
		setLastErr, lastErr, setPower, power, setInstanceUUID, instanceUUID,
		optJSON(r.InstanceInfo), optJSON(r.DeployStep), optJSON(r.CleanStep), optJSON(r.DriverInternalInfo),
		severity(r.Error), r.Event, r.DropConfigDrives, r.InspectionStarted, r.InspectionFinished, r.User, r.Project, nonNil(r.RemoveInstanceKeys),
		r.Conductor, optJSON(r.ServiceStep),
	), &applied, &seen, &reqID)
	if err != nil {
		return Node{}, fmt.Errorf("transition node %s to %q: %w", r.UUID, r.To, translate(err, ErrNotFound))
	}
	if applied {
		return n, nil
	}
	if n.ProvisionState == r.To && n.TargetProvisionState == r.Target &&
		(r.RequestID == "" || r.RequestID == reqID) {
		return n, nil // our earlier attempt committed
	}
	if seen {
		// This very request committed earlier and later transitions moved
		// the node on: a workflow re-running its steps after a worker crash.
		return n, nil
	}
	return Node{}, fmt.Errorf("transition node %s to %q: node is %q, want one of %q: %w",
		r.UUID, r.To, n.ProvisionState, r.From, ErrInvalidState)
}

// optString returns the value of an optional string (or string-typed state)
// and whether it is set.
func optString[S ~string](p *S) (string, bool) {
	if p == nil {
		return "", false
	}
	return string(*p), true
}

// severity is the severity of a history event recorded as an error when
// isError, else as information.
func severity(isError bool) string {
	if isError {
		return SeverityError
	}
	return SeverityInfo
}

// optJSON returns nil (SQL NULL: leave the column alone) for an absent value,
// else the object as a string.
func optJSON(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return jsonObject(raw)
}

// SetPower records a node's power state: each set pointer of u replaces its
// column ("" = NULL), Version is bumped, and when u.Event is not empty a
// "power" history event is appended in the same statement. It returns the
// updated node; ErrNotFound when there is none.
func (q Queries) SetPower(ctx context.Context, u PowerUpdate) (Node, error) {
	id, err := uuid.Parse(u.UUID)
	if err != nil {
		return Node{}, fmt.Errorf("set power of node %q: %w", u.UUID, ErrNotFound)
	}
	power, setPower := optString(u.PowerState)
	target, setTarget := optString(u.Target)
	lastErr, setLastErr := optString(u.LastError)
	n, err := q.scanNode(q.db.QueryRow(ctx, `WITH upd AS (
		UPDATE nodes n SET
			power_state = CASE WHEN $2::boolean THEN NULLIF($3::text, '') ELSE n.power_state END,
			target_power_state = CASE WHEN $4::boolean THEN NULLIF($5::text, '') ELSE n.target_power_state END,
			last_error = CASE WHEN $6::boolean THEN NULLIF($7::text, '') ELSE n.last_error END,
			version = n.version + 1,
			updated_at = now()
		WHERE n.uuid = $1::uuid
		RETURNING n.*
	), ev AS (
		INSERT INTO node_events (uuid, node_id, severity, event_type, event, user_id, project_id)
		SELECT gen_random_uuid(), upd.id, $8::text, 'power', $9::text, NULLIF($10::text, ''), NULLIF($11::text, '')
		FROM upd WHERE $9::text <> ''
	)
	SELECT `+nodeSelect+` FROM upd n`+nodeJoins,
		id.String(), setPower, power, setTarget, target, setLastErr, lastErr,
		severity(u.Error), u.Event, u.User, u.Project))
	if err != nil {
		return Node{}, fmt.Errorf("set power of node %s: %w", u.UUID, translate(err, ErrNotFound))
	}
	return n, nil
}

// NodeEvents returns a node's history, oldest first. ErrNotFound when there
// is no such node.
func (q Queries) NodeEvents(ctx context.Context, nodeUUID string) ([]Event, error) {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return nil, fmt.Errorf("list events of node %q: %w", nodeUUID, ErrNotFound)
	}
	// The LEFT JOIN yields one all-NULL event row for a node without
	// history, which tells "no events" from "no node" in one query.
	rows, err := q.db.Query(ctx, `SELECT e.id, e.uuid::text, n.uuid::text, e.severity, e.event_type,
			e.event, e.user_id, e.project_id, e.conductor, e.created_at
		FROM nodes n LEFT JOIN node_events e ON e.node_id = n.id
		WHERE n.uuid = $1::uuid ORDER BY e.id`, id.String())
	if err != nil {
		return nil, fmt.Errorf("list events of node %s: %w", nodeUUID, err)
	}
	defer rows.Close()
	var (
		out   []Event
		found bool
	)
	for rows.Next() {
		found = true
		var (
			e                                      Event
			eid                                    *int64
			euuid, severity, eventType, text, cond *string
			created                                *time.Time
		)
		if err := rows.Scan(&eid, &euuid, &e.NodeUUID, &severity, &eventType, &text, &e.User, &e.Project, &cond, &created); err != nil {
			return nil, fmt.Errorf("list events of node %s: %w", nodeUUID, err)
		}
		if eid == nil {
			continue // node without history
		}
		e.ID, e.UUID, e.Severity, e.EventType, e.Event, e.Conductor, e.CreatedAt =
			*eid, *euuid, *severity, *eventType, *text, *cond, *created
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events of node %s: %w", nodeUUID, err)
	}
	if !found {
		return nil, fmt.Errorf("list events of node %s: %w", nodeUUID, ErrNotFound)
	}
	return out, nil
}

// AddEvent appends e to the history of node e.NodeUUID. A UUID is generated
// when e.UUID is empty, Severity defaults to INFO and CreatedAt to now; ID is
// ignored. ErrNotFound when there is no such node, ErrExists for a duplicate
// UUID.
func (q Queries) AddEvent(ctx context.Context, e Event) error {
	nodeID, err := uuid.Parse(e.NodeUUID)
	if err != nil {
		return fmt.Errorf("add event to node %q: %w", e.NodeUUID, ErrNotFound)
	}
	if e.UUID == "" {
		e.UUID = uuid.NewString()
	} else if id, err := uuid.Parse(e.UUID); err == nil {
		e.UUID = id.String()
	} else {
		return fmt.Errorf("add event %q to node %s: malformed uuid: %w", e.UUID, e.NodeUUID, ErrInvalidArgument)
	}
	if e.Severity == "" {
		e.Severity = SeverityInfo
	}
	var created *time.Time
	if !e.CreatedAt.IsZero() {
		created = &e.CreatedAt
	}
	tag, err := q.db.Exec(ctx, `INSERT INTO node_events
			(uuid, node_id, severity, event_type, event, user_id, conductor, created_at, project_id)
		SELECT $1::uuid, n.id, $3::text, $4::text, $5::text, $6::text, $7::text, COALESCE($8::timestamptz, now()),
			$9::text
		FROM nodes n WHERE n.uuid = $2::uuid`,
		e.UUID, nodeID.String(), e.Severity, e.EventType, e.Event, e.User, e.Conductor, created, e.Project)
	if err != nil {
		return fmt.Errorf("add event to node %s: %w", e.NodeUUID, translate(err, ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("add event to node %s: %w", e.NodeUUID, ErrNotFound)
	}
	return nil
}
