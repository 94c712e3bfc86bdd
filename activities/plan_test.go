package activities_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/ferric-project/ferric/activities"
)

func TestPlan(t *testing.T) {
	ref := func(iface, name string, prio int) activities.StepRef {
		return activities.StepRef{Interface: iface, Name: name, Priority: prio, UserIndex: -1}
	}
	// A direct deploy's catalog with BIOS and RAID interfaces.
	catalog := []activities.StepRef{
		{Interface: "deploy", Name: "deploy", Priority: 100, Core: true, UserIndex: -1},
		{Interface: "deploy", Name: "write_image", Priority: 80, InBand: true, UserIndex: -1},
		{Interface: "deploy", Name: "erase_devices_metadata", InBand: true, UserIndex: -1},
		ref("bios", "apply_configuration", 0),
		{Interface: "raid", Name: "apply_configuration", InBand: true, UserIndex: -1},
	}
	ids := func(plan []activities.StepRef) []string {
		var out []string
		for _, s := range plan {
			out = append(out, s.ID())
		}
		return out
	}
	tests := []struct {
		name            string
		user, templates []activities.StepRef
		runsSteps       bool
		want            []string
	}{
		{"defaults", nil, nil, false, []string{"deploy.deploy", "deploy.write_image"}},
		{"templates add steps; equal priorities by interface (bios before raid)", nil,
			[]activities.StepRef{ref("raid", "apply_configuration", 80), ref("bios", "apply_configuration", 80)}, false,
			[]string{"deploy.deploy", "deploy.write_image", "bios.apply_configuration", "raid.apply_configuration"}},
		{"the request's step wins over a template's", []activities.StepRef{ref("bios", "apply_configuration", 0)},
			[]activities.StepRef{ref("bios", "apply_configuration", 150)}, false,
			[]string{"deploy.deploy", "deploy.write_image"}},
		{"a template disables a default step", nil, []activities.StepRef{ref("deploy", "write_image", 0)}, false,
			[]string{"deploy.deploy"}},
		{"out-of-band before the core step", nil, []activities.StepRef{ref("bios", "apply_configuration", 150)}, false,
			[]string{"bios.apply_configuration", "deploy.deploy", "deploy.write_image"}},
		{"core disabled: no agent, its steps left out", nil, []activities.StepRef{ref("deploy", "deploy", 0),
			ref("bios", "apply_configuration", 10), ref("raid", "apply_configuration", 20)}, false,
			[]string{"bios.apply_configuration"}},
		{"core disabled in memory keeps every step", nil, []activities.StepRef{ref("deploy", "deploy", 0),
			ref("deploy", "erase_devices_metadata", 20)}, true, []string{"deploy.write_image", "deploy.erase_devices_metadata"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := activities.Plan(activities.DeploySteps, false, catalog, tt.user, tt.templates, tt.runsSteps)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(plan); !slices.Equal(got, tt.want) {
				t.Errorf("plan %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := activities.Plan(activities.DeploySteps, false, catalog, nil,
		[]activities.StepRef{ref("raid", "create_configuration", 10)}, false); !errors.Is(err, activities.ErrUnknownStep) {
		t.Errorf("unknown step: %v", err)
	}
	clean := []activities.StepRef{{Interface: "deploy", Name: "erase_devices_metadata", Priority: 99, UserIndex: -1},
		ref("raid", "delete_configuration", 0)}
	plan, err := activities.Plan(activities.CleanSteps, true, clean, []activities.StepRef{
		{Interface: "raid", Name: "delete_configuration", UserIndex: 0},
		{Interface: "deploy", Name: "erase_devices_metadata", UserIndex: 1}}, nil, false)
	if err != nil || !slices.Equal(ids(plan), []string{"raid.delete_configuration", "deploy.erase_devices_metadata"}) ||
		plan[1].Priority != 99 {
		t.Errorf("manual cleaning keeps the request's order with the interface's priorities: %+v, %v", plan, err)
	}
	plan, _ = activities.Plan(activities.CleanSteps, false, clean, nil, nil, false)
	if !slices.Equal(ids(plan), []string{"deploy.erase_devices_metadata"}) {
		t.Errorf("automated cleaning: %q", ids(plan))
	}
}
