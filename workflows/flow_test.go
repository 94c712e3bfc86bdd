package workflows_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestFlowSteps: Ironic's conductor-level flow steps (power_on, power_off,
// reboot, wait) run in servicing, manual cleaning and deploying, whatever
// interface the request names them under: the power ones through the
// node's power interface (power_off refused with disable_power_off), wait
// in the run's wait state for its seconds (at most MaxWaitStepSeconds).
func TestFlowSteps(t *testing.T) {
	type look struct {
		at   time.Duration
		want node.ProvisionState
	}
	tests := []struct {
		name            string
		verb            string // "service" (default), "clean" or "active"
		steps           string
		info            string
		disablePowerOff bool
		abortAt         time.Duration
		looks           []look
		wantOps         []string // fake driver calls
		wantPower       node.PowerState
		want            node.ProvisionState
		wantErr         string
		wantElapsed     time.Duration // at least, and less than a second more
		wantEvent       string
	}{
		{name: "service: deploy.reboot", steps: `[{"interface":"deploy","step":"reboot"}]`,
			wantOps: []string{"power:reboot"}, wantPower: node.PowerOn, want: node.Active},
		{name: "service: power off, then on", steps: `[{"interface":"power","step":"power_off"},` +
			`{"interface":"power","step":"power_on"}]`,
			wantOps: []string{"power:power off", "power:power on"}, wantPower: node.PowerOn, want: node.Active},
		{name: "service: power off stays off", steps: `[{"interface":"power","step":"power_off"}]`,
			wantOps: []string{"power:power off"}, wantPower: node.PowerOff, want: node.Active},
		{name: "service: power_off refused with disable_power_off", disablePowerOff: true,
			steps: `[{"interface":"power","step":"power_off"}]`, wantOps: []string{}, wantPower: node.PowerOn,
			want: node.ServiceFail, wantErr: "failed step power.power_off: Failed to set node power state to power off."},
		{name: "service: reboot runs with disable_power_off", disablePowerOff: true,
			steps: `[{"interface":"deploy","step":"reboot"}]`, wantOps: []string{"power:reboot"},
			wantPower: node.PowerOn, want: node.Active},
		{name: "service: a failing power interface fails the step", info: `{"fake_fail":["power"]}`,
			steps: `[{"interface":"deploy","step":"reboot"}]`, want: node.ServiceFail,
			wantErr: "failed step deploy.reboot"},
		{name: "service: wait pauses in service wait", steps: `[{"interface":"deploy","step":"wait","args":{"seconds":5}},` +
			`{"interface":"deploy","step":"reboot"}]`,
			looks:   []look{{3 * time.Second, node.ServiceWait}},
			wantOps: []string{"power:reboot"}, want: node.Active, wantElapsed: 5 * time.Second},
		{name: "service: wait seconds as a string", steps: `[{"interface":"vendor","step":"wait","args":{"seconds":"2"}}]`,
			looks: []look{{time.Second, node.ServiceWait}}, want: node.Active, wantElapsed: 2 * time.Second},
		{name: "service: wait is cut to the maximum", steps: `[{"interface":"deploy","step":"wait","args":{"seconds":600}}]`,
			looks: []look{{20 * time.Second, node.ServiceWait}}, want: node.Active,
			wantElapsed: workflows.MaxWaitStepSeconds * time.Second,
			wantEvent:   "A wait time exceeding the configured maximum has been requested. Holding for 600, got 30."},
		{name: "service: wait without seconds goes on", steps: `[{"interface":"deploy","step":"wait"}]`, want: node.Active},
		{name: "service: wait with bad seconds fails", steps: `[{"interface":"deploy","step":"wait","args":{"seconds":"soon"}}]`,
			want: node.ServiceFail, wantErr: "invalid literal for int() with base 10: 'soon'"},
		{name: "service: negative wait fails", steps: `[{"interface":"deploy","step":"wait","args":{"seconds":-1}}]`,
			want: node.ServiceFail, wantErr: "sleep length must be non-negative"},
		{name: "service: abort during a wait", steps: `[{"interface":"deploy","step":"wait","args":{"seconds":20}}]`,
			abortAt: 5 * time.Second, want: node.ServiceFail, wantErr: "aborted", wantElapsed: 5 * time.Second},
		{name: "clean: power off, wait, power on", verb: "clean",
			steps: `[{"interface":"power","step":"power_off"},{"interface":"deploy","step":"wait","args":{"seconds":3}},` +
				`{"interface":"power","step":"power_on"}]`, looks: []look{{time.Second, node.CleanWait}},
			wantOps: []string{"power:power off", "power:power on"}, wantPower: node.PowerOn, want: node.Manageable,
			wantElapsed: 3 * time.Second},
		{name: "deploy: a reboot step at priority 50", verb: "active",
			steps:   `[{"interface":"deploy","step":"reboot","priority":50,"args":{}}]`,
			wantOps: []string{"deploy:", "power:reboot"}, wantPower: node.PowerOn, want: node.Active},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, nil)
			from, verb, name := node.Active, node.VerbService, contract.ServiceName
			switch tt.verb {
			case "clean":
				from, verb, name = node.Manageable, node.VerbClean, contract.CleanName
			case "active":
				from, verb, name = node.Available, node.VerbActive, contract.DeployName
			}
			n := createNode(t, env.st, nodeSpec{state: from, power: node.PowerOn, driverInfo: tt.info})
			if tt.disablePowerOff {
				n.DisablePowerOff = true
				var err error
				if n, err = env.st.UpdateNode(context.Background(), n); err != nil {
					t.Fatal(err)
				}
			}
			opID := operation(t, env, n, string(verb), func(o *store.Operation) {
				switch verb {
				case node.VerbClean:
					o.CleanSteps = []byte(tt.steps)
				case node.VerbActive:
					o.DeploySteps = []byte(tt.steps)
				default:
					o.ServiceSteps = []byte(tt.steps)
				}
			})
			seen := make([]node.ProvisionState, len(tt.looks))
			for i, l := range tt.looks {
				env.RegisterDelayedCallback(func() { seen[i] = mustNode(t, env.st, n.UUID).ProvisionState }, l.at)
			}
			if tt.abortAt > 0 {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalAbort, nil) }, tt.abortAt)
			}
			start := env.Now()
			env.ExecuteWorkflow(name, contract.ProvisionInput{NodeUUID: n.UUID, Verb: verb, From: from,
				OperationID: opID, Revision: contract.CurrentRevision})
			elapsed := env.Now().Sub(start)
			got := checkRun(t, env, n.UUID, tt.want, tt.wantErr)
			if tt.want == node.Active && tt.verb == "" && (got.LastError != nil || string(got.ServiceStep) != "{}") {
				t.Errorf("last_error %v service_step %s", got.LastError, got.ServiceStep)
			}
			if tt.wantOps != nil && !slices.Equal(ops(env.hw), tt.wantOps) {
				t.Errorf("driver calls %q, want %q", ops(env.hw), tt.wantOps)
			}
			if tt.wantPower != "" && (got.PowerState != tt.wantPower || got.TargetPowerState != node.PowerNone) {
				t.Errorf("power %q target %q, want %q", got.PowerState, got.TargetPowerState, tt.wantPower)
			}
			for i, l := range tt.looks {
				if seen[i] != l.want {
					t.Errorf("at %s the node was %q, want %q", l.at, seen[i], l.want)
				}
			}
			if elapsed < tt.wantElapsed || elapsed > tt.wantElapsed+time.Second {
				t.Errorf("the run took %s, want %s", elapsed, tt.wantElapsed)
			}
			if tt.wantEvent != "" {
				events, err := env.st.NodeEvents(context.Background(), n.UUID)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(events, func(e store.Event) bool { return e.Event == tt.wantEvent }) {
					t.Errorf("history %v has no %q", events, tt.wantEvent)
				}
			}
		})
	}
}
