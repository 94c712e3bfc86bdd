package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// PowerSyncStore is what the power sync needs of the store; *store.Store
// satisfies it.
type PowerSyncStore interface {
	ListNodes(ctx context.Context, q store.ListNodes) ([]store.Node, error)
	SetPower(ctx context.Context, u store.PowerUpdate) (store.Node, error)
	UpdateNode(ctx context.Context, n store.Node) (store.Node, error)
	AddEvent(ctx context.Context, e store.Event) error
}

// PowerDrivers builds power interfaces; *drivers.Registry satisfies it.
type PowerDrivers interface {
	Power(name string, n drivers.Node) (drivers.Power, error)
}

// PowerSync is Ironic's periodic power state sync (conductor
// _sync_power_states) as one activity: it reads the power state of every
// eligible node with bounded concurrency, records out-of-band changes (or
// forces the recorded state back), counts consecutive failed reads and puts a
// node in maintenance with fault "power failure" after MaxFailures of them;
// a later pass that reaches the BMC again clears that maintenance.
//
// Per-BMC pacing is the driver's business (the IPMI driver serializes and
// spaces commands to one BMC); this type only bounds total concurrency.
type PowerSync struct {
	Drivers PowerDrivers
	Nodes   PowerSyncStore
	// Concurrency bounds BMC reads in flight (default 128).
	Concurrency int
	// MaxFailures is how many failed reads in a row put a node in
	// maintenance (default 3, Ironic's power_state_sync_max_retries).
	MaxFailures int
	// Force sets the hardware to the recorded state on mismatch instead of
	// recording the hardware's state (Ironic's force_power_state_during_sync).
	Force bool
	// ReadTimeout bounds one BMC read (default 30 s).
	ReadTimeout time.Duration
}

// PowerSyncResult counts what one pass did.
type PowerSyncResult struct {
	Nodes          int   `json:"nodes"`   // nodes in the database
	Checked        int   `json:"checked"` // nodes whose BMC was read
	Mismatched     int   `json:"mismatched"`
	Forced         int   `json:"forced"`
	Failed         int   `json:"failed"`
	MaintenanceSet int   `json:"maintenance_set"`
	Recovered      int   `json:"recovered"`
	Errors         int   `json:"errors"` // database writes that failed
	DurationMillis int64 `json:"duration_ms"`
}

// failuresKey is the driver_internal_info key counting failed sync reads.
const failuresKey = "power_sync_failures"

// syncExcluded are provision states the sync leaves alone (as Ironic: nodes
// being set up, or waiting on a ramdisk that owns the power).
func syncExcluded(s node.ProvisionState) bool {
	switch s {
	case node.Enroll, node.Verifying, node.DeployWait, node.CleanWait, node.InspectWait, node.RescueWait,
		node.Deploying, node.Cleaning, node.Deleting, node.Inspecting, node.Adopting, node.Rescuing:
		return true
	}
	return false
}

// eligible says whether a pass reads n's BMC.
func eligible(n *store.Node) bool {
	if syncExcluded(n.ProvisionState) || n.TargetPowerState != "" || n.TargetProvisionState != "" {
		return false
	}
	if n.Maintenance {
		return n.Fault != nil && *n.Fault == node.FaultPowerFailure // recovery pass
	}
	return true
}

// SyncPowerStates runs one sync pass over every node.
func (p *PowerSync) SyncPowerStates(ctx context.Context) (PowerSyncResult, error) {
	start := time.Now()
	all, err := p.Nodes.ListNodes(ctx, store.ListNodes{})
	if err != nil {
		return PowerSyncResult{}, fmt.Errorf("list nodes for power sync: %w", err)
	}
	res := PowerSyncResult{Nodes: len(all)}
	conc := p.Concurrency
	if conc <= 0 {
		conc = 128
	}
	work := make(chan *store.Node)
	outcomes := make(chan outcome, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				outcomes <- p.syncOne(ctx, n)
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range all {
			if !eligible(&all[i]) {
				continue
			}
			select {
			case work <- &all[i]:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(outcomes) }()

	beat := time.NewTicker(time.Second)
	defer beat.Stop()
	for {
		select {
		case o, ok := <-outcomes:
			if !ok {
				res.DurationMillis = time.Since(start).Milliseconds()
				return res, ctx.Err()
			}
			res.add(o)
		case <-beat.C:
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, res)
			}
		}
	}
}

type outcome struct {
	checked, mismatched, forced, failed, maintenance, recovered, writeErr bool
}

func (r *PowerSyncResult) add(o outcome) {
	for _, c := range []struct {
		on  bool
		ctr *int
	}{{o.checked, &r.Checked}, {o.mismatched, &r.Mismatched}, {o.forced, &r.Forced}, {o.failed, &r.Failed},
		{o.maintenance, &r.MaintenanceSet}, {o.recovered, &r.Recovered}, {o.writeErr, &r.Errors}} {
		if c.on {
			*c.ctr++
		}
	}
}

// syncOne reads one node's BMC and records what it found.
func (p *PowerSync) syncOne(ctx context.Context, n *store.Node) outcome {
	o := outcome{checked: true}
	pw, err := p.Drivers.Power(n.Interfaces.Power, drivers.Node{UUID: n.UUID, DriverInfo: n.DriverInfo,
		InstanceInfo: n.InstanceInfo, Properties: n.Properties, PowerState: drivers.PowerState(n.PowerState)})
	var got drivers.PowerState
	if err == nil {
		timeout := p.ReadTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		got, err = pw.PowerState(rctx)
		cancel()
	}
	failures := syncFailures(n.DriverInternalInfo)
	if err != nil {
		o.failed = true
		o.maintenance, o.writeErr = p.recordFailure(ctx, n, failures+1, err)
		return o
	}
	if n.Maintenance || failures > 0 {
		o.recovered = n.Maintenance
		if p.clearFailures(ctx, n) != nil {
			o.writeErr = true
		}
	}
	actual := node.PowerState(got)
	if actual == n.PowerState {
		return o
	}
	if n.PowerState == node.PowerNone {
		if _, err := p.Nodes.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, PowerState: &actual}); err != nil {
			o.writeErr = true
		}
		return o
	}
	o.mismatched = true
	if p.Force {
		o.forced = true
		if err := pw.SetPowerState(ctx, drivers.PowerState(n.PowerState)); err != nil {
			msg := fmt.Sprintf("power sync: failed to force power state %q back (hardware is %q): %v", n.PowerState, actual, err)
			o.writeErr = p.Nodes.AddEvent(ctx, store.Event{NodeUUID: n.UUID, Severity: "ERROR", EventType: "power", Event: msg}) != nil
			return o
		}
		msg := fmt.Sprintf("power sync: hardware was %q, forced back to recorded %q", actual, n.PowerState)
		o.writeErr = p.Nodes.AddEvent(ctx, store.Event{NodeUUID: n.UUID, Severity: "INFO", EventType: "power", Event: msg}) != nil
		return o
	}
	msg := fmt.Sprintf("power sync: power state changed out of band from %q to %q", n.PowerState, actual)
	if _, err := p.Nodes.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, PowerState: &actual, Event: msg}); err != nil {
		o.writeErr = true
	}
	return o
}

func syncFailures(internal json.RawMessage) int {
	var v map[string]any
	if json.Unmarshal(internal, &v) != nil {
		return 0
	}
	f, _ := v[failuresKey].(float64)
	return int(f)
}

func withFailures(internal json.RawMessage, count int) json.RawMessage {
	v := map[string]any{}
	_ = json.Unmarshal(internal, &v)
	if count == 0 {
		delete(v, failuresKey)
	} else {
		v[failuresKey] = count
	}
	out, _ := json.Marshal(v)
	return out
}

// recordFailure counts a failed read, and at MaxFailures puts the node in
// maintenance with fault "power failure" and a history entry.
func (p *PowerSync) recordFailure(ctx context.Context, n *store.Node, count int, cause error) (maintenance, writeErr bool) {
	limit := p.MaxFailures
	if limit <= 0 {
		limit = 3
	}
	upd := *n
	upd.DriverInternalInfo = withFailures(n.DriverInternalInfo, count)
	if count >= limit && !n.Maintenance {
		fault := node.FaultPowerFailure
		reason := fmt.Sprintf("power sync: %d failed BMC reads in a row, last: %v", count, cause)
		upd.Maintenance, upd.Fault, upd.MaintenanceReason = true, &fault, &reason
		upd.LastError = &reason
		maintenance = true
	}
	if _, err := p.Nodes.UpdateNode(ctx, upd); err != nil {
		return false, true // a concurrent write (e.g. an operation started): the next pass counts again
	}
	if maintenance {
		writeErr = p.Nodes.AddEvent(ctx, store.Event{NodeUUID: n.UUID, Severity: "ERROR", EventType: "maintenance",
			Event: *upd.MaintenanceReason}) != nil
	}
	return maintenance, writeErr
}

// clearFailures resets the failure count and, for a node the sync put in
// maintenance, clears that maintenance.
func (p *PowerSync) clearFailures(ctx context.Context, n *store.Node) error {
	upd := *n
	upd.DriverInternalInfo = withFailures(n.DriverInternalInfo, 0)
	if n.Maintenance {
		upd.Maintenance, upd.Fault, upd.MaintenanceReason, upd.LastError = false, nil, nil, nil
	}
	if _, err := p.Nodes.UpdateNode(ctx, upd); err != nil {
		return err
	}
	if n.Maintenance {
		return p.Nodes.AddEvent(ctx, store.Event{NodeUUID: n.UUID, Severity: "INFO", EventType: "maintenance",
			Event: "power sync: BMC answers again; maintenance for power failure cleared"})
	}
	return nil
}
