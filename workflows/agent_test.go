package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/agent"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows"
	"github.com/ferric-project/ferric/workflows/contract"
)

// fakeAgents is an in-memory AgentStore plus a simulated ramdisk agent:
// each queued command plays its script (one result per session read), so
// RunAgentCommand sees progress and then the outcome, as over heartbeats.
type fakeAgents struct {
	mu       sync.Mutex
	sessions map[string]*store.AgentSession
	scripts  map[string][]wire.CommandResult // by command ID: what is still to report
	script   func(cmd wire.Command) []wire.CommandResult
	enqueues int      // EnqueueAgentCommand calls
	commands []string // distinct commands queued ("name"), the agent runs each once
	progress []string // deploy_step values written
	opened   int
	// failReads makes the next session reads fail (a database or worker hiccup).
	failReads int
}

func newFakeAgents(script func(cmd wire.Command) []wire.CommandResult) *fakeAgents {
	return &fakeAgents{sessions: map[string]*store.AgentSession{}, scripts: map[string][]wire.CommandResult{},
		script: script}
}

// succeed is the script of a healthy agent: write_image reports progress
// twice, then every command succeeds.
func succeed(cmd wire.Command) []wire.CommandResult {
	var out []wire.CommandResult
	if cmd.Name == wire.CmdWriteImage {
		out = append(out,
			wire.CommandResult{Status: wire.StatusRunning, BytesWritten: 1 << 20, BytesTotal: 4 << 20},
			wire.CommandResult{Status: wire.StatusRunning, BytesWritten: 3 << 20, BytesTotal: 4 << 20})
	}
	return append(out, wire.CommandResult{Status: wire.StatusSucceeded, BytesWritten: 4 << 20, BytesTotal: 4 << 20})
}

func (f *fakeAgents) OpenAgentSession(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.sessions[id] = &store.AgentSession{NodeUUID: id, BootRamdisk: true, CreatedAt: now, LastHeartbeatAt: &now}
	f.opened++
	return nil
}

func (f *fakeAgents) CloseAgentSession(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, id)
	return nil
}

func (f *fakeAgents) EnqueueAgentCommand(_ context.Context, id string, cmd wire.Command) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enqueues++
	s, ok := f.sessions[id]
	if !ok {
		return store.ErrNotFound
	}
	if _, dup := s.Command(cmd.ID); dup {
		return nil
	}
	s.Commands = append(s.Commands, store.AgentCommand{Command: cmd})
	f.scripts[cmd.ID] = f.script(cmd)
	f.commands = append(f.commands, cmd.Name)
	return nil
}

func (f *fakeAgents) AgentSession(_ context.Context, id string) (store.AgentSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failReads > 0 {
		f.failReads--
		return store.AgentSession{}, errors.New("connection reset")
	}
	s, ok := f.sessions[id]
	if !ok {
		return store.AgentSession{}, store.ErrNotFound
	}
	for i := range s.Commands { // the agent reports one step per heartbeat
		c := &s.Commands[i]
		if rs := f.scripts[c.ID]; len(rs) > 0 && !c.Final() {
			r := rs[0]
			f.scripts[c.ID] = rs[1:]
			c.Status, c.Error, c.BytesWritten, c.BytesTotal = r.Status, r.Error, r.BytesWritten, r.BytesTotal
		}
	}
	now := time.Now()
	s.LastHeartbeatAt = &now
	cp := *s
	cp.Commands = slices.Clone(s.Commands)
	return cp, nil
}

func (f *fakeAgents) SetDeployProgress(_ context.Context, _ string, step json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.progress = append(f.progress, string(step))
	return nil
}

func (f *fakeAgents) open(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.sessions[id]
	return ok
}

// agentEnv is a testsuite environment running the real activities over a
// fake-hardware node whose deploy interface is the real "direct".
func agentEnv(t *testing.T, agents *fakeAgents, n store.Node) (*testsuite.TestWorkflowEnvironment, *memNodes, *fake.Hardware) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	hw := fake.New()
	r := drivers.NewRegistry()
	hw.Register(r)
	agent.Register(r, agent.Config{AutomatedClean: true})
	nodes := newMemNodes(n)
	env.RegisterActivity(&activities.Activities{Drivers: r, Nodes: nodes, Agents: agents,
		PollInterval: time.Millisecond, AgentPollInterval: time.Millisecond})
	workflows.Register(env)
	return env, nodes, hw
}

func agentNode(state node.ProvisionState) store.Node {
	n := fakeNode("n1", state, `{}`)
	n.Interfaces.Deploy = agent.Name
	n.InstanceInfo = json.RawMessage(`{"image_source":"http://img/disk.qcow2","image_os_hash_algo":"sha256",` +
		`"image_os_hash_value":"abc","image_disk_format":"qcow2"}`)
	return n
}

// ops lists the fake driver calls ("power:power off", "management:pxe").
func ops(hw *fake.Hardware) []string {
	var out []string
	for _, c := range hw.Calls() {
		if c.Arg != "get" && c.Arg != "supported" {
			out = append(out, c.Op+":"+c.Arg)
		}
	}
	return out
}

func TestAgentDeploy(t *testing.T) {
	checksumMismatch := func(cmd wire.Command) []wire.CommandResult {
		if cmd.Name != wire.CmdWriteImage {
			return succeed(cmd)
		}
		return []wire.CommandResult{
			{Status: wire.StatusRunning, BytesWritten: 1 << 20, BytesTotal: 4 << 20},
			{Status: wire.StatusFailed, Error: "write image http://img/disk.qcow2: agent: image checksum mismatch: sha256 is 0123, want abc"},
		}
	}
	tests := []struct {
		name      string
		script    func(wire.Command) []wire.CommandResult
		signal    string // sent after a minute in wait call-back ("" = none)
		timeout   int
		failReads int
		want      node.ProvisionState
		wantErr   string // in last_error
		wantOps   []string
	}{
		{name: "agent calls back and writes the image", script: succeed, signal: contract.SignalAgentReady,
			want: node.Active, wantOps: []string{"power:power off", "management:pxe", "power:power on",
				"management:disk", "power:power off", "power:power on"}},
		{name: "worker crash while polling re-attaches", script: succeed, signal: contract.SignalAgentReady,
			failReads: 1, want: node.Active},
		{name: "checksum mismatch", script: checksumMismatch, signal: contract.SignalAgentReady,
			want: node.DeployFail, wantErr: "write_image failed on the agent: write image http://img/disk.qcow2: agent: image checksum mismatch",
			wantOps: []string{"power:power off", "management:pxe", "power:power on", "power:power off"}},
		{name: "agent never calls back", script: succeed, timeout: 600, want: node.DeployFail,
			wantErr: "timeout reached while waiting for callback from the agent after 10m0s"},
		{name: "abort in wait call-back", script: succeed, signal: contract.SignalAbort, want: node.DeployFail,
			wantErr: "aborted by request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agents := newFakeAgents(tt.script)
			env, nodes, hw := agentEnv(t, agents, agentNode(node.Available))
			if tt.signal != "" {
				env.RegisterDelayedCallback(func() {
					v, err := env.QueryWorkflow(contract.QueryState)
					var st contract.Status
					if err != nil || v.Get(&st) != nil || st.State != node.DeployWait {
						t.Errorf("state before signal = %+v, %v; want %q", st, err, node.DeployWait)
					}
					if got, _ := nodes.Node(context.Background(), "n1"); !strings.Contains(string(got.DeployStep), `"deploy"`) ||
						got.PowerState != node.PowerOn {
						t.Errorf("in wait call-back: deploy_step %s, power %q", got.DeployStep, got.PowerState)
					}
					if !agents.open("n1") {
						t.Error("no agent session (boot config) in wait call-back")
					}
					agents.mu.Lock()
					agents.failReads = tt.failReads
					agents.mu.Unlock()
					env.SignalWorkflow(tt.signal, contract.AgentReady{AgentVersion: "test"})
				}, time.Minute)
			}
			env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: "n1", Verb: node.VerbActive,
				From: node.Available, AgentTimeoutSeconds: tt.timeout})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			err := env.GetWorkflowError()
			got, _ := nodes.Node(context.Background(), "n1")
			if got.ProvisionState != tt.want || got.TargetProvisionState != node.NoState {
				t.Fatalf("node %q (target %q), want %q; workflow error %v", got.ProvisionState, got.TargetProvisionState, tt.want, err)
			}
			if tt.wantErr == "" {
				if err != nil || got.LastError != nil {
					t.Fatalf("workflow error %v, last_error %v", err, got.LastError)
				}
				if got.PowerState != node.PowerOn {
					t.Errorf("power %q, want power on", got.PowerState)
				}
			} else {
				if err == nil || got.LastError == nil || !strings.Contains(*got.LastError, tt.wantErr) {
					t.Fatalf("workflow error %v, last_error %v; want %q", err, got.LastError, tt.wantErr)
				}
				if got.PowerState != node.PowerOff {
					t.Errorf("power %q after failure, want power off", got.PowerState)
				}
			}
			if string(got.DeployStep) != "{}" {
				t.Errorf("deploy_step %s left set", got.DeployStep)
			}
			if agents.open("n1") {
				t.Error("agent session (boot config, token) left open")
			}
			if tt.wantOps != nil && !slices.Equal(ops(hw), tt.wantOps) {
				t.Errorf("driver calls %q, want %q", ops(hw), tt.wantOps)
			}
			if tt.signal == contract.SignalAgentReady {
				if !slices.Equal(agents.commands, []string{wire.CmdWriteImage}) {
					t.Errorf("agent ran %q, want one write_image", agents.commands)
				}
				if tt.want == node.Active && (len(agents.progress) < 2 ||
					!strings.Contains(agents.progress[1], `"bytes_written":3145728`) ||
					!strings.Contains(agents.progress[1], `"step":"write_image"`)) {
					t.Errorf("deploy progress %q, want write_image byte counts", agents.progress)
				}
			}
			if tt.failReads > 0 && agents.enqueues < 2 {
				t.Errorf("RunAgentCommand enqueued %d times: it was not retried", agents.enqueues)
			}
		})
	}
}

func TestAgentDeployParams(t *testing.T) {
	var seen wire.Command
	agents := newFakeAgents(func(cmd wire.Command) []wire.CommandResult { seen = cmd; return succeed(cmd) })
	env, _, _ := agentEnv(t, agents, agentNode(node.Available))
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalAgentReady, nil) }, time.Minute)
	env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: "n1", Verb: node.VerbActive, From: node.Available})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p wire.WriteImage
	if err := json.Unmarshal(seen.Params, &p); err != nil {
		t.Fatal(err)
	}
	want := wire.WriteImage{URL: "http://img/disk.qcow2", Format: "qcow2", HashAlgo: "sha256", HashValue: "abc"}
	if p != want {
		t.Errorf("write_image params %+v, want %+v", p, want)
	}
	if !strings.HasSuffix(seen.ID, "-write-image") || len(seen.ID) < len("-write-image")+8 {
		t.Errorf("command ID %q is not <run id>-write-image", seen.ID)
	}
}

func TestAgentDeployWithoutImage(t *testing.T) {
	agents := newFakeAgents(succeed)
	n := agentNode(node.Available)
	n.InstanceInfo = json.RawMessage(`{}`)
	env, nodes, hw := agentEnv(t, agents, n)
	env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: "n1", Verb: node.VerbActive, From: node.Available})
	got, _ := nodes.Node(context.Background(), "n1")
	if env.GetWorkflowError() == nil || got.ProvisionState != node.DeployFail || got.LastError == nil ||
		!strings.Contains(*got.LastError, "image_source") {
		t.Fatalf("node %q last_error %v", got.ProvisionState, got.LastError)
	}
	if agents.opened != 0 || len(ops(hw)) != 0 {
		t.Errorf("booted the ramdisk (%d sessions, calls %q) without an image to write", agents.opened, ops(hw))
	}
}

func TestAgentUndeployCleans(t *testing.T) {
	for _, tt := range []struct {
		name   string
		script func(wire.Command) []wire.CommandResult
		want   node.ProvisionState
	}{
		{"erase succeeds", succeed, node.Available},
		{"erase fails", func(wire.Command) []wire.CommandResult {
			return []wire.CommandResult{{Status: wire.StatusFailed, Error: "no disks"}}
		}, node.CleanFail},
	} {
		t.Run(tt.name, func(t *testing.T) {
			agents := newFakeAgents(tt.script)
			n := agentNode(node.Active)
			n.PowerState = node.PowerOn
			env, nodes, hw := agentEnv(t, agents, n)
			env.RegisterDelayedCallback(func() {
				if got, _ := nodes.Node(context.Background(), "n1"); got.ProvisionState != node.CleanWait {
					t.Errorf("state before signal %q, want clean wait", got.ProvisionState)
				}
				env.SignalWorkflow(contract.SignalAgentReady, nil)
			}, time.Minute)
			env.ExecuteWorkflow(contract.UndeployName, contract.ProvisionInput{NodeUUID: "n1", Verb: node.VerbDeleted, From: node.Active})
			got, _ := nodes.Node(context.Background(), "n1")
			if got.ProvisionState != tt.want || got.PowerState != node.PowerOff || string(got.CleanStep) != "{}" {
				t.Fatalf("node %q power %q clean_step %s, want %q, power off, no step (err %v)",
					got.ProvisionState, got.PowerState, got.CleanStep, tt.want, env.GetWorkflowError())
			}
			if !slices.Equal(agents.commands, []string{wire.CmdEraseMetadata}) || agents.open("n1") {
				t.Errorf("agent ran %q, session open %v", agents.commands, agents.open("n1"))
			}
			// Undeploy powers the instance off, then cleaning boots the
			// ramdisk (off, pxe, on) and powers off when done: the same
			// sequence as on real hardware.
			want := []string{"power:power off", "power:power off", "management:pxe", "power:power on", "power:power off"}
			if calls := ops(hw); !slices.Equal(calls, want) {
				t.Errorf("driver calls %q, want %q", calls, want)
			}
		})
	}
}
