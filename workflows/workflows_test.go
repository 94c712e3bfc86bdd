package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

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
		{node.Manageable, node.VerbAdopt, contract.AdoptName, node.Active, true},
		{node.AdoptFail, node.VerbAdopt, contract.AdoptName, node.Active, true},
		{node.Available, node.VerbAdopt, "", "", false},
		{node.Active, node.VerbRescue, contract.RescueName, node.Rescue, true},
		{node.Rescue, node.VerbRescue, contract.RescueName, node.Rescue, true},
		{node.RescueFail, node.VerbRescue, contract.RescueName, node.Rescue, true},
		{node.UnrescueFail, node.VerbRescue, contract.RescueName, node.Rescue, true},
		{node.Available, node.VerbRescue, "", "", false},
		{node.Rescue, node.VerbUnrescue, contract.UnrescueName, node.Active, true},
		{node.RescueFail, node.VerbUnrescue, contract.UnrescueName, node.Active, true},
		{node.UnrescueFail, node.VerbUnrescue, contract.UnrescueName, node.Active, true},
		{node.Active, node.VerbUnrescue, "", "", false},
		{node.Rescue, node.VerbDeleted, contract.UndeployName, node.Available, true},
		{node.RescueFail, node.VerbUndeploy, contract.UndeployName, node.Available, true},
		{node.UnrescueFail, node.VerbDeleted, contract.UndeployName, node.Available, true},
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
			t.Parallel()
			env := newEnv(t, nil)
			n := createNode(t, env.st, nodeSpec{state: tt.start, power: tt.power, driverInfo: tt.driverInfo})
			from := tt.start
			if tt.seen != "" {
				from = tt.seen
			}
			env.ExecuteWorkflow(tt.workflow, contract.ProvisionInput{NodeUUID: n.UUID, Verb: tt.verb, From: from})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			err := env.GetWorkflowError()
			if (err != nil) != tt.wantErr {
				t.Fatalf("workflow error = %v, wantErr %v", err, tt.wantErr)
			}
			got := mustNode(t, env.st, n.UUID)
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
			t.Parallel()
			env := newEnv(t, nil)
			n := createNode(t, env.st, nodeSpec{state: node.Active, power: node.PowerOff, driverInfo: tt.driverInfo})
			env.ExecuteWorkflow(contract.PowerName, contract.PowerInput{NodeUUID: n.UUID, Target: tt.target})
			if err := env.GetWorkflowError(); (err != nil) != tt.wantErr {
				t.Fatalf("workflow error = %v, wantErr %v", err, tt.wantErr)
			}
			got := mustNode(t, env.st, n.UUID)
			if got.PowerState != tt.want || got.TargetPowerState != node.PowerNone {
				t.Errorf("power %q target %q, want %q and no target", got.PowerState, got.TargetPowerState, tt.want)
			}
			if tt.wantErr != (got.LastError != nil) {
				t.Errorf("last_error = %v, wantErr %v", got.LastError, tt.wantErr)
			}
		})
	}
}

// TestSetPowerDisablePowerOff: a node with disable_power_off is never
// powered off (Ironic's node_power_action), a conditional off (the power
// sync) is skipped, and a reboot still runs.
func TestSetPowerDisablePowerOff(t *testing.T) {
	tests := []struct {
		name    string
		in      contract.PowerInput
		wantErr bool
		wantOps []string // the BMC commands sent
	}{
		{"power off refused", contract.PowerInput{Target: node.PowerOff}, true, nil},
		{"soft power off refused", contract.PowerInput{Target: node.SoftPowerOff}, true, nil},
		{"sync off skipped", contract.PowerInput{Target: node.PowerOff, IfRecorded: node.PowerOn}, false, nil},
		{"reboot runs", contract.PowerInput{Target: node.Rebooting}, false, []string{"power:reboot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, nil)
			n := createNode(t, env.st, nodeSpec{state: node.Active, power: node.PowerOn})
			n.DisablePowerOff = true
			if _, err := env.st.UpdateNode(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			tt.in.NodeUUID = n.UUID
			env.ExecuteWorkflow(contract.PowerName, tt.in)
			if err := env.GetWorkflowError(); (err != nil) != tt.wantErr {
				t.Fatalf("workflow error = %v, wantErr %v", err, tt.wantErr)
			}
			got := mustNode(t, env.st, n.UUID)
			if got.PowerState != node.PowerOn || got.TargetPowerState != node.PowerNone || got.LastError != nil {
				t.Errorf("power %q target %q last_error %v, want on, no target, none", got.PowerState,
					got.TargetPowerState, got.LastError)
			}
			if o := ops(env.hw); !slices.Equal(o, tt.wantOps) {
				t.Errorf("driver calls %q, want %q", o, tt.wantOps)
			}
		})
	}
}
