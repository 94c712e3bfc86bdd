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
	NodesForPowerSync(ctx context.Context, q store.PowerSyncQuery) ([]store.Node, error)
	ApplyPowerSync(ctx context.Context, u store.PowerSyncUpdate) (bool, error)
}

// PowerDrivers builds power interfaces; *drivers.Registry satisfies it.
type PowerDrivers interface {
	Power(name string, n drivers.Node) (drivers.Power, error)
}

// PowerSync holds the activities of Ironic's periodic power state sync
// (conductor _sync_power_states). They read BMCs and write what the
// power-sync workflow decided; they decide nothing themselves: the workflow
// compares, counts failures, puts nodes in maintenance and starts forced
// corrections as power workflows on the node lock.
//
// Per-BMC pacing is the driver's business (the IPMI driver serializes and
// spaces commands to one BMC); this type only bounds total concurrency.
type PowerSync struct {
	Drivers PowerDrivers
	Nodes   PowerSyncStore
	// Concurrency bounds BMC reads and database writes in flight (default 128).
	Concurrency int
	// ReadTimeout bounds one BMC read (default 30 s).
	ReadTimeout time.Duration
	// Settings is what PowerSyncSettings hands the workflow.
	Settings PowerSyncSettings
	// DriverCalls is told of every BMC read (nil: nobody).
	DriverCalls DriverCallObserver
}

// PowerSyncSettings configure the decisions of a pass.
type PowerSyncSettings struct {
	// PageSize is how many nodes one read activity covers (default 500).
	PageSize int `json:"page_size"`
	// MaxFailures is how many failed reads in a row put a node in
	// maintenance (default 3, Ironic's power_state_sync_max_retries).
	MaxFailures int `json:"max_failures"`
	// Force sets the hardware back to the recorded state on a mismatch
	// instead of recording the hardware's state (Ironic's
	// force_power_state_during_sync).
	Force bool `json:"force"`
}

// Defaults of the power sync.
const (
	DefaultPowerSyncPageSize    = 500
	DefaultPowerSyncMaxFailures = 3
	defaultPowerSyncConcurrency = 128
	defaultPowerSyncReadTimeout = 30 * time.Second
)

// PowerSyncSettings returns this worker's sync settings, defaults filled
// (a local activity: the workflow records them once per pass).
func (p *PowerSync) PowerSyncSettings(context.Context) (PowerSyncSettings, error) {
	s := p.Settings
	if s.PageSize <= 0 {
		s.PageSize = DefaultPowerSyncPageSize
	}
	if s.MaxFailures <= 0 {
		s.MaxFailures = DefaultPowerSyncMaxFailures
	}
	return s, nil
}

// PowerReadInput selects one page of nodes to read.
type PowerReadInput struct {
	AfterID int64 `json:"after_id"`
	Limit   int   `json:"limit"`
	// Group, when not nil, reads the nodes of that conductor group only.
	Group *string `json:"group,omitempty"`
}

// PowerObservation is what a read found on a node that needs a decision:
// the BMC reported a state other than the recorded one, the read failed, or
// an earlier failure is on record.
type PowerObservation struct {
	UUID     string          `json:"uuid"`
	Version  int64           `json:"version"`
	Recorded node.PowerState `json:"recorded,omitempty"`
	Observed node.PowerState `json:"observed,omitempty"` // "" when the read failed
	Error    string          `json:"error,omitempty"`    // the failed read
	// Failures is the count of consecutive failed reads on record.
	Failures int `json:"failures,omitempty"`
	// Maintenance and Fault are the node's maintenance flag and fault.
	Maintenance bool   `json:"maintenance,omitempty"`
	Fault       string `json:"fault,omitempty"`
	// ConductorGroup is the node's group: a correction runs on its queue.
	ConductorGroup string `json:"conductor_group,omitempty"`
	// DisablePowerOff: the node is never powered off (API 1.95), so no
	// correction forces it off.
	DisablePowerOff bool `json:"disable_power_off,omitempty"`
}

// PowerReadPage is one page of reads.
type PowerReadPage struct {
	// LastID is the internal id of the page's last node (the next page
	// starts after it); More is false on the last page.
	LastID int64 `json:"last_id"`
	More   bool  `json:"more"`
	// Checked counts the BMCs read.
	Checked int `json:"checked"`
	// Observations are the nodes that need a decision; matching reads with
	// nothing on record are left out.
	Observations []PowerObservation `json:"observations,omitempty"`
}

// ReadPowerStates reads the BMC of every node of one page (nodes the sync may
// read: see store.PowerSyncQuery) with bounded concurrency, heartbeating.
func (p *PowerSync) ReadPowerStates(ctx context.Context, in PowerReadInput) (PowerReadPage, error) {
	nodes, err := p.Nodes.NodesForPowerSync(ctx, store.PowerSyncQuery{AfterID: in.AfterID, Limit: in.Limit,
		ExcludeStates: node.SyncExcludedStates(), MaintenanceFault: node.FaultPowerFailure,
		ConductorGroup: in.Group})
	if err != nil {
		return PowerReadPage{}, classify(fmt.Errorf("list nodes for power sync: %w", err))
	}
	page := PowerReadPage{Checked: len(nodes), More: len(nodes) == in.Limit}
	if len(nodes) > 0 {
		page.LastID = nodes[len(nodes)-1].ID
	}
	obs := make([]*PowerObservation, len(nodes))
	p.each(ctx, len(nodes), func(i int) { obs[i] = p.readOne(ctx, &nodes[i]) })
	if err := ctx.Err(); err != nil {
		return PowerReadPage{}, err
	}
	for _, o := range obs {
		if o != nil {
			page.Observations = append(page.Observations, *o)
		}
	}
	return page, nil
}

// readOne reads one BMC; nil when the node needs no decision.
func (p *PowerSync) readOne(ctx context.Context, n *store.Node) *PowerObservation {
	o := &PowerObservation{UUID: n.UUID, Version: n.Version, Recorded: n.PowerState, ConductorGroup: n.ConductorGroup,
		Failures: syncFailures(n.DriverInternalInfo), Maintenance: n.Maintenance, DisablePowerOff: n.DisablePowerOff}
	if n.Fault != nil {
		o.Fault = *n.Fault
	}
	pw, err := p.Drivers.Power(n.Interfaces.Power, n.DriverNode())
	if err == nil {
		timeout := p.ReadTimeout
		if timeout <= 0 {
			timeout = defaultPowerSyncReadTimeout
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		var got drivers.PowerState
		done := timeCall(ctx, p.DriverCalls, n.Driver, "power.get_power_state")
		got, err = pw.PowerState(rctx)
		done(err)
		cancel()
		o.Observed = node.PowerState(got)
	}
	if err != nil {
		o.Observed, o.Error = "", err.Error()
		return o
	}
	if o.Observed == o.Recorded && o.Failures == 0 && !o.Maintenance {
		return nil
	}
	return o
}

// PowerSyncRecorded counts what RecordPowerSync wrote.
type PowerSyncRecorded struct {
	Applied int `json:"applied"`
	// Lost counts updates that lost to a concurrent operation or write.
	Lost int `json:"lost"`
}

// PowerSyncWrite is one write the workflow decided (see
// store.PowerSyncUpdate): it applies only if the node is still at Version
// with no operation targeting it.
type PowerSyncWrite struct {
	UUID             string           `json:"uuid"`
	Version          int64            `json:"version"`
	PowerState       *node.PowerState `json:"power_state,omitempty"`
	Failures         *int             `json:"failures,omitempty"`
	SetMaintenance   bool             `json:"set_maintenance,omitempty"`
	Fault            string           `json:"fault,omitempty"`
	Reason           string           `json:"reason,omitempty"`
	ClearMaintenance bool             `json:"clear_maintenance,omitempty"`
	Event            string           `json:"event,omitempty"`
	EventType        string           `json:"event_type,omitempty"`
	Error            bool             `json:"error,omitempty"`
}

// RecordPowerSync applies the workflow's writes, each conditional on the
// node version the read saw and on no operation targeting the node.
func (p *PowerSync) RecordPowerSync(ctx context.Context, writes []PowerSyncWrite) (PowerSyncRecorded, error) {
	var (
		mu   sync.Mutex
		res  PowerSyncRecorded
		errs []error
	)
	p.each(ctx, len(writes), func(i int) {
		w := &writes[i]
		ok, err := p.Nodes.ApplyPowerSync(ctx, store.PowerSyncUpdate{UUID: w.UUID, Version: w.Version,
			PowerState: w.PowerState, Failures: w.Failures, SetMaintenance: w.SetMaintenance, Fault: w.Fault,
			Reason: w.Reason, ClearMaintenance: w.ClearMaintenance, Event: w.Event, EventType: w.EventType,
			Error: w.Error})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			res.Applied++
		default:
			res.Lost++
		}
	})
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if len(errs) > 0 {
		// Nothing partial to undo: every applied update stands on its own,
		// and a retry finds those nodes at a new version and skips them.
		return res, classify(fmt.Errorf("record power sync (%d of %d failed): %w", len(errs), len(writes), errs[0]))
	}
	return res, nil
}

// each runs fn(0..n-1) with bounded concurrency, heartbeating every second.
func (p *PowerSync) each(ctx context.Context, n int, fn func(i int)) {
	conc := p.Concurrency
	if conc <= 0 {
		conc = defaultPowerSyncConcurrency
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				fn(i)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	beat := time.NewTicker(time.Second)
	defer beat.Stop()
	i := 0
	for i < n {
		select {
		case work <- i:
			i++
		case <-beat.C:
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, i)
			}
		case <-ctx.Done():
			n = i // stop feeding
		}
	}
	close(work)
	for {
		select {
		case <-done:
			return
		case <-beat.C:
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, n)
			}
		}
	}
}

// syncFailures reads the failure count from driver_internal_info.
func syncFailures(internal json.RawMessage) int {
	var v map[string]any
	if json.Unmarshal(internal, &v) != nil {
		return 0
	}
	f, _ := v[store.PowerSyncFailuresKey].(float64)
	return int(f)
}
