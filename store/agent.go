package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/agent/wire"
)

// AgentSession is the server side of one ramdisk agent run on a node: whether
// the node should network-boot the ramdisk, the agent token's hash and the
// commands queued for the agent with their latest results.
type AgentSession struct {
	NodeUUID    string
	BootRamdisk bool
	// TokenHash is the hex sha256 of the agent token, "" until one is
	// issued. The token itself is never stored.
	TokenHash       string
	TokenIssuedAt   *time.Time
	AgentVersion    string
	LastHeartbeatAt *time.Time
	CreatedAt       time.Time
	// Commands in the order they were queued.
	Commands []AgentCommand
}

// AgentCommand is a queued command and the latest result the agent reported
// for it (Status "" = none yet).
type AgentCommand struct {
	wire.Command
	Status       string
	Error        string
	Result       json.RawMessage
	BytesWritten int64
	BytesTotal   int64
	UpdatedAt    *time.Time
}

// Final reports whether the agent reported the command's outcome.
func (c AgentCommand) Final() bool {
	return c.Status == wire.StatusSucceeded || c.Status == wire.StatusFailed
}

// Command returns the session's command with that ID.
func (s AgentSession) Command(id string) (AgentCommand, bool) {
	for _, c := range s.Commands {
		if c.ID == id {
			return c, true
		}
	}
	return AgentCommand{}, false
}

// Pending returns the commands without a final result, in queue order.
func (s AgentSession) Pending() []wire.Command {
	var out []wire.Command
	for _, c := range s.Commands {
		if !c.Final() {
			out = append(out, c.Command)
		}
	}
	return out
}

// OpenAgentSession starts a fresh agent session on the node: the node boots
// the ramdisk, no token is issued yet and no command is queued. Opening an
// open session resets it (idempotent). ErrNotFound when there is no such
// node.
func (q Queries) OpenAgentSession(ctx context.Context, nodeUUID string) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("open agent session of node %q: %w", nodeUUID, ErrNotFound)
	}
	// Two idempotent statements: reset (or create) the session row, then drop
	// the previous run's commands. A retry after a crash between them
	// converges to the same fresh session.
	tag, err := q.db.Exec(ctx, `INSERT INTO agent_sessions (node_id)
		SELECT id FROM nodes WHERE uuid = $1::uuid
		ON CONFLICT (node_id) DO UPDATE SET boot_ramdisk = true, token_hash = NULL, token_issued_at = NULL,
			agent_version = NULL, last_heartbeat_at = NULL, created_at = now()`, id.String())
	if err != nil {
		return fmt.Errorf("open agent session of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("open agent session of node %s: %w", nodeUUID, ErrNotFound)
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM agent_commands c USING nodes n
		WHERE c.node_id = n.id AND n.uuid = $1::uuid`, id.String()); err != nil {
		return fmt.Errorf("open agent session of node %s: %w", nodeUUID, err)
	}
	return nil
}

// CloseAgentSession deletes the node's agent session and its commands: the
// token dies and the node no longer boots the ramdisk. Closing a closed
// session (or one of a missing node) is a no-op.
func (q Queries) CloseAgentSession(ctx context.Context, nodeUUID string) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return nil
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM agent_sessions s USING nodes n
		WHERE s.node_id = n.id AND n.uuid = $1::uuid`, id.String()); err != nil {
		return fmt.Errorf("close agent session of node %s: %w", nodeUUID, err)
	}
	return nil
}

// IssueAgentToken records the hash of the session's token if none was issued
// yet; issued is false when one already was. ErrNotFound when the node has no
// open session.
func (q Queries) IssueAgentToken(ctx context.Context, nodeUUID, tokenHash string) (issued bool, err error) {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return false, fmt.Errorf("issue agent token for node %q: %w", nodeUUID, ErrNotFound)
	}
	if tokenHash == "" {
		return false, fmt.Errorf("issue agent token for node %s: empty hash: %w", nodeUUID, ErrInvalidArgument)
	}
	// One statement: the session row is locked by the UPDATE, so two
	// concurrent lookups cannot both issue.
	var exists bool
	err = q.db.QueryRow(ctx, `WITH s AS (
		SELECT s.node_id, s.token_hash FROM agent_sessions s JOIN nodes n ON n.id = s.node_id
		WHERE n.uuid = $1::uuid
	), upd AS (
		UPDATE agent_sessions a SET token_hash = $2::text, token_issued_at = now()
		FROM s WHERE a.node_id = s.node_id AND a.token_hash IS NULL
		RETURNING a.node_id
	)
	SELECT EXISTS (SELECT 1 FROM s), EXISTS (SELECT 1 FROM upd)`, id.String(), tokenHash).Scan(&exists, &issued)
	if err != nil {
		return false, fmt.Errorf("issue agent token for node %s: %w", nodeUUID, err)
	}
	if !exists {
		return false, fmt.Errorf("issue agent token for node %s: no agent session: %w", nodeUUID, ErrNotFound)
	}
	return issued, nil
}

// AgentSession returns the node's open agent session with its commands.
// ErrNotFound when there is none.
func (q Queries) AgentSession(ctx context.Context, nodeUUID string) (AgentSession, error) {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return AgentSession{}, fmt.Errorf("get agent session of node %q: %w", nodeUUID, ErrNotFound)
	}
	// One round trip: the session row LEFT JOINed to its commands.
	rows, err := q.db.Query(ctx, `SELECT n.uuid::text, s.boot_ramdisk, COALESCE(s.token_hash, ''), s.token_issued_at,
			COALESCE(s.agent_version, ''), s.last_heartbeat_at, s.created_at,
			c.id, c.name, c.params, c.status, c.error, c.result, c.bytes_written, c.bytes_total, c.updated_at
		FROM agent_sessions s JOIN nodes n ON n.id = s.node_id
		LEFT JOIN agent_commands c ON c.node_id = s.node_id
		WHERE n.uuid = $1::uuid ORDER BY c.seq`, id.String())
	if err != nil {
		return AgentSession{}, fmt.Errorf("get agent session of node %s: %w", nodeUUID, err)
	}
	defer rows.Close()
	var (
		s     AgentSession
		found bool
	)
	for rows.Next() {
		found = true
		var (
			cid, name, status, cerr *string
			params, result          []byte
			written, total          *int64
			updated                 *time.Time
		)
		if err := rows.Scan(&s.NodeUUID, &s.BootRamdisk, &s.TokenHash, &s.TokenIssuedAt, &s.AgentVersion,
			&s.LastHeartbeatAt, &s.CreatedAt,
			&cid, &name, &params, &status, &cerr, &result, &written, &total, &updated); err != nil {
			return AgentSession{}, fmt.Errorf("get agent session of node %s: %w", nodeUUID, err)
		}
		if cid == nil {
			continue // a session without commands
		}
		c := AgentCommand{Command: wire.Command{ID: *cid, Name: *name, Params: params},
			Status: *status, Result: result, BytesWritten: *written, BytesTotal: *total, UpdatedAt: updated}
		if cerr != nil {
			c.Error = *cerr
		}
		s.Commands = append(s.Commands, c)
	}
	if err := rows.Err(); err != nil {
		return AgentSession{}, fmt.Errorf("get agent session of node %s: %w", nodeUUID, err)
	}
	if !found {
		return AgentSession{}, fmt.Errorf("get agent session of node %s: %w", nodeUUID, ErrNotFound)
	}
	return s, nil
}

// EnqueueAgentCommand queues cmd for the node's agent. Queueing a command ID
// that is already queued is a no-op (idempotent: activities are
// at-least-once). ErrNotFound when the node has no open session;
// ErrInvalidArgument for a command without ID or name.
func (q Queries) EnqueueAgentCommand(ctx context.Context, nodeUUID string, cmd wire.Command) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("enqueue agent command for node %q: %w", nodeUUID, ErrNotFound)
	}
	if cmd.ID == "" || cmd.Name == "" {
		return fmt.Errorf("enqueue agent command for node %s: command needs an id and a name: %w",
			nodeUUID, ErrInvalidArgument)
	}
	var params any
	if len(cmd.Params) > 0 && string(cmd.Params) != "null" {
		params = string(cmd.Params)
	}
	var session bool
	err = q.db.QueryRow(ctx, `WITH s AS (
		SELECT s.node_id FROM agent_sessions s JOIN nodes n ON n.id = s.node_id WHERE n.uuid = $1::uuid
	), ins AS (
		INSERT INTO agent_commands (node_id, id, name, params)
		SELECT node_id, $2::text, $3::text, $4::jsonb FROM s
		ON CONFLICT (node_id, id) DO NOTHING
	)
	SELECT EXISTS (SELECT 1 FROM s)`, id.String(), cmd.ID, cmd.Name, params).Scan(&session)
	if err != nil {
		return fmt.Errorf("enqueue agent command %s for node %s: %w", cmd.ID, nodeUUID, translate(err, ErrNotFound))
	}
	if !session {
		return fmt.Errorf("enqueue agent command %s for node %s: no agent session: %w", cmd.ID, nodeUUID, ErrNotFound)
	}
	return nil
}

// RecordAgentResults records a heartbeat: the agent's version, the time, and
// each result for a queued command (the latest report wins, but a final
// result is never replaced; results for unknown command IDs are ignored).
// ErrNotFound when the node has no open session.
func (q Queries) RecordAgentResults(ctx context.Context, nodeUUID, agentVersion string, results []wire.CommandResult) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("record agent results of node %q: %w", nodeUUID, ErrNotFound)
	}
	// Later entries for the same ID win: keep the last one only, so the
	// batched UPDATE below touches each row once.
	last := make(map[string]int, len(results))
	for i, r := range results {
		last[r.ID] = i
	}
	var ids, statuses, errs []string
	var res []*string
	var written, total []int64
	for i, r := range results {
		if last[r.ID] != i || r.ID == "" {
			continue
		}
		ids, statuses, errs = append(ids, r.ID), append(statuses, r.Status), append(errs, r.Error)
		var rj *string
		if len(r.Result) > 0 && json.Valid(r.Result) {
			s := string(r.Result)
			rj = &s
		}
		res = append(res, rj)
		written, total = append(written, r.BytesWritten), append(total, r.BytesTotal)
	}
	var session bool
	err = q.db.QueryRow(ctx, `WITH s AS (
		UPDATE agent_sessions s SET agent_version = NULLIF($2::text, ''), last_heartbeat_at = now()
		FROM nodes n WHERE n.id = s.node_id AND n.uuid = $1::uuid
		RETURNING s.node_id
	), r AS (
		SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
			AS r(id, status, error, result, bytes_written, bytes_total)
	), upd AS (
		UPDATE agent_commands c SET status = r.status, error = NULLIF(r.error, ''), result = r.result,
			bytes_written = r.bytes_written, bytes_total = r.bytes_total, updated_at = now()
		FROM s, r
		WHERE c.node_id = s.node_id AND c.id = r.id AND c.status NOT IN ('succeeded', 'failed')
			AND r.status IN ('running', 'succeeded', 'failed')
	)
	SELECT EXISTS (SELECT 1 FROM s)`, id.String(), agentVersion, ids, statuses, errs, res, written, total).Scan(&session)
	if err != nil {
		return fmt.Errorf("record agent results of node %s: %w", nodeUUID, translate(err, ErrNotFound))
	}
	if !session {
		return fmt.Errorf("record agent results of node %s: no agent session: %w", nodeUUID, ErrNotFound)
	}
	return nil
}

// BootConfigByMAC returns the node that the NIC with this MAC address (any
// case) belongs to, when that node has an open agent session that boots the
// ramdisk; ok is false otherwise.
func (q Queries) BootConfigByMAC(ctx context.Context, mac string) (nodeUUID string, ok bool, err error) {
	rows, err := q.db.Query(ctx, `SELECT n.uuid::text FROM ports p
		JOIN nodes n ON n.id = p.node_id
		JOIN agent_sessions s ON s.node_id = n.id AND s.boot_ramdisk
		WHERE p.address = $1::text`, normalizeMAC(mac))
	if err != nil {
		return "", false, fmt.Errorf("boot config of %s: %w", mac, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&nodeUUID); err != nil {
			return "", false, fmt.Errorf("boot config of %s: %w", mac, err)
		}
		ok = true
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("boot config of %s: %w", mac, err)
	}
	return nodeUUID, ok, nil
}

// SetDeployProgress writes a node's deploy_step (the running deploy step
// and its progress) without bumping its version: the workflow holding the
// node's lock reports progress, and optimistic writers are not disturbed.
func (q Queries) SetDeployProgress(ctx context.Context, nodeUUID string, step json.RawMessage) error {
	return q.setStep(ctx, nodeUUID, "deploy_step", step)
}

// SetCleanProgress writes a node's clean_step, like SetDeployProgress.
func (q Queries) SetCleanProgress(ctx context.Context, nodeUUID string, step json.RawMessage) error {
	return q.setStep(ctx, nodeUUID, "clean_step", step)
}

// SetServiceProgress writes a node's service_step, like SetDeployProgress.
func (q Queries) SetServiceProgress(ctx context.Context, nodeUUID string, step json.RawMessage) error {
	return q.setStep(ctx, nodeUUID, "service_step", step)
}

// setStep writes column (deploy_step or clean_step, this package's
// constants, never input).
func (q Queries) setStep(ctx context.Context, nodeUUID, column string, step json.RawMessage) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("set %s of node %q: %w", column, nodeUUID, ErrNotFound)
	}
	tag, err := q.db.Exec(ctx, `UPDATE nodes SET `+column+` = $2::jsonb, updated_at = now()
		WHERE uuid = $1::uuid`, id.String(), jsonObject(step))
	if err != nil {
		return fmt.Errorf("set %s of node %s: %w", column, nodeUUID, translate(err, ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set %s of node %s: %w", column, nodeUUID, ErrNotFound)
	}
	return nil
}
