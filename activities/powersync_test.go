package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func newFakeNode(t testing.TB, st *store.Store, name string, state node.ProvisionState, power node.PowerState, driverInfo string) store.Node {
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

func TestPowerSync(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	reg := drivers.NewRegistry()
	fake.New().Register(reg)

	drifted := newFakeNode(t, st, "drifted", node.Active, node.PowerOff, `{}`)
	setHardware(t, reg, drifted.UUID, drivers.PowerOn) // someone pressed the power button
	steady := newFakeNode(t, st, "steady", node.Available, node.PowerOff, `{}`)
	broken := newFakeNode(t, st, "broken", node.Active, node.PowerOn, `{"fake_fail":["power"]}`)
	busy := newFakeNode(t, st, "busy", node.DeployWait, node.PowerOn, `{"fake_fail":["power"]}`)
	newFakeNode(t, st, "new", node.Enroll, "", `{}`)

	ps := &activities.PowerSync{Drivers: reg, Nodes: st, Concurrency: 4}
	var res activities.PowerSyncResult
	for pass := 1; pass <= 3; pass++ {
		var err error
		if res, err = ps.SyncPowerStates(ctx); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if res.Checked != 3 || res.Failed != 1 || res.Errors != 0 {
			t.Fatalf("pass %d: %+v; want 3 checked (drifted, steady, broken), 1 failed, no errors", pass, res)
		}
		b, _ := st.Node(ctx, broken.UUID)
		if pass < 3 && b.Maintenance {
			t.Fatalf("maintenance after %d failures, want after 3", pass)
		}
	}
	if res.MaintenanceSet != 1 {
		t.Errorf("third pass set maintenance on %d nodes, want 1", res.MaintenanceSet)
	}

	d, _ := st.Node(ctx, drifted.UUID)
	if d.PowerState != node.PowerOn {
		t.Errorf("drifted node records %q, want the hardware's power on", d.PowerState)
	}
	if s, _ := st.Node(ctx, steady.UUID); s.PowerState != node.PowerOff {
		t.Errorf("steady node changed to %q", s.PowerState)
	}
	if b, _ := st.Node(ctx, busy.UUID); b.Maintenance {
		t.Error("a node in wait call-back was synced")
	}
	b, _ := st.Node(ctx, broken.UUID)
	if !b.Maintenance || b.Fault == nil || *b.Fault != node.FaultPowerFailure {
		t.Fatalf("broken node: maintenance %v fault %v; want maintenance with fault %q", b.Maintenance, b.Fault, node.FaultPowerFailure)
	}
	events, _ := st.NodeEvents(ctx, broken.UUID)
	if len(events) == 0 || !strings.Contains(events[len(events)-1].Event, "failed BMC reads") {
		t.Errorf("no history entry for the maintenance: %+v", events)
	}

	// The BMC answers again: the recovery pass clears the maintenance.
	b.DriverInfo = json.RawMessage(`{}`)
	if _, err := st.UpdateNode(ctx, b); err != nil {
		t.Fatal(err)
	}
	res, err := ps.SyncPowerStates(ctx)
	if err != nil || res.Recovered != 1 {
		t.Fatalf("recovery pass: %+v, %v; want 1 recovered", res, err)
	}
	if b, _ = st.Node(ctx, broken.UUID); b.Maintenance || b.Fault != nil {
		t.Errorf("after recovery: maintenance %v fault %v", b.Maintenance, b.Fault)
	}

	// Force mode puts the recorded state back on the hardware.
	setHardware(t, reg, steady.UUID, drivers.PowerOn)
	force := &activities.PowerSync{Drivers: reg, Nodes: st, Force: true}
	if res, err = force.SyncPowerStates(ctx); err != nil || res.Forced != 1 {
		t.Fatalf("force pass: %+v, %v; want 1 forced", res, err)
	}
	p, _ := reg.Power("fake", drivers.Node{UUID: steady.UUID})
	if got, _ := p.PowerState(ctx); got != drivers.PowerOff {
		t.Errorf("forced node's hardware is %q, want power off", got)
	}
}

// BenchmarkPowerSync10k measures one sync pass over 10,000 nodes whose BMCs
// answer in 20 ms (fake driver latency), as in the fleet goal.
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
			newFakeNode(b, st, fmt.Sprintf("bench-%d", i), node.Active, node.PowerOff, `{"fake_power_delay":"20ms"}`)
		}()
	}
	wg.Wait()
	for _, conc := range []int{128, 512} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			ps := &activities.PowerSync{Drivers: reg, Nodes: st, Concurrency: conc}
			for b.Loop() {
				res, err := ps.SyncPowerStates(context.Background())
				if err != nil || res.Checked != nodes || res.Failed != 0 {
					b.Fatalf("pass: %+v, %v", res, err)
				}
			}
		})
	}
}
