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
	SetCleanProgress(ctx context.Context, nodeUUID string, step json.RawMessage) error
	SetServiceProgress(ctx context.Context, nodeUUID string, step json.RawMessage) error
}

// stepWriter returns the writer of kind's step field (clean_step,
// deploy_step or service_step).
func stepWriter(st AgentStore, kind StepKind) func(context.Context, string, json.RawMessage) error {
	switch kind {
	case CleanSteps:
		return st.SetCleanProgress
	case ServiceSteps:
		return st.SetServiceProgress
	}
	return st.SetDeployProgress
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
// JSON) of the node's instance_info. Deploys started before the steps
// engine pass them through the workflow; newer ones build them in
// RunAgentCommand (see AgentCommandInput.Step) and only CheckInstanceImage.
func (a *Activities) ReadInstanceImage(ctx context.Context, uuid string) (json.RawMessage, error) {
	n, err := a.Nodes.Node(ctx, uuid)
	if err != nil {
		return nil, classify(fmt.Errorf("load node %s: %w", uuid, err))
	}
	w, err := writeImageParams(uuid, n.InstanceInfo)
	if err != nil {
		return nil, err
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

	// Step, when set, makes the command that runs this step of the
	// operation (Kind, OperationID): its name and parameters are built from
	// the store (instance_info, the request's step arguments), so that no
	// image URL or user data travels through the workflow, and the step is
	// shown (with progress) in the node's clean_step or deploy_step.
	// Command then only carries the ID.
	Step        *StepRef `json:"step,omitempty"`
	Kind        StepKind `json:"kind,omitempty"`
	OperationID string   `json:"operation_id,omitempty"`
	// Build, when BuildConfigDrive, makes the command that writes the
	// operation's config drive.
	Build string `json:"build,omitempty"`
}

// BuildConfigDrive is AgentCommandInput.Build for write_configdrive.
const BuildConfigDrive = "configdrive"

// ImageWriteObserver is told of every image an agent wrote: the bytes and
// how long the agent was seen running the command (from the first poll
// that saw it running, so within one poll interval). The DriverCalls
// observer is one when it has the method (main's metrics).
type ImageWriteObserver interface {
	ObserveImageWrite(bytes int64, took time.Duration)
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
	cmd, progress, err := a.agentCommand(ctx, in)
	if err != nil {
		return wire.CommandResult{}, err
	}
	id, name := cmd.ID, cmd.Name
	if err := st.EnqueueAgentCommand(ctx, in.UUID, cmd); err != nil {
		return wire.CommandResult{}, classify(fmt.Errorf("queue %s for the agent of node %s: %w", name, in.UUID, err))
	}
	set := stepWriter(st, in.Kind)
	if len(progress) > 0 {
		// The step shows on the node from the moment it is queued.
		if err := set(ctx, in.UUID, progress); err != nil {
			return wire.CommandResult{}, classify(fmt.Errorf("show %s on node %s: %w", name, in.UUID, err))
		}
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
	written := int64(0)
	var running time.Time // when the agent was first seen running the command
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
		// The result's payload (an inventory, say) stays in the store: the
		// activity's own result is recorded in workflow history.
		res := wire.CommandResult{ID: c.ID, Name: c.Name, Status: c.Status, Error: c.Error,
			BytesWritten: c.BytesWritten, BytesTotal: c.BytesTotal}
		if running.IsZero() && c.Status == wire.StatusRunning {
			running = time.Now()
		}
		switch c.Status {
		case wire.StatusSucceeded:
			if err := a.recordAgentRAID(ctx, in.UUID, c); err != nil {
				return wire.CommandResult{}, err
			}
			if o, ok := a.DriverCalls.(ImageWriteObserver); ok && c.BytesWritten > 0 && !running.IsZero() {
				o.ObserveImageWrite(c.BytesWritten, time.Since(running))
			}
			return res, nil
		case wire.StatusFailed:
			return wire.CommandResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s failed on the agent: %s", name, c.Error), contract.ErrTypeAgentCommandFailed, nil, res)
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, AgentProgress{Command: id, Status: c.Status,
				BytesWritten: c.BytesWritten, BytesTotal: c.BytesTotal})
		}
		if len(progress) > 0 && c.BytesWritten != written {
			written = c.BytesWritten
			if err := set(ctx, in.UUID, withProgress(progress, c.BytesWritten, c.BytesTotal)); err != nil &&
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
