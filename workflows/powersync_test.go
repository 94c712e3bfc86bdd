package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
	"github.com/ferric-project/ferric/workflows"
	"github.com/ferric-project/ferric/workflows/contract"
)

func createFakeNode(t testing.TB, st *store.Store, name string, state node.ProvisionState, power node.PowerState, driverInfo string) store.Node {
	t.Helper()
	ctx := context.Background()
	n, err := st.CreateNode(ctx, store.Node{Name: &name, Driver: fake.TypeName, DriverInfo: json.RawMessage(driverInfo),
		Interfaces: store.Interfaces{Power: "fake", Management: "fake", Deploy: "fake", Vendor: "fake", Boot: "fake",
			Bios: "fake", Console: "fake", Inspect: "fake", Network: "noop", RAID: "fake", Rescue: "fake",
			Storage: "fake", Firmware: "fake"}})
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	if state != node.Enroll {
		if n, err = st.Transition(ctx, store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Enroll}, To: state}); err != nil {
			t.Fatalf("transition: %v", err)
		}
	}
	if power != "" {
		if n, err = st.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, PowerState: &power}); err != nil {
			t.Fatalf("set power: %v", err)
		}
	}
	return n
}

func setHardware(t *testing.T, reg *drivers.Registry, uuid string, s drivers.PowerState) {
	t.Helper()
	p, err := reg.Power("fake", drivers.Node{UUID: uuid, DriverInfo: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetPowerState(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func hardware(t *testing.T, reg *drivers.Registry, uuid string) drivers.PowerState {
	t.Helper()
	p, err := reg.Power("fake", drivers.Node{UUID: uuid, DriverInfo: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.PowerState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runPass runs one power-sync pass (of every node, or as in says) in the
// SDK's test environment with the real activities over st.
func runPass(t *testing.T, reg *drivers.Registry, st *store.Store, settings activities.PowerSyncSettings,
	in ...contract.PowerSyncInput) workflows.PowerSyncResult {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{Drivers: reg, Nodes: st, PollInterval: time.Millisecond})
	env.RegisterActivity(&activities.PowerSync{Drivers: reg, Nodes: st, Concurrency: 4, Settings: settings})
	workflows.Register(env)
	var args []any
	for _, i := range in {
		args = append(args, i)
	}
	env.ExecuteWorkflow(contract.PowerSyncName, args...)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("pass: %v", err)
	}
	var res workflows.PowerSyncResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPowerSyncPass(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	reg := drivers.NewRegistry()
	fake.New().Register(reg)

	drifted := createFakeNode(t, st, "drifted", node.Active, node.PowerOff, `{}`)
	setHardware(t, reg, drifted.UUID, drivers.PowerOn) // someone pressed the power button
	steady := createFakeNode(t, st, "steady", node.Available, node.PowerOff, `{}`)
	broken := createFakeNode(t, st, "broken", node.Active, node.PowerOn, `{"fake_fail":["power"]}`)
	busy := createFakeNode(t, st, "busy", node.DeployWait, node.PowerOn, `{"fake_fail":["power"]}`)
	newFakeNode := createFakeNode(t, st, "new", node.Enroll, "", `{}`)
	unknown := createFakeNode(t, st, "unknown", node.Manageable, "", `{}`)

	// Small pages: the pass walks several.
	settings := activities.PowerSyncSettings{PageSize: 2, MaxFailures: 3}
	for pass := 1; pass <= 3; pass++ {
		res := runPass(t, reg, st, settings)
		if res.Checked != 4 || res.Failed != 1 || res.Lost != 0 {
			t.Fatalf("pass %d: %+v; want 4 checked (drifted, steady, broken, unknown), 1 failed, none lost", pass, res)
		}
		b, _ := st.Node(ctx, broken.UUID)
		if pass < 3 && b.Maintenance {
			t.Fatalf("maintenance after %d failures, want after 3", pass)
		}
		if pass == 3 && res.MaintenanceSet != 1 {
			t.Errorf("third pass set maintenance on %d nodes, want 1", res.MaintenanceSet)
		}
	}
	if d, _ := st.Node(ctx, drifted.UUID); d.PowerState != node.PowerOn {
		t.Errorf("drifted node records %q, want the hardware's power on", d.PowerState)
	}
	if ev, _ := st.NodeEvents(ctx, drifted.UUID); len(ev) == 0 || !strings.Contains(ev[len(ev)-1].Event, "out of band") {
		t.Errorf("no out-of-band history entry: %+v", ev)
	}
	if s, _ := st.Node(ctx, steady.UUID); s.PowerState != node.PowerOff {
		t.Errorf("steady node changed to %q", s.PowerState)
	}
	if u, _ := st.Node(ctx, unknown.UUID); u.PowerState != node.PowerOff {
		t.Errorf("first reading not recorded: %q", u.PowerState)
	}
	if n, _ := st.Node(ctx, newFakeNode.UUID); n.PowerState != node.PowerNone {
		t.Errorf("enroll node was synced: %q", n.PowerState)
	}
	if b, _ := st.Node(ctx, busy.UUID); b.Maintenance {
		t.Error("a node in wait call-back was synced")
	}
	b, _ := st.Node(ctx, broken.UUID)
	if !b.Maintenance || b.Fault == nil || *b.Fault != node.FaultPowerFailure || b.LastError == nil {
		t.Fatalf("broken node: maintenance %v fault %v; want maintenance with fault %q and last_error",
			b.Maintenance, b.Fault, node.FaultPowerFailure)
	}
	events, _ := st.NodeEvents(ctx, broken.UUID)
	if len(events) == 0 || !strings.Contains(events[len(events)-1].Event, "failed BMC reads") {
		t.Errorf("no history entry for the maintenance: %+v", events)
	}

	// The BMC answers again: the next pass clears the maintenance.
	b.DriverInfo = json.RawMessage(`{}`)
	if _, err := st.UpdateNode(ctx, b); err != nil {
		t.Fatal(err)
	}
	if res := runPass(t, reg, st, settings); res.Recovered != 1 {
		t.Fatalf("recovery pass: %+v; want 1 recovered", res)
	}
	if b, _ = st.Node(ctx, broken.UUID); b.Maintenance || b.Fault != nil || b.LastError != nil {
		t.Errorf("after recovery: maintenance %v fault %v last_error %v", b.Maintenance, b.Fault, b.LastError)
	}

	// Force mode puts the recorded state back on the hardware, through a
	// set-power workflow on the node's lock.
	setHardware(t, reg, steady.UUID, drivers.PowerOn)
	settings.Force = true
	if res := runPass(t, reg, st, settings); res.Forced != 1 || res.Mismatched != 1 {
		t.Fatalf("force pass: %+v; want 1 mismatched, 1 forced", res)
	}
	if got := hardware(t, reg, steady.UUID); got != drivers.PowerOff {
		t.Errorf("forced node's hardware is %q, want power off", got)
	}
	if s, _ := st.Node(ctx, steady.UUID); s.PowerState != node.PowerOff || s.TargetPowerState != node.PowerNone {
		t.Errorf("forced node records %q (target %q)", s.PowerState, s.TargetPowerState)
	}

	// A node that must keep its power (disable_power_off) is not forced
	// off: the pass records what it found on, and starts no correction.
	s, _ := st.Node(ctx, steady.UUID)
	s.DisablePowerOff = true
	if _, err := st.UpdateNode(ctx, s); err != nil {
		t.Fatal(err)
	}
	setHardware(t, reg, steady.UUID, drivers.PowerOn)
	if res := runPass(t, reg, st, settings); res.Forced != 0 || res.Mismatched != 1 {
		t.Fatalf("force pass over a node kept on: %+v; want 1 mismatched, none forced", res)
	}
	if s, _ := st.Node(ctx, steady.UUID); s.PowerState != node.PowerOn || hardware(t, reg, steady.UUID) != drivers.PowerOn {
		t.Errorf("node kept on records %q, hardware %q; want power on both", s.PowerState, hardware(t, reg, steady.UUID))
	}
}

// TestPowerSyncLosesToOperations: a write the pass decided loses when the
// node changed since the read, and a forced correction does nothing when the
// recorded state changed before it took the lock.
func TestPowerSyncLosesToOperations(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	reg := drivers.NewRegistry()
	fake.New().Register(reg)
	n := createFakeNode(t, st, "n", node.Active, node.PowerOff, `{}`)
	setHardware(t, reg, n.UUID, drivers.PowerOn)

	// A user operation began after the read: the write loses.
	ps := &activities.PowerSync{Drivers: reg, Nodes: st}
	page, err := ps.ReadPowerStates(ctx, activities.PowerReadInput{Limit: 10})
	if err != nil || len(page.Observations) != 1 {
		t.Fatalf("read: %+v, %v", page, err)
	}
	target := node.PowerOn
	if _, err := st.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, Target: &target}); err != nil {
		t.Fatal(err)
	}
	on := node.PowerOn
	rec, err := ps.RecordPowerSync(ctx, []activities.PowerSyncWrite{{UUID: n.UUID,
		Version: page.Observations[0].Version, PowerState: &on, Event: "stale"}})
	if err != nil || rec.Lost != 1 || rec.Applied != 0 {
		t.Fatalf("record after an operation began: %+v, %v; want lost", rec, err)
	}
	if ev, _ := st.NodeEvents(ctx, n.UUID); strings.Contains(fmt.Sprint(ev), "stale") {
		t.Error("a lost write left a history entry")
	}

	// A conditional power action whose condition no longer holds does nothing.
	none := node.PowerNone
	if _, err := st.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, Target: &none}); err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{Drivers: reg, Nodes: st, PollInterval: time.Millisecond})
	workflows.Register(env)
	env.ExecuteWorkflow(contract.PowerName, contract.PowerInput{NodeUUID: n.UUID, Target: node.PowerOn,
		IfRecorded: node.PowerOn, Reason: "power sync"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := hardware(t, reg, n.UUID); got != drivers.PowerOn {
		t.Fatalf("hardware %q changed", got)
	}
	if cur, _ := st.Node(ctx, n.UUID); cur.PowerState != node.PowerOff || cur.TargetPowerState != node.PowerNone {
		t.Errorf("skipped action wrote the node: %q target %q", cur.PowerState, cur.TargetPowerState)
	}
}

// BenchmarkPowerSync10k measures one sync pass over 10,000 nodes whose BMCs
// answer in 20 ms (fake driver latency), as in the fleet goal: the whole
// workflow (pages of reads, decisions, conditional writes) in the SDK's test
// environment over PostgreSQL.
func BenchmarkPowerSync10k(b *testing.B) {
	st := storetest.New(b)
	reg := drivers.NewRegistry()
	fake.New().Register(reg)
	const nodes = 10000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			createFakeNode(b, st, fmt.Sprintf("bench-%d", i), node.Active, node.PowerOff, `{"fake_power_delay":"20ms"}`)
		}()
	}
	wg.Wait()
	for _, conc := range []int{128, 512} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			for b.Loop() {
				var ts testsuite.WorkflowTestSuite
				env := ts.NewTestWorkflowEnvironment()
				env.RegisterActivity(&activities.Activities{Drivers: reg, Nodes: st})
				env.RegisterActivity(&activities.PowerSync{Drivers: reg, Nodes: st, Concurrency: conc})
				workflows.Register(env)
				env.ExecuteWorkflow(contract.PowerSyncName)
				var res workflows.PowerSyncResult
				if err := env.GetWorkflowError(); err != nil || env.GetWorkflowResult(&res) != nil ||
					res.Checked != nodes || res.Failed != 0 {
					b.Fatalf("pass: %+v, %v", res, err)
				}
			}
		})
	}
}

// TestPowerSyncCorrectionOnGroupQueue: a forced correction runs on the task
// queue of the node's conductor group, whichever pass found it.
func TestPowerSyncCorrectionOnGroupQueue(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	reg := drivers.NewRegistry()
	fake.New().Register(reg)
	n := createFakeNode(t, st, "grouped", node.Available, node.PowerOff, `{}`)
	n.ConductorGroup = "rack7"
	if _, err := st.UpdateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	setHardware(t, reg, n.UUID, drivers.PowerOn)

	const base = "default-test-taskqueue" // the test environment's queue
	// The pass of every node (on the base queue) and rack7's own pass (on
	// rack7's queue) both correct the node on rack7's queue.
	for _, pass := range []struct {
		queue string
		in    contract.PowerSyncInput
	}{
		{base, contract.PowerSyncInput{}},
		{contract.GroupTaskQueue(base, "rack7"), contract.PowerSyncInput{Grouped: true, Group: "rack7"}},
	} {
		setHardware(t, reg, n.UUID, drivers.PowerOn)
		var ts testsuite.WorkflowTestSuite
		env := ts.NewTestWorkflowEnvironment()
		env.RegisterActivity(&activities.Activities{Drivers: reg, Nodes: st, PollInterval: time.Millisecond})
		env.RegisterActivity(&activities.PowerSync{Drivers: reg, Nodes: st, Concurrency: 4,
			Settings: activities.PowerSyncSettings{PageSize: 10, MaxFailures: 3, Force: true}})
		workflows.Register(env)
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{TaskQueue: pass.queue})
		var (
			mu     sync.Mutex
			queues []string
		)
		env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
			mu.Lock()
			defer mu.Unlock()
			queues = append(queues, info.TaskQueueName)
		})
		env.ExecuteWorkflow(contract.PowerSyncName, pass.in)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatalf("pass on %s: %v", pass.queue, err)
		}
		if want := contract.GroupTaskQueue(base, "rack7"); len(queues) != 1 || queues[0] != want {
			t.Errorf("pass on %s: corrections started on %v, want one on %q", pass.queue, queues, want)
		}
		if got := hardware(t, reg, n.UUID); got != drivers.PowerOff {
			t.Errorf("pass on %s: forced node's hardware is %q, want power off", pass.queue, got)
		}
	}
}

// TestPowerSyncGroupedPass: a conductor group's pass reads and records only
// that group's nodes (each group's workers read their own BMCs); a pass
// without input (a schedule made before) reads every node.
func TestPowerSyncGroupedPass(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	reg := drivers.NewRegistry()
	fake.New().Register(reg)
	byGroup := map[string]string{}
	for _, g := range []string{"", "rack7", "rack8"} {
		n := createFakeNode(t, st, "sync-"+g, node.Available, node.PowerOff, `{}`)
		n.ConductorGroup = g
		if _, err := st.UpdateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		setHardware(t, reg, n.UUID, drivers.PowerOn) // changed out of band
		byGroup[g] = n.UUID
	}
	settings := activities.PowerSyncSettings{PageSize: 10, MaxFailures: 3}
	res := runPass(t, reg, st, settings, contract.PowerSyncInput{Grouped: true, Group: "rack7"})
	if res.Checked != 1 || res.Recorded != 1 {
		t.Errorf("rack7's pass: %+v, want one node checked and recorded", res)
	}
	for g, uuid := range byGroup {
		want := node.PowerOff
		if g == "rack7" {
			want = node.PowerOn
		}
		if got := mustNode(t, st, uuid); got.PowerState != want {
			t.Errorf("group %q node: power %q after rack7's pass, want %q", g, got.PowerState, want)
		}
	}
	if res := runPass(t, reg, st, settings, contract.PowerSyncInput{Grouped: true}); res.Checked != 1 {
		t.Errorf("the empty group's pass checked %d nodes, want 1", res.Checked)
	}
	if res := runPass(t, reg, st, settings); res.Checked != 3 {
		t.Errorf("an ungrouped pass checked %d nodes, want 3", res.Checked)
	}
}
