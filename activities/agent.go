package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Defaults of the agent activities.
const (
	DefaultAgentPollInterval     = 500 * time.Millisecond
	DefaultAgentHeartbeatTimeout = 5 * time.Minute
)

// AgentStore is what the agent activities need of the store; *store.Store
// satisfies it.
type AgentStore interface {
	OpenAgentSession(ctx context.Context, nodeUUID string) error
	CloseAgentSession(ctx context.Context, nodeUUID string) error
	EnqueueAgentCommand(ctx context.Context, nodeUUID string, cmd wire.Command) error
	AgentSession(ctx context.Context, nodeUUID string) (store.AgentSession, error)
	SetDeployProgress(ctx context.Context, nodeUUID string, step json.RawMessage) error
}

func (a *Activities) agents() (AgentStore, error) {
	if a.Agents == nil {
		return nil, temporal.NewNonRetryableApplicationError("this worker has no agent store",
			contract.ErrTypeUnsupported, nil)
	}
	return a.Agents, nil
}

// PrepareRamdiskBoot opens a fresh agent session for the node: its boot
// configuration now says "boot the deploy ramdisk", and the agent may look
// the node up once to get a token.
func (a *Activities) PrepareRamdiskBoot(ctx context.Context, uuid string) error {
	st, err := a.agents()
	if err != nil {
		return err
	}
	if err := st.OpenAgentSession(ctx, uuid); err != nil {
		return classify(fmt.Errorf("prepare ramdisk boot of node %s: %w", uuid, err))
	}
	return nil
}

// CleanUpRamdiskBoot closes the node's agent session: the token dies and the
// node boots from its disk again.
func (a *Activities) CleanUpRamdiskBoot(ctx context.Context, uuid string) error {
	st, err := a.agents()
	if err != nil {
		return err
	}
	if err := st.CloseAgentSession(ctx, uuid); err != nil {
		return classify(fmt.Errorf("clean up ramdisk boot of node %s: %w", uuid, err))
	}
	return nil
}

// instanceImage is the part of Ironic's instance_info a deploy reads.
type instanceImage struct {
	Source     string `json:"image_source"`
	Checksum   string `json:"image_checksum"`
	HashAlgo   string `json:"image_os_hash_algo"`
	HashValue  string `json:"image_os_hash_value"`
	DiskFormat string `json:"image_disk_format"`
}

// ReadInstanceImage returns the write_image parameters (wire.WriteImage as
// JSON) of the node's instance_info: image_source, image_checksum or image_os_hash_algo and
// image_os_hash_value, and the format from image_disk_format (raw, qcow2;
// others are detected by the agent from the content). The device is left to
// the agent (its first disk).
func (a *Activities) ReadInstanceImage(ctx context.Context, uuid string) (json.RawMessage, error) {
	n, err := a.Nodes.Node(ctx, uuid)
	if err != nil {
		return nil, classify(fmt.Errorf("load node %s: %w", uuid, err))
	}
	var img instanceImage
	if len(n.InstanceInfo) > 0 {
		if err := json.Unmarshal(n.InstanceInfo, &img); err != nil {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("instance_info of node %s is not usable: %v", uuid, err), contract.ErrTypeBadInstanceInfo, nil)
		}
	}
	if img.Source == "" {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("cannot deploy node %s: instance_info has no image_source", uuid), contract.ErrTypeBadInstanceInfo, nil)
	}
	if (img.HashAlgo == "") != (img.HashValue == "") {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("cannot deploy node %s: instance_info needs both image_os_hash_algo and image_os_hash_value", uuid),
			contract.ErrTypeBadInstanceInfo, nil)
	}
	w := wire.WriteImage{URL: img.Source, Checksum: img.Checksum, HashAlgo: img.HashAlgo, HashValue: img.HashValue}
	switch img.DiskFormat {
	case "raw", "qcow2":
		w.Format = img.DiskFormat
	}
	out, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode write_image params: %w", err)
	}
	return out, nil
}

// AgentCommandInput is one command for a node's agent.
type AgentCommandInput struct {
	UUID string `json:"uuid"`
	// Command.ID must be deterministic per workflow step, so that a retried
	// activity re-attaches to the command it queued.
	Command wire.Command `json:"command"`
	// DeployStep, when set, is written as the node's deploy_step while the
	// command runs, with bytes_written and bytes_total added as they move.
	DeployStep json.RawMessage `json:"deploy_step,omitempty"`
	// TimeoutSeconds bounds the command (0: only the activity's timeout).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// AgentProgress is the heartbeat detail of RunAgentCommand (shown by the
// Temporal UI on the pending activity).
type AgentProgress struct {
	Command      string `json:"command"`
	Status       string `json:"status"`
	BytesWritten int64  `json:"bytes_written,omitempty"`
	BytesTotal   int64  `json:"bytes_total,omitempty"`
}

// RunAgentCommand queues a command for the node's agent (idempotent by
// command ID) and waits for its final result, heartbeating the progress and
// writing it to the node's deploy_step. A failed command is a non-retryable
// contract.ErrTypeAgentCommandFailed error carrying the agent's message.
func (a *Activities) RunAgentCommand(ctx context.Context, in AgentCommandInput) (wire.CommandResult, error) {
	st, err := a.agents()
	if err != nil {
		return wire.CommandResult{}, err
	}
	id, name := in.Command.ID, in.Command.Name
	if err := st.EnqueueAgentCommand(ctx, in.UUID, in.Command); err != nil {
		return wire.CommandResult{}, classify(fmt.Errorf("queue %s for the agent of node %s: %w", name, in.UUID, err))
	}
	every := a.AgentPollInterval
	if every <= 0 {
		every = DefaultAgentPollInterval
	}
	silent := a.AgentHeartbeatTimeout
	if silent <= 0 {
		silent = DefaultAgentHeartbeatTimeout
	}
	var deadline time.Time
	if in.TimeoutSeconds > 0 {
		deadline = time.Now().Add(time.Duration(in.TimeoutSeconds) * time.Second)
	}
	written := int64(-1)
	for {
		sess, err := st.AgentSession(ctx, in.UUID)
		if err != nil {
			return wire.CommandResult{}, classify(fmt.Errorf("wait for %s on node %s: %w", name, in.UUID, err))
		}
		c, ok := sess.Command(id)
		if !ok {
			return wire.CommandResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("agent command %s (%s) of node %s is gone: the agent session was reset", id, name, in.UUID),
				contract.ErrTypeAgentCommandFailed, nil)
		}
		res := wire.CommandResult{ID: c.ID, Name: c.Name, Status: c.Status, Error: c.Error, Result: c.Result,
			BytesWritten: c.BytesWritten, BytesTotal: c.BytesTotal}
		switch c.Status {
		case wire.StatusSucceeded:
			return res, nil
		case wire.StatusFailed:
			return wire.CommandResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s failed on the agent: %s", name, c.Error), contract.ErrTypeAgentCommandFailed, nil, res)
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, AgentProgress{Command: id, Status: c.Status,
				BytesWritten: c.BytesWritten, BytesTotal: c.BytesTotal})
		}
		if len(in.DeployStep) > 0 && c.BytesWritten != written {
			written = c.BytesWritten
			if err := st.SetDeployProgress(ctx, in.UUID, withProgress(in.DeployStep, c.BytesWritten, c.BytesTotal)); err != nil &&
				activity.IsActivity(ctx) {
				// Progress is informative: losing one tick must not fail the deploy.
				activity.GetLogger(ctx).Warn("record deploy progress", "node", in.UUID, "err", err)
			}
		}
		last := sess.CreatedAt
		if sess.LastHeartbeatAt != nil {
			last = *sess.LastHeartbeatAt
		}
		now := time.Now()
		if now.Sub(last) > silent {
			return wire.CommandResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("the agent of node %s stopped heartbeating (last heartbeat %s ago) while running %s",
					in.UUID, now.Sub(last).Round(time.Second), name), contract.ErrTypeAgentTimeout, nil)
		}
		if !deadline.IsZero() && now.After(deadline) {
			return wire.CommandResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s did not finish on the agent of node %s within %ds", name, in.UUID, in.TimeoutSeconds),
				contract.ErrTypeAgentTimeout, nil)
		}
		select {
		case <-ctx.Done():
			return wire.CommandResult{}, ctx.Err()
		case <-time.After(every):
		}
	}
}

// withProgress returns step (a JSON object) with bytes_written and
// bytes_total set.
func withProgress(step json.RawMessage, written, total int64) json.RawMessage {
	m := map[string]any{}
	_ = json.Unmarshal(step, &m) // the workflow's own constant: an object
	m["bytes_written"] = written
	m["bytes_total"] = total
	out, err := json.Marshal(m)
	if err != nil {
		return step
	}
	return out
}
