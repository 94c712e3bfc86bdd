package workflows_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/deploy/agent"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// The deploy steps of deploy templates (kept on the operation record by
// the API), merged with the interfaces' and the request's, and the RAID
// and BIOS steps of the fake and agent interfaces.

const (
	tmplBIOS = `{"interface":"bios","step":"apply_configuration","args":{"settings":[` +
		`{"name":"LogicalProc","value":"Enabled"},{"name":"BootMode","value":"Uefi","attribute_type":"Enumeration",` +
		`"allowable_values":["Bios","Uefi"],"read_only":false}]},"priority":150}`
	tmplRAID = `{"interface":"raid","step":"apply_configuration","args":{"raid_config":{"logical_disks":[` +
		`{"size_gb":50,"raid_level":"1","is_root_volume":true,"root_device_hint":{"name":"/dev/md0"}}]}},"priority":50}`
	raidTarget = `{"logical_disks":[{"size_gb":100,"raid_level":"5","is_root_volume":true},` +
		`{"size_gb":"MAX","raid_level":"0"}]}`
)

func biosNames(t *testing.T, env *testEnv, uuid string) []string {
	t.Helper()
	settings, err := env.st.BIOSSettings(context.Background(), uuid)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range settings {
		v := "<nil>"
		if s.Value != nil {
			v = *s.Value
		}
		out = append(out, s.Name+"="+v)
	}
	return out
}

// raidLevelOf returns the logical disks' levels and the node's
// capabilities and local_gb, as recorded.
func raidFacts(t *testing.T, n store.Node) (levels []string, lastUpdated bool, props map[string]any) {
	t.Helper()
	var cfg struct {
		Disks []struct {
			Level string `json:"raid_level"`
		} `json:"logical_disks"`
		LastUpdated string `json:"last_updated"`
	}
	if err := json.Unmarshal(n.RAIDConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, d := range cfg.Disks {
		levels = append(levels, d.Level)
	}
	if err := json.Unmarshal(n.Properties, &props); err != nil {
		t.Fatal(err)
	}
	return levels, cfg.LastUpdated != "", props
}

func TestDeployTemplates(t *testing.T) {
	t.Run("fake: template and request steps merged by priority", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Available})
		opID := operation(t, env, n, "active", func(o *store.Operation) {
			o.TemplateSteps = []byte("[" + tmplBIOS + "," + tmplRAID +
				`,{"interface":"deploy","step":"erase_devices_metadata","args":{},"priority":70}]`)
			o.TemplateNames = []string{"CUSTOM_A", "CUSTOM_B"}
			// The request's step wins over the template's (priority 90, not 70).
			o.DeploySteps = []byte(`[{"interface":"deploy","step":"erase_devices_metadata","args":{},"priority":90}]`)
		})
		env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive,
			From: node.Available, OperationID: opID, Revision: contract.CurrentRevision})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, op := range ops(env.hw) {
			if strings.HasPrefix(op, "step:") || op == "deploy:" {
				got = append(got, op)
			}
		}
		want := []string{"step:bios.apply_configuration", "deploy:", "step:deploy.erase_devices_metadata",
			"step:raid.apply_configuration"}
		if !slices.Equal(got, want) {
			t.Errorf("ran %q, want %q", got, want)
		}
		if n := env.hw.Count("step", "deploy.erase_devices_metadata"); n != 1 {
			t.Errorf("erase_devices_metadata ran %d times, want once", n)
		}
		got2 := mustNode(t, env.st, n.UUID)
		if got2.ProvisionState != node.Active {
			t.Errorf("node %q last_error %v", got2.ProvisionState, got2.LastError)
		}
		if names := biosNames(t, env, n.UUID); !slices.Equal(names, []string{"BootMode=Uefi", "LogicalProc=Enabled"}) {
			t.Errorf("BIOS settings %q", names)
		}
		levels, stamped, props := raidFacts(t, got2)
		if !slices.Equal(levels, []string{"1"}) || !stamped || props["local_gb"] != float64(50) ||
			props["capabilities"] != "raid_level:1" {
			t.Errorf("raid_config %s properties %s", got2.RAIDConfig, got2.Properties)
		}
		if hint, _ := props["root_device"].(map[string]any); hint["name"] != "/dev/md0" {
			t.Errorf("root device hint not recorded: %s", got2.Properties)
		}
	})
	t.Run("fake: the request disables a template's step", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Available})
		opID := operation(t, env, n, "active", func(o *store.Operation) {
			o.TemplateSteps, o.TemplateNames = []byte("["+tmplBIOS+"]"), []string{"CUSTOM_A"}
			o.DeploySteps = []byte(`[{"interface":"bios","step":"apply_configuration","args":{"settings":[]},"priority":0}]`)
		})
		env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive,
			From: node.Available, OperationID: opID, Revision: contract.CurrentRevision})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if got := stepCalls(env); len(got) != 0 {
			t.Errorf("steps %q ran", got)
		}
		if env.hw.Count("deploy", "") != 1 {
			t.Error("the core deploy did not run")
		}
	})
	t.Run("fake: a template disables the core step", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Available})
		opID := operation(t, env, n, "active", func(o *store.Operation) {
			o.TemplateSteps = []byte(`[{"interface":"deploy","step":"deploy","args":{},"priority":0}]`)
			o.TemplateNames = []string{"CUSTOM_OFF"}
		})
		env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive,
			From: node.Available, OperationID: opID, Revision: contract.CurrentRevision})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if env.hw.Count("deploy", "") != 0 || mustNode(t, env.st, n.UUID).ProvisionState != node.Active {
			t.Errorf("core deploy ran %d times, node %q", env.hw.Count("deploy", ""),
				mustNode(t, env.st, n.UUID).ProvisionState)
		}
	})
	t.Run("agent: out-of-band steps before the ramdisk, in-band after", func(t *testing.T) {
		t.Parallel()
		raidDone := func(cmd wire.Command) []wire.CommandResult {
			if cmd.Name != wire.CmdCreateRAID {
				return succeed(cmd)
			}
			var p wire.CreateRAID
			_ = json.Unmarshal(cmd.Params, &p)
			// The agent answers with the configuration it built.
			return []wire.CommandResult{{Status: wire.StatusSucceeded, Result: p.Config}}
		}
		env := newEnv(t, raidDone)
		n := createNode(t, env.st, nodeSpec{state: node.Available, deploy: agent.Name, raid: agent.RAIDName,
			instanceInfo: agentImage})
		opID := operation(t, env, n, "active", func(o *store.Operation) {
			o.TemplateSteps = []byte("[" + tmplBIOS + "," + tmplRAID + "]")
			o.TemplateNames = []string{"CUSTOM_A"}
		})
		env.RegisterDelayedCallback(func() {
			// The BIOS step ran before the ramdisk booted.
			if got := biosNames(t, env, n.UUID); len(got) != 2 {
				t.Errorf("BIOS settings before the agent: %q", got)
			}
			env.SignalWorkflow(contract.SignalAgentReady, nil)
		}, time.Minute)
		env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive,
			From: node.Available, OperationID: opID, Revision: contract.CurrentRevision})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if ran := env.agents.ran(); !slices.Equal(ran, []string{wire.CmdWriteImage, wire.CmdCreateRAID}) {
			t.Errorf("agent ran %q", ran)
		}
		var p wire.CreateRAID
		if err := json.Unmarshal(env.agents.params[1].Params, &p); err != nil || !p.DeleteExisting ||
			!strings.Contains(string(p.Config), `"raid_level":"1"`) {
			t.Errorf("create_configuration params %s (%v)", env.agents.params[1].Params, err)
		}
		got := mustNode(t, env.st, n.UUID)
		levels, stamped, _ := raidFacts(t, got)
		if got.ProvisionState != node.Active || !slices.Equal(levels, []string{"1"}) || !stamped {
			t.Errorf("node %q raid_config %s last_error %v", got.ProvisionState, got.RAIDConfig, got.LastError)
		}
	})
	t.Run("agent: the core step disabled, no ramdisk boots", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Available, deploy: agent.Name, raid: agent.RAIDName,
			instanceInfo: agentImage})
		opID := operation(t, env, n, "active", func(o *store.Operation) {
			o.TemplateSteps = []byte(`[{"interface":"deploy","step":"deploy","args":{},"priority":0},` + tmplBIOS + "]")
			o.TemplateNames = []string{"CUSTOM_OFF"}
		})
		env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive,
			From: node.Available, OperationID: opID, Revision: contract.CurrentRevision})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if env.agents.opened != 0 || len(env.agents.ran()) != 0 {
			t.Errorf("ramdisk booted %d times, agent ran %q", env.agents.opened, env.agents.ran())
		}
		if got := mustNode(t, env.st, n.UUID); got.ProvisionState != node.Active || len(biosNames(t, env, n.UUID)) != 2 {
			t.Errorf("node %q, BIOS %q", got.ProvisionState, biosNames(t, env, n.UUID))
		}
	})
}

func TestRAIDAndBIOSCleanSteps(t *testing.T) {
	clean := func(t *testing.T, env *testEnv, n store.Node, steps string) error {
		t.Helper()
		opID := operation(t, env, n, "clean", func(o *store.Operation) { o.CleanSteps = []byte(steps) })
		env.ExecuteWorkflow(contract.CleanName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbClean,
			From: node.Manageable, OperationID: opID, Revision: contract.CurrentRevision})
		return env.GetWorkflowError()
	}
	t.Run("fake builds, deletes and records", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Manageable, targetRAID: raidTarget})
		if err := clean(t, env, n, `[{"interface":"raid","step":"create_configuration","args":{"create_nonroot_volumes":false}},`+
			`{"interface":"bios","step":"apply_configuration","args":{"settings":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}}]`); err != nil {
			t.Fatal(err)
		}
		got := mustNode(t, env.st, n.UUID)
		levels, stamped, props := raidFacts(t, got)
		if !slices.Equal(levels, []string{"5"}) || !stamped || props["local_gb"] != float64(100) ||
			props["capabilities"] != "raid_level:5" {
			t.Errorf("raid_config %s properties %s", got.RAIDConfig, got.Properties)
		}
		if names := biosNames(t, env, n.UUID); !slices.Equal(names, []string{"A=1", "B=2"}) {
			t.Errorf("BIOS %q", names)
		}
		// Ironic's sync: B changes, A goes, C comes; then a reset.
		env = newEnvOn(t, env)
		if err := clean(t, env, got, `[{"interface":"bios","step":"apply_configuration","args":{"settings":`+
			`[{"name":"B","value":"3"},{"name":"C","value":"4"}]}},{"interface":"raid","step":"delete_configuration"}]`); err != nil {
			t.Fatal(err)
		}
		got = mustNode(t, env.st, n.UUID)
		if names := biosNames(t, env, n.UUID); !slices.Equal(names, []string{"B=3", "C=4"}) || string(got.RAIDConfig) != "{}" {
			t.Errorf("BIOS %q raid_config %s", names, got.RAIDConfig)
		}
		env = newEnvOn(t, env)
		if err := clean(t, env, got, `[{"interface":"bios","step":"factory_reset"}]`); err != nil {
			t.Fatal(err)
		}
		if names := biosNames(t, env, n.UUID); len(names) != 0 {
			t.Errorf("BIOS after factory_reset %q", names)
		}
	})
	t.Run("fake without a target RAID configuration fails the cleaning", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, nil)
		n := createNode(t, env.st, nodeSpec{state: node.Manageable})
		if err := clean(t, env, n, `[{"interface":"raid","step":"create_configuration"}]`); err == nil {
			t.Fatal("cleaning succeeded")
		}
		got := mustNode(t, env.st, n.UUID)
		if got.ProvisionState != node.CleanFail || got.LastError == nil ||
			!strings.Contains(*got.LastError, "has no target RAID configuration") {
			t.Errorf("node %q last_error %v", got.ProvisionState, got.LastError)
		}
	})
	agentClean := func(t *testing.T, script func(wire.Command) []wire.CommandResult) (*testEnv, store.Node, error) {
		env := newEnv(t, script)
		n := createNode(t, env.st, nodeSpec{state: node.Manageable, deploy: agent.Name, raid: agent.RAIDName,
			instanceInfo: agentImage, targetRAID: raidTarget})
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalAgentReady, nil) }, time.Minute)
		err := clean(t, env, n, `[{"interface":"raid","step":"delete_configuration"},`+
			`{"interface":"raid","step":"create_configuration","args":{"create_root_volume":false}}]`)
		return env, n, err
	}
	t.Run("agent builds and the configuration is recorded", func(t *testing.T) {
		t.Parallel()
		env, n, err := agentClean(t, func(cmd wire.Command) []wire.CommandResult {
			if cmd.Name != wire.CmdCreateRAID {
				return succeed(cmd)
			}
			var p wire.CreateRAID
			_ = json.Unmarshal(cmd.Params, &p)
			return []wire.CommandResult{{Status: wire.StatusSucceeded, Result: p.Config}}
		})
		if err != nil {
			t.Fatal(err)
		}
		if ran := env.agents.ran(); !slices.Equal(ran, []string{wire.CmdDeleteRAID, wire.CmdCreateRAID}) {
			t.Errorf("agent ran %q", ran)
		}
		var p wire.CreateRAID
		_ = json.Unmarshal(env.agents.params[1].Params, &p)
		if strings.Contains(string(p.Config), `"raid_level":"5"`) || !strings.Contains(string(p.Config), `"raid_level":"0"`) {
			t.Errorf("create_configuration without the root volume got %s", p.Config)
		}
		got := mustNode(t, env.st, n.UUID)
		if levels, stamped, _ := raidFacts(t, got); got.ProvisionState != node.Manageable ||
			!slices.Equal(levels, []string{"0"}) || !stamped {
			t.Errorf("node %q raid_config %s", got.ProvisionState, got.RAIDConfig)
		}
	})
	t.Run("agent answering nothing fails as Ironic does", func(t *testing.T) {
		t.Parallel()
		env, n, err := agentClean(t, nil)
		if err == nil {
			t.Fatal("cleaning succeeded")
		}
		got := mustNode(t, env.st, n.UUID)
		if got.ProvisionState != node.CleanFail || got.LastError == nil ||
			!strings.Contains(*got.LastError, "Agent ramdisk didn't return a proper command result while building RAID") {
			t.Errorf("node %q last_error %v", got.ProvisionState, got.LastError)
		}
	})
}
