package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
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
	"github.com/ferric-project/ferric/store/storetest"
	"github.com/ferric-project/ferric/workflows"
)

// The workflow tests run the real workflows and activities in the SDK's
// test environment over a real PostgreSQL schema (store/storetest) and the
// real fake-hardware and direct deploy interfaces. Only the ramdisk agent is
// simulated (simAgent), on top of the real store.

// nodeSpec describes a node to create.
type nodeSpec struct {
	state        node.ProvisionState
	power        node.PowerState
	driverInfo   string
	deploy       string // deploy interface ("" = fake)
	raid         string // RAID interface ("" = fake)
	instanceInfo string
	targetRAID   string // target_raid_config ("" = {})
}

// createNode creates a fake-hardware node in spec's state.
func createNode(t testing.TB, st *store.Store, spec nodeSpec) store.Node {
	t.Helper()
	ctx := context.Background()
	if spec.driverInfo == "" {
		spec.driverInfo = `{}`
	}
	if spec.deploy == "" {
		spec.deploy = "fake"
	}
	if spec.instanceInfo == "" {
		spec.instanceInfo = `{"image_source":"http://img/x.raw"}`
	}
	if spec.raid == "" {
		spec.raid = "fake"
	}
	if spec.targetRAID == "" {
		spec.targetRAID = `{}`
	}
	n, err := st.CreateNode(ctx, store.Node{Driver: fake.TypeName, DriverInfo: json.RawMessage(spec.driverInfo),
		InstanceInfo: json.RawMessage(spec.instanceInfo), TargetRAIDConfig: json.RawMessage(spec.targetRAID),
		Interfaces: store.Interfaces{Power: "fake", Management: "fake", Deploy: spec.deploy, Vendor: "fake",
			Boot: "fake", Bios: "fake", Console: "fake", Inspect: "fake", Network: "noop", RAID: spec.raid,
			Rescue: "fake", Storage: "fake", Firmware: "fake"}})
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	if spec.state != node.Enroll && spec.state != "" {
		if n, err = st.Transition(ctx, store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Enroll},
			To: spec.state}); err != nil {
			t.Fatalf("transition: %v", err)
		}
	}
	if spec.power != "" {
		p := spec.power
		if n, err = st.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, PowerState: &p}); err != nil {
			t.Fatalf("set power: %v", err)
		}
	}
	return n
}

// mustNode reads a node back.
func mustNode(t testing.TB, st *store.Store, uuid string) store.Node {
	t.Helper()
	n, err := st.Node(context.Background(), uuid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testEnv is a workflow test environment with its store and hardware.
type testEnv struct {
	*testsuite.TestWorkflowEnvironment
	st     *store.Store
	hw     *fake.Hardware
	agents *simAgent
	calls  *callRecorder
}

// callRecorder is the activities' driver call observer: it keeps the
// images agents wrote.
type callRecorder struct {
	mu     sync.Mutex
	images []int64 // bytes of each image written
}

func (r *callRecorder) ObserveDriverCall(string, string, time.Duration, error) {}

func (r *callRecorder) ObserveImageWrite(bytes int64, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if took > 0 {
		r.images = append(r.images, bytes)
	}
}

func (r *callRecorder) written() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.images)
}

// newEnv builds a test environment over a fresh schema; script is what the
// simulated agent answers (nil: succeed).
func newEnv(t *testing.T, script func(wire.Command) []wire.CommandResult) *testEnv {
	t.Helper()
	st := storetest.New(t)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	hw := fake.New()
	r := drivers.NewRegistry()
	hw.Register(r)
	agent.Register(r, agent.Config{AutomatedClean: true})
	if script == nil {
		script = succeed
	}
	agents := &simAgent{Store: st, scripts: map[string][]wire.CommandResult{}, script: script}
	calls := &callRecorder{}
	env.RegisterActivity(&activities.Activities{Drivers: r, Nodes: st, Agents: agents, Operations: st, Inspection: st,
		Allocations: st, Results: st, Media: st, PollInterval: time.Millisecond, AgentPollInterval: time.Millisecond,
		DriverCalls: calls})
	env.RegisterActivity(&activities.PowerSync{Drivers: r, Nodes: st, Concurrency: 4})
	workflows.Register(env)
	return &testEnv{TestWorkflowEnvironment: env, st: st, hw: hw, agents: agents, calls: calls}
}

// newEnvOn is a fresh test environment (a workflow environment runs one
// workflow) over prev's store, hardware and agent.
func newEnvOn(t *testing.T, prev *testEnv) *testEnv {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	r := drivers.NewRegistry()
	prev.hw.Register(r)
	agent.Register(r, agent.Config{AutomatedClean: true})
	env.RegisterActivity(&activities.Activities{Drivers: r, Nodes: prev.st, Agents: prev.agents, Operations: prev.st,
		Results: prev.st, Media: prev.st, Inspection: prev.st, Allocations: prev.st, PollInterval: time.Millisecond, AgentPollInterval: time.Millisecond})
	workflows.Register(env)
	return &testEnv{TestWorkflowEnvironment: env, st: prev.st, hw: prev.hw, agents: prev.agents}
}

// simAgent is the ramdisk agent, simulated on the real store: each command
// queued plays its script, one result per session read (as the agent
// reports one per heartbeat), written with the store's RecordAgentResults
// as the API's heartbeat handler writes them.
type simAgent struct {
	*store.Store
	mu       sync.Mutex
	scripts  map[string][]wire.CommandResult // by command ID: what is still to report
	script   func(cmd wire.Command) []wire.CommandResult
	enqueues int            // EnqueueAgentCommand calls
	commands []string       // distinct commands queued ("name"), the agent runs each once
	params   []wire.Command // the commands, as queued
	progress []string       // deploy_step and clean_step values written
	opened   int
	// failReads makes the next session reads fail (a database or worker hiccup).
	failReads int
}

// succeed is the script of a healthy agent: write_image reports progress
// twice, then every command succeeds.
func succeed(cmd wire.Command) []wire.CommandResult {
	var out []wire.CommandResult
	if cmd.Name == wire.CmdWriteImage {
		out = append(out,
			wire.CommandResult{Status: wire.StatusRunning, BytesWritten: 1 << 20, BytesTotal: 4 << 20},
			wire.CommandResult{Status: wire.StatusRunning, BytesWritten: 3 << 20, BytesTotal: 4 << 20})
		return append(out, wire.CommandResult{Status: wire.StatusSucceeded, BytesWritten: 4 << 20, BytesTotal: 4 << 20,
			Result: json.RawMessage(`{"bytes_written":4194304}`)})
	}
	return append(out, wire.CommandResult{Status: wire.StatusSucceeded})
}

func (s *simAgent) OpenAgentSession(ctx context.Context, id string) error {
	s.mu.Lock()
	s.opened++
	s.mu.Unlock()
	return s.Store.OpenAgentSession(ctx, id)
}

func (s *simAgent) EnqueueAgentCommand(ctx context.Context, id string, cmd wire.Command) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueues++
	if _, known := s.scripts[cmd.ID]; !known {
		s.scripts[cmd.ID] = s.script(cmd)
		s.commands = append(s.commands, cmd.Name)
		s.params = append(s.params, cmd)
	}
	return s.Store.EnqueueAgentCommand(ctx, id, cmd)
}

func (s *simAgent) AgentSession(ctx context.Context, id string) (store.AgentSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failReads > 0 {
		s.failReads--
		return store.AgentSession{}, errors.New("connection reset")
	}
	sess, err := s.Store.AgentSession(ctx, id)
	if err != nil {
		return sess, err
	}
	var results []wire.CommandResult
	for _, c := range sess.Commands {
		if rs := s.scripts[c.ID]; len(rs) > 0 && !c.Final() {
			r := rs[0]
			r.ID, r.Name = c.ID, c.Name
			s.scripts[c.ID] = rs[1:]
			results = append(results, r)
		}
	}
	if len(results) > 0 {
		if err := s.Store.RecordAgentResults(ctx, id, "sim", results); err != nil {
			return store.AgentSession{}, err
		}
	}
	return s.Store.AgentSession(ctx, id)
}

func (s *simAgent) SetDeployProgress(ctx context.Context, id string, step json.RawMessage) error {
	s.mu.Lock()
	s.progress = append(s.progress, string(step))
	s.mu.Unlock()
	return s.Store.SetDeployProgress(ctx, id, step)
}

func (s *simAgent) SetCleanProgress(ctx context.Context, id string, step json.RawMessage) error {
	s.mu.Lock()
	s.progress = append(s.progress, string(step))
	s.mu.Unlock()
	return s.Store.SetCleanProgress(ctx, id, step)
}

// open reports whether the node has an agent session (boot config, token).
func (s *simAgent) open(id string) bool {
	_, err := s.Store.AgentSession(context.Background(), id)
	return err == nil
}

func (s *simAgent) ran() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
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

func (s *simAgent) SetServiceProgress(ctx context.Context, id string, step json.RawMessage) error {
	s.mu.Lock()
	s.progress = append(s.progress, string(step))
	s.mu.Unlock()
	return s.Store.SetServiceProgress(ctx, id, step)
}
