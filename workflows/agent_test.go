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

const agentImage = `{"image_source":"http://img/disk.qcow2","image_os_hash_algo":"sha256",` +
	`"image_os_hash_value":"abc","image_disk_format":"qcow2"}`

// agentNode creates a fake-hardware node whose deploy interface is the real
// "direct" (the ramdisk agent).
func agentNode(t *testing.T, env *testEnv, state node.ProvisionState, power node.PowerState) store.Node {
	t.Helper()
	return createNode(t, env.st, nodeSpec{state: state, power: power, deploy: agent.Name, instanceInfo: agentImage})
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
			t.Parallel()
			env := newEnv(t, tt.script)
			n := agentNode(t, env, node.Available, "")
			if tt.signal != "" {
				env.RegisterDelayedCallback(func() {
					v, err := env.QueryWorkflow(contract.QueryState)
					var st contract.Status
					if err != nil || v.Get(&st) != nil || st.State != node.DeployWait {
						t.Errorf("state before signal = %+v, %v; want %q", st, err, node.DeployWait)
					}
					if got := mustNode(t, env.st, n.UUID); !strings.Contains(string(got.DeployStep), `"deploy"`) ||
						got.PowerState != node.PowerOn {
						t.Errorf("in wait call-back: deploy_step %s, power %q", got.DeployStep, got.PowerState)
					}
					if !env.agents.open(n.UUID) {
						t.Error("no agent session (boot config) in wait call-back")
					}
					env.agents.mu.Lock()
					env.agents.failReads = tt.failReads
					env.agents.mu.Unlock()
					env.SignalWorkflow(tt.signal, contract.AgentReady{AgentVersion: "test"})
				}, time.Minute)
			}
			env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive,
				From: node.Available, AgentTimeoutSeconds: tt.timeout})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			err := env.GetWorkflowError()
			got := mustNode(t, env.st, n.UUID)
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
				if w := env.calls.written(); !slices.Equal(w, []int64{4 << 20}) {
					t.Errorf("image writes observed %v, want one of 4 MiB", w)
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
			if env.agents.open(n.UUID) {
				t.Error("agent session (boot config, token) left open")
			}
			if tt.wantOps != nil && !slices.Equal(ops(env.hw), tt.wantOps) {
				t.Errorf("driver calls %q, want %q", ops(env.hw), tt.wantOps)
			}
			if tt.signal == contract.SignalAgentReady {
				if ran := env.agents.ran(); !slices.Equal(ran, []string{wire.CmdWriteImage}) {
					t.Errorf("agent ran %q, want one write_image", ran)
				}
				if tt.want == node.Active && !slices.ContainsFunc(env.agents.progress, func(p string) bool {
					return strings.Contains(p, `"bytes_written":3145728`) && strings.Contains(p, `"step":"write_image"`)
				}) {
					t.Errorf("deploy progress %q, want write_image byte counts", env.agents.progress)
				}
			}
			if tt.failReads > 0 && env.agents.enqueues < 2 {
				t.Errorf("RunAgentCommand enqueued %d times: it was not retried", env.agents.enqueues)
			}
		})
	}
}

// TestAgentDeployParams: the write_image command is built from instance_info
// in the activity; the image's URL never travels through the workflow.
func TestAgentDeployParams(t *testing.T) {
	env := newEnv(t, nil)
	n := agentNode(t, env, node.Available, "")
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalAgentReady, nil) }, time.Minute)
	env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive, From: node.Available})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(env.agents.params) != 1 {
		t.Fatalf("commands %+v", env.agents.params)
	}
	seen := env.agents.params[0]
	var p wire.WriteImage
	if err := json.Unmarshal(seen.Params, &p); err != nil {
		t.Fatal(err)
	}
	want := wire.WriteImage{URL: "http://img/disk.qcow2", Format: "qcow2", HashAlgo: "sha256", HashValue: "abc"}
	if p != want {
		t.Errorf("write_image params %+v, want %+v", p, want)
	}
	if !strings.HasSuffix(seen.ID, "-deploy-deploy.write_image") || len(seen.ID) < 30 {
		t.Errorf("command ID %q is not <run id>-deploy-deploy.write_image", seen.ID)
	}
}

func TestAgentDeployWithoutImage(t *testing.T) {
	env := newEnv(t, nil)
	n := createNode(t, env.st, nodeSpec{state: node.Available, deploy: agent.Name, instanceInfo: `{}`})
	env.ExecuteWorkflow(contract.DeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbActive, From: node.Available})
	got := mustNode(t, env.st, n.UUID)
	if env.GetWorkflowError() == nil || got.ProvisionState != node.DeployFail || got.LastError == nil ||
		!strings.Contains(*got.LastError, "image_source") {
		t.Fatalf("node %q last_error %v", got.ProvisionState, got.LastError)
	}
	if env.agents.opened != 0 || len(ops(env.hw)) != 0 {
		t.Errorf("booted the ramdisk (%d sessions, calls %q) without an image to write", env.agents.opened, ops(env.hw))
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
			t.Parallel()
			env := newEnv(t, tt.script)
			n := agentNode(t, env, node.Active, node.PowerOn)
			env.RegisterDelayedCallback(func() {
				if got := mustNode(t, env.st, n.UUID); got.ProvisionState != node.CleanWait ||
					!strings.Contains(string(got.CleanStep), "erase_devices_metadata") {
					t.Errorf("state before signal %q (clean_step %s), want clean wait", got.ProvisionState, got.CleanStep)
				}
				env.SignalWorkflow(contract.SignalAgentReady, nil)
			}, time.Minute)
			env.ExecuteWorkflow(contract.UndeployName, contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbDeleted, From: node.Active})
			got := mustNode(t, env.st, n.UUID)
			if got.ProvisionState != tt.want || got.PowerState != node.PowerOff || string(got.CleanStep) != "{}" {
				t.Fatalf("node %q power %q clean_step %s, want %q, power off, no step (err %v)",
					got.ProvisionState, got.PowerState, got.CleanStep, tt.want, env.GetWorkflowError())
			}
			if ran := env.agents.ran(); !slices.Equal(ran, []string{wire.CmdEraseMetadata}) || env.agents.open(n.UUID) {
				t.Errorf("agent ran %q, session open %v", ran, env.agents.open(n.UUID))
			}
			// Undeploy powers the instance off, then cleaning boots the
			// ramdisk (off, pxe, on) and powers off when done: the same
			// sequence as on real hardware.
			want := []string{"power:power off", "power:power off", "management:pxe", "power:power on", "power:power off"}
			if calls := ops(env.hw); !slices.Equal(calls, want) {
				t.Errorf("driver calls %q, want %q", calls, want)
			}
		})
	}
}

// TestDisablePowerOffKeepsPowerOn: a node with disable_power_off (API 1.95)
// is never powered off by an operation, as in Ironic 29: the deploy boots
// the ramdisk and then the disk with reboots, and where an instance is torn
// down or a ramdisk's work ends (cleaning, a failed deploy) the node is
// rebooted instead of being powered off; it ends powered on.
func TestDisablePowerOffKeepsPowerOn(t *testing.T) {
	failWrite := func(cmd wire.Command) []wire.CommandResult {
		if cmd.Name == wire.CmdWriteImage {
			return []wire.CommandResult{{Status: wire.StatusFailed, Error: "no disks"}}
		}
		return succeed(cmd)
	}
	for _, tt := range []struct {
		name     string
		workflow string
		from     node.ProvisionState
		verb     node.Verb
		script   func(wire.Command) []wire.CommandResult
		want     node.ProvisionState
		wantOps  []string
		fake     bool // the fake deploy interface: cleaning boots no ramdisk
	}{
		{"deploy", contract.DeployName, node.Available, node.VerbActive, succeed, node.Active,
			[]string{"management:pxe", "power:reboot", "management:disk", "power:reboot"}, false},
		{"deploy fails", contract.DeployName, node.Available, node.VerbActive, failWrite, node.DeployFail,
			[]string{"management:pxe", "power:reboot", "power:reboot"}, false},
		{"undeploy cleans", contract.UndeployName, node.Active, node.VerbDeleted, succeed, node.Available,
			[]string{"power:reboot", "management:pxe", "power:reboot", "power:reboot"}, false},
		// No ramdisk to leave: the reboot after the tear-down is what stops
		// the instance.
		{"undeploy without a ramdisk", contract.UndeployName, node.Active, node.VerbDeleted, succeed, node.Available,
			[]string{"deploy:teardown", "power:reboot", "clean:"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, tt.script)
			n := agentNode(t, env, tt.from, node.PowerOn)
			if tt.fake {
				n = createNode(t, env.st, nodeSpec{state: tt.from, power: node.PowerOn})
			}
			n.DisablePowerOff = true
			if _, err := env.st.UpdateNode(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(contract.SignalAgentReady, contract.AgentReady{AgentVersion: "test"})
			}, time.Minute)
			env.ExecuteWorkflow(tt.workflow, contract.ProvisionInput{NodeUUID: n.UUID, Verb: tt.verb, From: tt.from,
				Revision: contract.CurrentRevision})
			got := mustNode(t, env.st, n.UUID)
			if got.ProvisionState != tt.want || got.PowerState != node.PowerOn {
				t.Fatalf("node %q power %q, want %q, power on (err %v)", got.ProvisionState, got.PowerState, tt.want,
					env.GetWorkflowError())
			}
			if calls := ops(env.hw); !slices.Equal(calls, tt.wantOps) {
				t.Errorf("driver calls %q, want %q", calls, tt.wantOps)
			}
		})
	}
}
