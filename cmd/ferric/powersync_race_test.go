package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestPowerSyncRacesUserOperations runs power sync passes back to back while
// users power 100 nodes off through the API, with slow BMCs to widen every
// window. Nothing changes a node's power out of band, so a correct sync never
// finds a real mismatch: any "out of band" record is a stale read written
// over a user's operation, and any "power on" command (users only power off)
// is a forced correction issued against a user's operation. Forced
// corrections run as set-power workflows on the node lock, conditional on
// the recorded state they saw.
func TestPowerSyncRacesUserOperations(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force=%v", force), func(t *testing.T) {
			t.Parallel()
			hw := fake.New()
			s := startStack(t, "all", func(c *config) {
				c.hardware = hw
				c.syncEvery = 0 // the test runs the passes
				c.reconcileEvery = 0
				c.syncForce = force
			})
			ctx := context.Background()
			const count = 100
			uuids := make([]string, count)
			for i := range count {
				name := fmt.Sprintf("race-%d", i)
				n, err := s.st.CreateNode(ctx, store.Node{Name: &name, Driver: fake.TypeName,
					DriverInfo: []byte(`{"fake_power_delay":"5ms","fake_read_delay":"100ms"}`),
					Interfaces: store.Interfaces{Power: "fake", Management: "fake", Deploy: "fake", Vendor: "fake",
						Boot: "fake", Bios: "fake", Console: "fake", Inspect: "fake", Network: "noop", RAID: "fake",
						Rescue: "fake", Storage: "fake", Firmware: "fake"}})
				if err != nil {
					t.Fatal(err)
				}
				on := node.PowerOn
				if _, err := s.st.Transition(ctx, store.TransitionRequest{UUID: n.UUID,
					From: []node.ProvisionState{node.Enroll}, To: node.Active}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.st.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, PowerState: &on}); err != nil {
					t.Fatal(err)
				}
				uuids[i] = n.UUID
			}
			// The hardware starts as recorded: on.
			for _, u := range uuids {
				p, err := newFakePower(hw, u)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.SetPowerState(ctx, drivers.PowerOn); err != nil {
					t.Fatal(err)
				}
			}
			onBefore := hw.Count("power", string(drivers.PowerOn))

			tc := s.temporal.GetDefaultClient()
			passCtx, stopPasses := context.WithCancel(ctx)
			passes := make(chan int, 1)
			go func() {
				n := 0
				defer func() { passes <- n }()
				for passCtx.Err() == nil {
					run, err := tc.ExecuteWorkflow(passCtx, client.StartWorkflowOptions{
						ID: fmt.Sprintf("pass-%d", n), TaskQueue: "ferric-test"}, contract.PowerSyncName)
					if err != nil {
						return
					}
					_ = run.Get(passCtx, nil)
					n++
				}
			}()

			// 100 user operations, 16 at a time; a 409 (the sync's correction
			// holds the lock) is retried as a client would.
			sem := make(chan struct{}, 16)
			var wg sync.WaitGroup
			for _, u := range uuids {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					for {
						err := nodes.ChangePowerState(ctx, s.client, u, nodes.PowerStateOpts{Target: nodes.PowerOff}).ExtractErr()
						if err == nil {
							break
						}
						if statusOf(err) != 409 {
							t.Errorf("power off %s: %v", u, err)
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}()
			}
			wg.Wait()
			for _, u := range uuids {
				s.waitFor(t, u, 30*time.Second, func(n *nodes.Node) bool {
					return n.PowerState == string(node.PowerOff) && n.TargetPowerState == ""
				})
			}
			time.Sleep(500 * time.Millisecond) // a few more passes over the settled fleet
			stopPasses()
			t.Logf("%d passes ran", <-passes)
			for _, u := range uuids { // corrections the last passes started
				s.settle(t, u)
			}

			if on := hw.Count("power", string(drivers.PowerOn)) - onBefore; on != 0 {
				t.Errorf("%d power on commands reached the hardware: the sync corrected nodes under users' operations", on)
			}
			for _, u := range uuids {
				n, err := s.st.Node(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := hw.PowerStateOf(u); got != drivers.PowerOff || n.PowerState != node.PowerOff {
					t.Errorf("node %s: hardware %q, recorded %q; want power off (the user's)", u, got, n.PowerState)
				}
				events, err := s.st.NodeEvents(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events {
					if strings.Contains(e.Event, "out of band") || strings.Contains(e.Event, "forced back") {
						t.Errorf("node %s: the sync recorded %q over a user's operation", u, e.Event)
					}
				}
			}
		})
	}
}

// newFakePower returns the fake power interface of a node in hw.
func newFakePower(hw *fake.Hardware, uuid string) (drivers.Power, error) {
	r := drivers.NewRegistry()
	hw.Register(r)
	return r.Power("fake", drivers.Node{UUID: uuid, DriverInfo: []byte(`{}`)})
}
