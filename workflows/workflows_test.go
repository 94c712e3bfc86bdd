package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows"
	"github.com/ferric-project/ferric/workflows/contract"
)

// memNodes is a minimal in-memory NodeStore with the store's semantics for
// the calls activities make.
type memNodes struct {
	mu     sync.Mutex
	nodes  map[string]*store.Node
	events []string
}

func newMemNodes(nodes ...store.Node) *memNodes {
	m := &memNodes{nodes: map[string]*store.Node{}}
	for i := range nodes {
		n := nodes[i]
		m.nodes[n.UUID] = &n
	}
	return m
}

func (m *memNodes) Node(_ context.Context, id string) (store.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[id]
	if !ok {
		return store.Node{}, store.ErrNotFound
	}
	return *n, nil
}

func (m *memNodes) Transition(_ context.Context, r store.TransitionRequest) (store.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[r.UUID]
	if !ok {
		return store.Node{}, store.ErrNotFound
	}
	if !slices.Contains(r.From, n.ProvisionState) {
		if n.ProvisionState == r.To && n.TargetProvisionState == r.Target {
			return *n, nil
		}
		return store.Node{}, fmt.Errorf("node in %s: %w", n.ProvisionState, store.ErrInvalidState)
	}
	n.ProvisionState, n.TargetProvisionState = r.To, r.Target
	if r.LastError != nil {
		if *r.LastError == "" {
			n.LastError = nil
		} else {
			e := *r.LastError
			n.LastError = &e
		}
	}
	if r.PowerState != nil {
		n.PowerState = *r.PowerState
	}
	if r.InstanceInfo != nil {
		n.InstanceInfo = r.InstanceInfo
	}
	if r.DeployStep != nil {
		n.DeployStep = r.DeployStep
	}
	if r.CleanStep != nil {
		n.CleanStep = r.CleanStep
	}
	n.Version++
	m.events = append(m.events, string(r.To))
	return *n, nil
}

func (m *memNodes) SetPower(_ context.Context, u store.PowerUpdate) (store.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[u.UUID]
	if !ok {
		return store.Node{}, store.ErrNotFound
	}
	if u.PowerState != nil {
		n.PowerState = *u.PowerState
	}
	if u.Target != nil {
		n.TargetPowerState = *u.Target
	}
	if u.LastError != nil {
		if *u.LastError == "" {
			n.LastError = nil
		} else {
			e := *u.LastError
			n.LastError = &e
		}
	}
	return *n, nil
}

// asyncDeploy is a deploy interface that needs an agent callback.
type asyncDeploy struct{}

func (asyncDeploy) Deploy(context.Context) (bool, error) { return false, nil }
func (asyncDeploy) TearDown(context.Context) error       { return nil }
func (asyncDeploy) Clean(context.Context) (bool, error)  { return true, nil }

func registry() *drivers.Registry {
	r := drivers.NewRegistry()
	fake.New().Register(r)
	r.AddDeploy("direct", func(drivers.Node) (drivers.Deploy, error) { return asyncDeploy{}, nil })
	return r
}

func fakeNode(uuid string, state node.ProvisionState, driverInfo string) store.Node {
	return store.Node{UUID: uuid, Driver: fake.TypeName, ProvisionState: state,
		DriverInfo: json.RawMessage(driverInfo), InstanceInfo: json.RawMessage(`{"image_source":"x"}`),
		Interfaces: store.Interfaces{Power: "fake", Management: "fake", Deploy: "fake", Vendor: "fake"}}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		state  node.ProvisionState
		verb   node.Verb
		wantWF string
		target node.ProvisionState
		ok     bool
	}{
		{node.Enroll, node.VerbManage, contract.ManageName, node.Manageable, true},
		{node.Enroll, node.VerbActive, "", "", false},
		{node.Enroll, "bogus", "", "", false},
		{node.Manageable, node.VerbProvide, contract.ProvideName, node.Available, true},
		{node.Available, node.VerbActive, contract.DeployName, node.Active, true},
		{node.Available, node.VerbDeploy, contract.DeployName, node.Active, true},
		{node.Active, node.VerbDeleted, contract.UndeployName, node.Available, true},
		{node.Active, node.VerbUndeploy, contract.UndeployName, node.Available, true},
		{node.Active, node.VerbRebuild, contract.DeployName, node.Active, true},
		{node.Active, node.VerbProvide, "", "", false},
		{node.DeployFail, node.VerbDeleted, contract.UndeployName, node.Available, true},
		{node.CleanFail, node.VerbManage, contract.ManageName, node.Manageable, true},
		{node.Deploying, node.VerbDeleted, "", "", false},
		{node.Available, node.VerbManage, contract.ManageName, node.Manageable, true},
		{node.Manageable, node.VerbClean, contract.CleanName, node.Manageable, true},
		{node.Manageable, node.VerbManage, "", "", false},
		{node.Error, node.VerbRebuild, contract.DeployName, node.Active, true},
		{node.DeployWait, node.VerbDeleted, contract.UndeployName, node.Available, true},
		{node.AdoptFail, node.VerbManage, contract.ManageName, node.Manageable, true},
		{node.InspectFail, node.VerbManage, contract.ManageName, node.Manageable, true},
		{node.CleanFail, node.VerbProvide, "", "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.state, tt.verb), func(t *testing.T) {
			t.Parallel()
			wf, target, ok := contract.Plan(tt.state, tt.verb)
			if wf != tt.wantWF || target != tt.target || ok != tt.ok {
				t.Fatalf("Plan(%q, %q) = %q, %q, %v; want %q, %q, %v",
					tt.state, tt.verb, wf, target, ok, tt.wantWF, tt.target, tt.ok)
			}
		})
	}
	if got, ok := contract.AbortTarget(node.DeployWait); !ok || got != node.DeployFail {
		t.Errorf("AbortTarget(wait call-back) = %q, %v", got, ok)
	}
	if _, ok := contract.AbortTarget(node.Active); ok {
		t.Error("abort allowed from active")
	}
}

func TestProvisioning(t *testing.T) {
	tests := []struct {
		name       string
		start      node.ProvisionState
		seen       node.ProvisionState // state the API saw, if not start
		verb       node.Verb
		workflow   string
		driverInfo string
		deploy     string // deploy interface name
		signal     string // signal sent after signalAt
		signalAt   time.Duration
		timeout    int
		want       node.ProvisionState
		wantErr    bool
		wantPower  node.PowerState
		power      node.PowerState // recorded (and hardware) power state at the start
	}{
		{name: "manage verifies power", start: node.Enroll, verb: node.VerbManage, workflow: contract.ManageName,
			want: node.Manageable, wantPower: node.PowerOff},
		{name: "manage with broken BMC returns to enroll", start: node.Enroll, verb: node.VerbManage,
			workflow: contract.ManageName, driverInfo: `{"fake_fail":["power"]}`, want: node.Enroll, wantErr: true},
		{name: "provide cleans", start: node.Manageable, verb: node.VerbProvide, workflow: contract.ProvideName,
			want: node.Available},
		{name: "clean failure", start: node.Manageable, verb: node.VerbProvide, workflow: contract.ProvideName,
			driverInfo: `{"fake_fail":["clean"]}`, want: node.CleanFail, wantErr: true},
		{name: "fake deploy", start: node.Available, verb: node.VerbActive, workflow: contract.DeployName,
			want: node.Active},
		{name: "slow fake deploy", start: node.Available, verb: node.VerbActive, workflow: contract.DeployName,
			driverInfo: `{"fake_deploy_delay":"50ms"}`, want: node.Active},
		{name: "deploy failure", start: node.Available, verb: node.VerbActive, workflow: contract.DeployName,
			driverInfo: `{"fake_fail":["deploy"]}`, want: node.DeployFail, wantErr: true},
		{name: "agent calls back", start: node.Available, verb: node.VerbActive, workflow: contract.DeployName,
			deploy: "direct", signal: contract.SignalAgentReady, signalAt: time.Minute, want: node.Active},
		{name: "agent never calls back", start: node.Available, verb: node.VerbActive, workflow: contract.DeployName,
			deploy: "direct", timeout: 600, want: node.DeployFail, wantErr: true},
		{name: "abort in wait call-back", start: node.Available, verb: node.VerbActive, workflow: contract.DeployName,
			deploy: "direct", signal: contract.SignalAbort, signalAt: time.Minute, want: node.DeployFail, wantErr: true},
		// One sequence for every driver: a fake node is powered off on
		// undeploy, as real hardware is.
		{name: "undeploy powers off", start: node.Active, power: node.PowerOn, verb: node.VerbDeleted,
			workflow: contract.UndeployName, want: node.Available, wantPower: node.PowerOff},
		{name: "verb not allowed from the state", start: node.Active, verb: node.VerbProvide,
			workflow: contract.ProvideName, want: node.Active, wantErr: true},
		{name: "state changed since the API looked", start: node.Active, seen: node.Available, verb: node.VerbActive,
			workflow: contract.DeployName, want: node.Active, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			n := fakeNode("n1", tt.start, tt.driverInfo)
			n.PowerState = tt.power
			if tt.deploy != "" {
				n.Interfaces.Deploy = tt.deploy
			}
			nodes := newMemNodes(n)
			acts := &activities.Activities{Drivers: registry(), Nodes: nodes, PollInterval: time.Millisecond,
				Agents: newFakeAgents(succeed), AgentPollInterval: time.Millisecond}
			env.RegisterActivity(acts)
			workflows.Register(env)
			if tt.signal != "" {
				env.RegisterDelayedCallback(func() {
					v, err := env.QueryWorkflow(contract.QueryState)
					var st contract.Status
					if err != nil || v.Get(&st) != nil || st.State != node.DeployWait {
						t.Errorf("query before signal = %+v, %v; want %q", st, err, node.DeployWait)
					}
					env.SignalWorkflow(tt.signal, contract.AgentReady{AgentVersion: "test"})
				}, tt.signalAt)
			}
			from := tt.start
			if tt.seen != "" {
				from = tt.seen
			}
			env.ExecuteWorkflow(tt.workflow, contract.ProvisionInput{NodeUUID: "n1", Verb: tt.verb, From: from,
				AgentTimeoutSeconds: tt.timeout})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			err := env.GetWorkflowError()
			if (err != nil) != tt.wantErr {
				t.Fatalf("workflow error = %v, wantErr %v", err, tt.wantErr)
			}
			got, _ := nodes.Node(context.Background(), "n1")
			if got.ProvisionState != tt.want || got.TargetProvisionState != node.NoState {
				t.Errorf("stored state %q (target %q), want %q (no target)", got.ProvisionState, got.TargetProvisionState, tt.want)
			}
			if tt.wantErr && tt.start != tt.want && got.LastError == nil {
				t.Error("failure left no last_error")
			}
			if !tt.wantErr && got.LastError != nil {
				t.Errorf("success left last_error %q", *got.LastError)
			}
			if tt.wantPower != "" && got.PowerState != tt.wantPower {
				t.Errorf("power_state %q, want %q", got.PowerState, tt.wantPower)
			}
		})
	}
}

func TestSetPower(t *testing.T) {
	tests := []struct {
		name       string
		target     node.PowerState
		driverInfo string
		want       node.PowerState
		wantErr    bool
	}{
		{"power on", node.PowerOn, `{}`, node.PowerOn, false},
		{"power off", node.PowerOff, `{}`, node.PowerOff, false},
		{"reboot", node.Rebooting, `{}`, node.PowerOn, false},
		{"soft power off", node.SoftPowerOff, `{}`, node.PowerOff, false},
		{"BMC fails", node.PowerOn, `{"fake_fail":["power"]}`, node.PowerOff, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			n := fakeNode("n1", node.Active, tt.driverInfo)
			n.PowerState = node.PowerOff
			nodes := newMemNodes(n)
			env.RegisterActivity(&activities.Activities{Drivers: registry(), Nodes: nodes, PollInterval: time.Millisecond})
			workflows.Register(env)
			env.ExecuteWorkflow(contract.PowerName, contract.PowerInput{NodeUUID: "n1", Target: tt.target})
			if err := env.GetWorkflowError(); (err != nil) != tt.wantErr {
				t.Fatalf("workflow error = %v, wantErr %v", err, tt.wantErr)
			}
			got, _ := nodes.Node(context.Background(), "n1")
			if got.PowerState != tt.want || got.TargetPowerState != node.PowerNone {
				t.Errorf("power %q target %q, want %q and no target", got.PowerState, got.TargetPowerState, tt.want)
			}
			if tt.wantErr != (got.LastError != nil) {
				t.Errorf("last_error = %v, wantErr %v", got.LastError, tt.wantErr)
			}
		})
	}
}
