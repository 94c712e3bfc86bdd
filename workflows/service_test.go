package workflows_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// serviceIn is the input the API starts service-node with.
func serviceIn(n store.Node, opID string) contract.ProvisionInput {
	return contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbService, From: n.ProvisionState,
		OperationID: opID, Revision: contract.CurrentRevision}
}

// raidApplied is an agent that builds the RAID configuration it is asked for.
func raidApplied(cmd wire.Command) []wire.CommandResult {
	if cmd.Name == wire.CmdCreateRAID {
		return []wire.CommandResult{{Status: wire.StatusSucceeded,
			Result: json.RawMessage(`{"logical_disks":[{"size_gb":10,"raid_level":"1","is_root_volume":true}]}`)}}
	}
	return succeed(cmd)
}

func TestService(t *testing.T) {
	logStep := `[{"interface":"vendor","step":"log_passthrough","args":{}}]`
	holdSteps := `[{"interface":"vendor","step":"log_passthrough"},{"interface":"power","step":"hold"},` +
		`{"interface":"vendor","step":"log_passthrough","args":{"again":true}}]`
	raidStep := `[{"interface":"raid","step":"apply_configuration","args":{"raid_config":` +
		`{"logical_disks":[{"size_gb":10,"raid_level":"1","is_root_volume":true}]}}}]`
	tests := []struct {
		name      string
		agent     bool
		from      node.ProvisionState
		info      string
		steps     string
		script    func(wire.Command) []wire.CommandResult
		signals   []string // sent a minute apart, from the first minute
		wantSteps []string // steps the fake ran
		wantAgent []string // commands the agent ran
		want      node.ProvisionState
		wantErr   string
		seenAt    node.ProvisionState // the state the node is in before the first signal
	}{
		{name: "fake runs the service steps, back to active", from: node.Active, steps: logStep,
			wantSteps: []string{"vendor.log_passthrough"}, want: node.Active},
		{name: "again from service failed", from: node.ServiceFail, steps: logStep,
			wantSteps: []string{"vendor.log_passthrough"}, want: node.Active},
		{name: "a failing step ends in service failed", from: node.Active, steps: logStep,
			info: `{"fake_fail":["step"]}`, wantSteps: []string{"vendor.log_passthrough"}, want: node.ServiceFail,
			wantErr: "vendor.log_passthrough"},
		{name: "an unknown step ends in service failed", from: node.Active,
			steps: `[{"interface":"deploy","step":"nope"}]`, want: node.ServiceFail, wantErr: "deploy.nope"},
		{name: "hold then unhold resumes the steps", from: node.Active, steps: holdSteps,
			signals: []string{contract.SignalUnhold}, seenAt: node.ServiceHold,
			wantSteps: []string{"vendor.log_passthrough", "vendor.log_passthrough"}, want: node.Active},
		{name: "hold then abort fails", from: node.Active, steps: holdSteps,
			signals: []string{contract.SignalAbort}, seenAt: node.ServiceHold,
			wantSteps: []string{"vendor.log_passthrough"}, want: node.ServiceFail, wantErr: "aborted"},
		{name: "agent: abort in service wait", agent: true, from: node.Active, steps: raidStep,
			signals: []string{contract.SignalAbort}, seenAt: node.ServiceWait, want: node.ServiceFail, wantErr: "aborted"},
		{name: "agent: in-band step runs on the agent, node boots from disk", agent: true, from: node.Active,
			steps: raidStep, script: raidApplied, signals: []string{contract.SignalAgentReady}, seenAt: node.ServiceWait,
			wantAgent: []string{wire.CmdCreateRAID}, want: node.Active},
		{name: "agent: hold and unhold with the agent up", agent: true, from: node.Active,
			steps: `[{"interface":"power","step":"hold"},` + raidStep[1:], script: raidApplied,
			signals: []string{contract.SignalAgentReady, contract.SignalUnhold}, seenAt: node.ServiceWait,
			wantAgent: []string{wire.CmdCreateRAID}, want: node.Active},
		{name: "agent: flow steps run with the agent up", agent: true, from: node.Active,
			steps: `[{"interface":"deploy","step":"wait","args":{"seconds":1}},{"interface":"power","step":"reboot"},` +
				raidStep[1:], script: raidApplied, signals: []string{contract.SignalAgentReady}, seenAt: node.ServiceWait,
			wantAgent: []string{wire.CmdCreateRAID}, want: node.Active},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, tt.script)
			spec := nodeSpec{state: tt.from, power: node.PowerOn, driverInfo: tt.info}
			if tt.agent {
				spec.deploy, spec.raid, spec.instanceInfo = "direct", "agent", agentImage
			}
			n := createNode(t, env.st, spec)
			opID := operation(t, env, n, "service", func(o *store.Operation) { o.ServiceSteps = []byte(tt.steps) })
			var seen []node.ProvisionState
			for i, sig := range tt.signals {
				env.RegisterDelayedCallback(func() {
					seen = append(seen, mustNode(t, env.st, n.UUID).ProvisionState)
					env.SignalWorkflow(sig, nil)
				}, time.Duration(i+1)*time.Minute)
			}
			env.ExecuteWorkflow(contract.ServiceName, serviceIn(n, opID))
			got := checkRun(t, env, n.UUID, tt.want, tt.wantErr)
			if tt.want == node.Active && (got.LastError != nil || string(got.ServiceStep) != "{}") {
				t.Errorf("last_error %v service_step %s", got.LastError, got.ServiceStep)
			}
			if s := stepCalls(env); !slices.Equal(s, tt.wantSteps) {
				t.Errorf("fake ran %q, want %q", s, tt.wantSteps)
			}
			if ran := env.agents.ran(); tt.agent && !slices.Equal(ran, tt.wantAgent) {
				t.Errorf("agent ran %q, want %q", ran, tt.wantAgent)
			}
			if tt.seenAt != "" && (len(seen) == 0 || seen[0] != tt.seenAt) {
				t.Errorf("states at the signals %q, want %q first", seen, tt.seenAt)
			}
			if tt.agent && tt.want == node.Active && (got.PowerState != node.PowerOn || env.agents.open(n.UUID)) {
				t.Errorf("power %q session open %v; want the node back on its disk", got.PowerState, env.agents.open(n.UUID))
			}
		})
	}
}

// TestCleanHold: a hold step in manual cleaning stops in clean hold; an
// unhold resumes through clean wait, an abort fails to clean failed.
func TestCleanHold(t *testing.T) {
	steps := `[{"interface":"deploy","step":"erase_devices"},{"interface":"deploy","step":"hold"},` +
		`{"interface":"deploy","step":"erase_devices_metadata"}]`
	run := holdRun{from: node.Manageable, target: "clean", verb: node.VerbClean, workflow: contract.CleanName,
		held: node.CleanHold, setSteps: func(o *store.Operation) { o.CleanSteps = []byte(steps) }}
	run.check(t, contract.SignalUnhold, node.Manageable, []string{"deploy.erase_devices", "deploy.erase_devices_metadata"})
	run.check(t, contract.SignalAbort, node.CleanFail, []string{"deploy.erase_devices"})
}

// TestDeployHold: a hold deploy step (API 1.85) stops the deploy in deploy
// hold after the steps of higher priority; an unhold resumes it through
// wait call-back, an abort fails it to deploy failed.
func TestDeployHold(t *testing.T) {
	steps := `[{"interface":"deploy","step":"hold","priority":50,"args":{}},` +
		`{"interface":"deploy","step":"erase_devices_metadata","priority":40,"args":{}}]`
	run := holdRun{from: node.Available, target: "active", verb: node.VerbActive, workflow: contract.DeployName,
		held: node.DeployHold, setSteps: func(o *store.Operation) { o.DeploySteps = []byte(steps) }}
	run.check(t, contract.SignalUnhold, node.Active, []string{"deploy.erase_devices_metadata"})
	run.check(t, contract.SignalAbort, node.DeployFail, nil)
}

// holdRun is a run whose steps hold: workflow on a node in from, the
// operation's steps set by setSteps, expected to wait in held.
type holdRun struct {
	from, held       node.ProvisionState
	target, workflow string
	verb             node.Verb
	setSteps         func(*store.Operation)
}

// check runs r, sends signal once the node is held, and checks that it
// was held, ended in want, and that the fake ran wantSteps.
func (r holdRun) check(t *testing.T, signal string, want node.ProvisionState, wantSteps []string) {
	t.Run(signal, func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: r.from})
		opID := operation(t, env, n, r.target, r.setSteps)
		var held node.ProvisionState
		env.RegisterDelayedCallback(func() {
			held = mustNode(t, env.st, n.UUID).ProvisionState
			env.SignalWorkflow(signal, nil)
		}, time.Minute)
		env.ExecuteWorkflow(r.workflow, contract.ProvisionInput{NodeUUID: n.UUID, Verb: r.verb,
			From: r.from, OperationID: opID, Revision: contract.CurrentRevision})
		got := mustNode(t, env.st, n.UUID)
		if held != r.held || got.ProvisionState != want {
			t.Errorf("held in %q, ended in %q (%v); want %q, %q", held, got.ProvisionState,
				env.GetWorkflowError(), r.held, want)
		}
		if s := stepCalls(env); !slices.Equal(s, wantSteps) {
			t.Errorf("fake ran %q, want %q", s, wantSteps)
		}
	})
}

// checkRun checks how the workflow env ran ended: its error holds wantErr
// ("" = none), and node uuid is in want with no target, its last_error
// holding wantErr. It returns the node.
func checkRun(t *testing.T, env *testEnv, uuid string, want node.ProvisionState, wantErr string) store.Node {
	t.Helper()
	err := env.GetWorkflowError()
	if wantErr == "" && err != nil {
		t.Fatal(err)
	}
	if wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
		t.Fatalf("error %v, want %q", err, wantErr)
	}
	got := mustNode(t, env.st, uuid)
	if got.ProvisionState != want || got.TargetProvisionState != node.NoState {
		t.Errorf("node %q target %q, want %q", got.ProvisionState, got.TargetProvisionState, want)
	}
	if wantErr != "" && (got.LastError == nil || !strings.Contains(*got.LastError, wantErr)) {
		t.Errorf("last_error %v, want %q", got.LastError, wantErr)
	}
	return got
}
