package workflows

import (
	"testing"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/node"
)

// TestDecideSync pins the power sync's policy, one observation at a time.
func TestDecideSync(t *testing.T) {
	s := activities.PowerSyncSettings{MaxFailures: 3}
	force := activities.PowerSyncSettings{MaxFailures: 3, Force: true}
	on, off := node.PowerOn, node.PowerOff
	tests := []struct {
		name     string
		o        activities.PowerObservation
		settings activities.PowerSyncSettings
		check    func(t *testing.T, d syncDecision)
	}{
		{"first failure counts", activities.PowerObservation{Recorded: on, Error: "timeout"}, s,
			func(t *testing.T, d syncDecision) {
				if d.write == nil || *d.write.Failures != 1 || d.write.SetMaintenance || !d.failed {
					t.Errorf("%+v", d.write)
				}
			}},
		{"third failure sets maintenance", activities.PowerObservation{Recorded: on, Error: "timeout", Failures: 2}, s,
			func(t *testing.T, d syncDecision) {
				w := d.write
				if w == nil || !w.SetMaintenance || w.Fault != node.FaultPowerFailure || !w.Error || w.Event == "" ||
					!d.maintenance {
					t.Errorf("%+v", w)
				}
			}},
		{"failure while in maintenance only counts", activities.PowerObservation{Recorded: on, Error: "x",
			Failures: 5, Maintenance: true, Fault: node.FaultPowerFailure}, s,
			func(t *testing.T, d syncDecision) {
				if d.write == nil || d.write.SetMaintenance || *d.write.Failures != 6 || d.maintenance {
					t.Errorf("%+v", d.write)
				}
			}},
		{"recovery clears maintenance and count", activities.PowerObservation{Recorded: on, Observed: on,
			Failures: 3, Maintenance: true, Fault: node.FaultPowerFailure}, s,
			func(t *testing.T, d syncDecision) {
				w := d.write
				if w == nil || !w.ClearMaintenance || *w.Failures != 0 || w.PowerState != nil || !d.recovered {
					t.Errorf("%+v", w)
				}
			}},
		{"out-of-band change recorded", activities.PowerObservation{Recorded: off, Observed: on}, s,
			func(t *testing.T, d syncDecision) {
				w := d.write
				if w == nil || *w.PowerState != on || w.EventType != "power" || d.force != nil || !d.mismatched {
					t.Errorf("%+v %+v", w, d.force)
				}
			}},
		{"out-of-band change forced back", activities.PowerObservation{UUID: "u", Recorded: off, Observed: on}, force,
			func(t *testing.T, d syncDecision) {
				if d.write != nil || d.force == nil || d.force.Target != off || d.force.IfRecorded != off ||
					d.force.NodeUUID != "u" {
					t.Errorf("%+v %+v", d.write, d.force)
				}
			}},
		{"first reading recorded silently, even with force", activities.PowerObservation{Observed: on}, force,
			func(t *testing.T, d syncDecision) {
				if d.write == nil || *d.write.PowerState != on || d.write.Event != "" || d.force != nil || d.mismatched {
					t.Errorf("%+v", d.write)
				}
			}},
		{"match with nothing on record: no write", activities.PowerObservation{Recorded: on, Observed: on}, s,
			func(t *testing.T, d syncDecision) {
				if d.write != nil || d.force != nil {
					t.Errorf("%+v %+v", d.write, d.force)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Version = 7
			d := decideSync(tt.o, tt.settings)
			if d.write != nil && d.write.Version != 7 {
				t.Errorf("write at version %d, want the read's 7", d.write.Version)
			}
			tt.check(t, d)
		})
	}
}
