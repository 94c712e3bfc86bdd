package workflows_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows"
	"github.com/ferric-project/ferric/workflows/contract"
)

func operation(t *testing.T, env *testEnv, n store.Node, verb string, edit func(*store.Operation)) string {
	t.Helper()
	op := store.Operation{NodeUUID: n.UUID, Verb: verb}
	edit(&op)
	op, err := env.st.CreateOperation(context.Background(), op)
	if err != nil {
		t.Fatal(err)
	}
	return op.ID
}

// stepCalls lists the steps the fake ran.
func stepCalls(env *testEnv) []string {
	var out []string
	for _, c := range env.hw.Calls() {
		if c.Op == "step" {
			out = append(out, c.Arg)
		}
	}
	return out
}

func TestManualCleanSteps(t *testing.T) {
	steps := `[{"interface":"deploy","step":"erase_devices","args":{}},` +
		`{"interface":"deploy","step":"erase_devices_metadata"}]`
	t.Run("fake runs the steps in the given order", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Manageable})
		opID := operation(t, env, n, "clean", func(o *store.Operation) { o.CleanSteps = []byte(steps) })
		env.ExecuteWorkflow(contract.CleanName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbClean,
			From: node.Manageable, OperationID: opID})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if got := stepCalls(env); !slices.Equal(got, []string{"deploy.erase_devices", "deploy.erase_devices_metadata"}) {
			t.Errorf("steps %q", got)
		}
		if got := mustNode(t, env.st, n.UUID); got.ProvisionState != node.Manageable || string(got.CleanStep) != "{}" {
			t.Errorf("node %q clean_step %s", got.ProvisionState, got.CleanStep)
		}
	})
	t.Run("fake step failure ends in clean failed", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Manageable, driverInfo: `{"fake_fail":["step"]}`})
		opID := operation(t, env, n, "clean", func(o *store.Operation) { o.CleanSteps = []byte(steps) })
		env.ExecuteWorkflow(contract.CleanName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbClean,
			From: node.Manageable, OperationID: opID})
		got := mustNode(t, env.st, n.UUID)
		if env.GetWorkflowError() == nil || got.ProvisionState != node.CleanFail || got.LastError == nil ||
			!strings.Contains(*got.LastError, "deploy.erase_devices") {
			t.Errorf("node %q last_error %v", got.ProvisionState, got.LastError)
		}
	})
	t.Run("agent runs the steps in one ramdisk boot", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := agentNode(t, env, node.Manageable, node.PowerOff)
		opID := operation(t, env, n, "clean", func(o *store.Operation) { o.CleanSteps = []byte(steps) })
		env.RegisterDelayedCallback(func() {
			if got := mustNode(t, env.st, n.UUID); got.ProvisionState != node.CleanWait ||
				!strings.Contains(string(got.CleanStep), `"erase_devices"`) {
				t.Errorf("before the agent: %q clean_step %s", got.ProvisionState, got.CleanStep)
			}
			env.SignalWorkflow(contract.SignalAgentReady, nil)
		}, time.Minute)
		env.ExecuteWorkflow(contract.CleanName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbClean,
			From: node.Manageable, OperationID: opID})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if ran := env.agents.ran(); !slices.Equal(ran, []string{wire.CmdEraseDevices, wire.CmdEraseMetadata}) {
			t.Errorf("agent ran %q", ran)
		}
		got := mustNode(t, env.st, n.UUID)
		if got.ProvisionState != node.Manageable || got.PowerState != node.PowerOff || string(got.CleanStep) != "{}" ||
			env.agents.open(n.UUID) {
			t.Errorf("node %q power %q clean_step %s session open %v", got.ProvisionState, got.PowerState,
				got.CleanStep, env.agents.open(n.UUID))
		}
		if !slices.ContainsFunc(env.agents.progress, func(p string) bool { return strings.Contains(p, `"erase_devices"`) }) {
			t.Errorf("clean_step never showed erase_devices: %q", env.agents.progress)
		}
	})
}

func TestDeployStepsAndConfigDrive(t *testing.T) {
	// erase_devices_metadata asked for at priority 90 runs before write_image (80).
	steps := `[{"interface":"deploy","step":"erase_devices_metadata","args":{},"priority":90}]`
	cd := `{"meta_data":{"admin_pass":"s3cret-admin-pass"},"user_data":"#cloud-config\n"}`
	t.Run("fake", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Available})
		opID := operation(t, env, n, "active", func(o *store.Operation) { o.DeploySteps = []byte(steps) })
		env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive,
			From: node.Available, OperationID: opID})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		// The fake's core deploy writes the image; the step asked for runs.
		if got := stepCalls(env); !slices.Equal(got, []string{"deploy.erase_devices_metadata"}) {
			t.Errorf("steps %q", got)
		}
		if got := mustNode(t, env.st, n.UUID); got.ProvisionState != node.Active {
			t.Errorf("node %q", got.ProvisionState)
		}
	})
	t.Run("agent", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := agentNode(t, env, node.Available, "")
		opID := operation(t, env, n, "active", func(o *store.Operation) {
			o.DeploySteps, o.ConfigDrive = []byte(steps), []byte(cd)
		})
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalAgentReady, nil) }, time.Minute)
		env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive,
			From: node.Available, OperationID: opID})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		want := []string{wire.CmdEraseMetadata, wire.CmdWriteImage, wire.CmdWriteConfigDrive}
		if ran := env.agents.ran(); !slices.Equal(ran, want) {
			t.Fatalf("agent ran %q, want %q", ran, want)
		}
		var p wire.WriteConfigDrive
		if err := json.Unmarshal(env.agents.params[2].Params, &p); err != nil {
			t.Fatal(err)
		}
		if p.ImageSize != 4<<20 {
			t.Errorf("config drive image_size %d, want the image's 4 MiB", p.ImageSize)
		}
		raw, err := base64.StdEncoding.DecodeString(p.ConfigDrive)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		iso, _ := io.ReadAll(zr)
		if len(iso) < 32774 || string(iso[32769:32774]) != "CD001" || !bytes.Contains(iso, []byte("s3cret-admin-pass")) ||
			!bytes.Contains(iso, []byte(n.UUID)) {
			t.Errorf("config drive is not the ISO 9660 image of the request (%d bytes)", len(iso))
		}
		if got := mustNode(t, env.st, n.UUID); got.ProvisionState != node.Active {
			t.Errorf("node %q", got.ProvisionState)
		}
	})
}

// TestDeployPlan pins the ordering of deploy steps.
func TestDeployPlan(t *testing.T) {
	catalog := []activities.StepRef{
		{Interface: "deploy", Name: "deploy", Priority: 100, Core: true, UserIndex: -1},
		{Interface: "deploy", Name: "write_image", Priority: 80, UserIndex: -1},
		{Interface: "deploy", Name: "erase_devices_metadata", Priority: 0, UserIndex: -1},
	}
	for _, tt := range []struct {
		name string
		user []activities.StepRef
		want []string
	}{
		{"defaults", nil, []string{"deploy.deploy", "deploy.write_image"}},
		{"optional step before the image", []activities.StepRef{{Interface: "deploy", Name: "erase_devices_metadata",
			Priority: 90}}, []string{"deploy.deploy", "deploy.erase_devices_metadata", "deploy.write_image"}},
		{"after the image", []activities.StepRef{{Interface: "deploy", Name: "erase_devices_metadata",
			Priority: 10}}, []string{"deploy.deploy", "deploy.write_image", "deploy.erase_devices_metadata"}},
		{"a default disabled", []activities.StepRef{{Interface: "deploy", Name: "write_image", Priority: 0}},
			[]string{"deploy.deploy"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range workflows.DeployPlanOf(catalog, tt.user) {
				got = append(got, s.ID())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("plan %q, want %q", got, tt.want)
			}
		})
	}
}
