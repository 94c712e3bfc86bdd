package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestVerbs runs adopt, rescue, unrescue and a retired node's undeploy with
// the real activities over the fake hardware and a real store.
func TestVerbs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		from       node.ProvisionState
		verb       node.Verb
		workflow   string
		driverInfo string
		instance   string
		retired    bool
		want       node.ProvisionState
		wantError  string // last_error prefix
		wantInfo   string // instance_info after
		wantPower  node.PowerState
	}{
		{name: "adopt", from: node.Manageable, verb: node.VerbAdopt, workflow: contract.AdoptName,
			want: node.Active, wantPower: node.PowerOn},
		{name: "adopt again after a failure", from: node.AdoptFail, verb: node.VerbAdopt, workflow: contract.AdoptName,
			want: node.Active, wantPower: node.PowerOn},
		{name: "adopt with a broken driver_info", from: node.Manageable, verb: node.VerbAdopt,
			workflow: contract.AdoptName, driverInfo: `{"fake_delay":"soon"}`, want: node.AdoptFail,
			wantError: "Error while attempting to adopt node ", wantPower: node.PowerNone},
		{name: "rescue", from: node.Active, verb: node.VerbRescue, workflow: contract.RescueName,
			instance: `{"image_source":"x","rescue_password":"pw","hashed_rescue_password":"$6$h"}`, want: node.Rescue,
			wantInfo:  `{"image_source": "x", "rescue_password": "pw", "hashed_rescue_password": "$6$h"}`,
			wantPower: node.PowerOn},
		{name: "rescue fails: the password goes", from: node.Active, verb: node.VerbRescue,
			workflow: contract.RescueName, driverInfo: `{"fake_fail":["rescue"]}`,
			instance: `{"image_source":"x","rescue_password":"pw","hashed_rescue_password":"$6$h"}`,
			want:     node.RescueFail, wantError: "Failed to rescue: ", wantInfo: `{"image_source": "x"}`,
			wantPower: node.PowerOn},
		{name: "unrescue", from: node.Rescue, verb: node.VerbUnrescue, workflow: contract.UnrescueName,
			want: node.Active, wantPower: node.PowerOn},
		{name: "unrescue fails", from: node.Rescue, verb: node.VerbUnrescue, workflow: contract.UnrescueName,
			driverInfo: `{"fake_fail":["rescue"]}`, want: node.UnrescueFail, wantError: "Failed to unrescue: ",
			wantPower: node.PowerOn},
		{name: "undeploy a rescued node", from: node.Rescue, verb: node.VerbDeleted, workflow: contract.UndeployName,
			want: node.Available, wantInfo: `{}`, wantPower: node.PowerOff},
		{name: "undeploy a retired node", from: node.Active, verb: node.VerbDeleted, workflow: contract.UndeployName,
			retired: true, want: node.Manageable, wantInfo: `{}`, wantPower: node.PowerOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, nil)
			n := createNode(t, env.st, nodeSpec{state: tt.from, power: node.PowerOn, instanceInfo: tt.instance})
			if tt.retired || tt.driverInfo != "" {
				n.Retired = tt.retired
				if tt.driverInfo != "" {
					n.DriverInfo = json.RawMessage(tt.driverInfo)
				}
				var err error
				if n, err = env.st.UpdateNode(context.Background(), n); err != nil {
					t.Fatal(err)
				}
			}
			env.ExecuteWorkflow(tt.workflow, contract.ProvisionInput{NodeUUID: n.UUID, Verb: tt.verb, From: tt.from,
				Revision: contract.CurrentRevision})
			err := env.GetWorkflowError()
			got := mustNode(t, env.st, n.UUID)
			if got.ProvisionState != tt.want || got.TargetProvisionState != node.NoState {
				t.Fatalf("node is %q (target %q, last_error %v), want %q; workflow error %v", got.ProvisionState,
					got.TargetProvisionState, got.LastError, tt.want, err)
			}
			if tt.wantError == "" {
				if err != nil || got.LastError != nil {
					t.Errorf("workflow error %v, last_error %v", err, got.LastError)
				}
			} else {
				var ae *temporal.ApplicationError
				if !errors.As(err, &ae) || got.LastError == nil || !strings.HasPrefix(*got.LastError, tt.wantError) {
					t.Errorf("workflow error %v, last_error %v; want %q...", err, got.LastError, tt.wantError)
				}
			}
			if tt.wantInfo != "" && string(got.InstanceInfo) != tt.wantInfo {
				t.Errorf("instance_info = %s, want %s", got.InstanceInfo, tt.wantInfo)
			}
			if got.PowerState != tt.wantPower {
				t.Errorf("power state = %q, want %q", got.PowerState, tt.wantPower)
			}
		})
	}
}
