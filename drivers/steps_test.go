package drivers_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/agent"
	"github.com/ferric-project/ferric/drivers/fake"
)

func stepIDs(steps []drivers.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.ID())
	}
	return out
}

func TestNodeSteps(t *testing.T) {
	r := drivers.NewRegistry()
	fake.New().Register(r)
	agent.Register(r, agent.Config{AutomatedClean: true})
	ifaces := func(deploy, raid, bios string) map[drivers.Kind]string {
		return map[drivers.Kind]string{drivers.KindPower: "fake", drivers.KindManagement: "fake",
			drivers.KindDeploy: deploy, drivers.KindRAID: raid, drivers.KindBios: bios}
	}
	tests := []struct {
		name              string
		ifaces            map[drivers.Kind]string
		runs              bool
		wantClean, wantDp []string
	}{
		{"fake everything", ifaces("fake", "fake", "fake"), true,
			[]string{"deploy.erase_devices_metadata", "deploy.erase_devices", "bios.apply_configuration",
				"bios.factory_reset", "bios.cache_bios_settings", "raid.delete_configuration", "raid.create_configuration"},
			[]string{"deploy.deploy", "deploy.erase_devices_metadata", "bios.apply_configuration", "raid.apply_configuration"}},
		// The agent's RAID steps need an agent: a fake deploy never boots one.
		{"fake deploy, agent RAID", ifaces("fake", "agent", "no-bios"), true,
			[]string{"deploy.erase_devices_metadata", "deploy.erase_devices"},
			[]string{"deploy.deploy", "deploy.erase_devices_metadata"}},
		{"direct deploy, agent RAID", ifaces("direct", "agent", "fake"), false,
			[]string{"deploy.erase_devices_metadata", "deploy.erase_devices", "bios.apply_configuration",
				"bios.factory_reset", "bios.cache_bios_settings", "raid.delete_configuration", "raid.create_configuration"},
			[]string{"deploy.deploy", "deploy.write_image", "deploy.erase_devices_metadata", "bios.apply_configuration",
				"raid.apply_configuration"}},
		{"no RAID, no BIOS", ifaces("direct", "no-raid", "no-bios"), false,
			[]string{"deploy.erase_devices_metadata", "deploy.erase_devices"},
			[]string{"deploy.deploy", "deploy.write_image", "deploy.erase_devices_metadata"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := r.NodeSteps(tt.ifaces, drivers.Node{UUID: "n"})
			if err != nil {
				t.Fatal(err)
			}
			if c.RunsSteps != tt.runs || !slices.Equal(stepIDs(c.Clean), tt.wantClean) ||
				!slices.Equal(stepIDs(c.Deploy), tt.wantDp) {
				t.Errorf("runs %v clean %q deploy %q", c.RunsSteps, stepIDs(c.Clean), stepIDs(c.Deploy))
			}
		})
	}
	if _, err := r.NodeSteps(ifaces("fake", "fake", "fake"), drivers.Node{UUID: "n",
		DriverInfo: json.RawMessage(`{"fake_delay":"soon"}`)}); !errors.Is(err, drivers.ErrBadConfig) {
		t.Errorf("bad driver_info: %v", err)
	}
	if _, err := r.RAID("no-raid", drivers.Node{}); !errors.Is(err, drivers.ErrUnsupported) {
		t.Errorf("no-raid: %v, want ErrUnsupported", err)
	}
}

func TestFakeRAIDAndBIOSSteps(t *testing.T) {
	r := drivers.NewRegistry()
	fake.New().Register(r)
	ctx := context.Background()
	n := drivers.Node{UUID: "n", TargetRAIDConfig: json.RawMessage(
		`{"logical_disks":[{"size_gb":10,"raid_level":"1","is_root_volume":true},{"size_gb":"MAX","raid_level":"0"}]}`)}
	raid, err := r.RAID("fake", n)
	if err != nil {
		t.Fatal(err)
	}
	run := raid.(drivers.StepRunner)
	res, err := run.RunStep(ctx, drivers.Step{Interface: drivers.KindRAID, Name: drivers.StepCreateConfiguration},
		json.RawMessage(`{"create_root_volume":false}`))
	if err != nil || string(res.RAIDConfig) != `{"logical_disks":[{"raid_level":"0","size_gb":"MAX"}]}` {
		t.Errorf("create without the root volume: %s, %v", res.RAIDConfig, err)
	}
	if _, err := run.RunStep(ctx, drivers.Step{Interface: drivers.KindRAID, Name: drivers.StepCreateConfiguration},
		json.RawMessage(`{"create_root_volume":false,"create_nonroot_volumes":false}`)); err == nil ||
		err.Error() != "drivers: operation failed: Node n has empty target RAID configuration after skipping root "+
			"volume and skipping non-root volumes." {
		t.Errorf("nothing left to create: %v", err)
	}
	res, err = run.RunStep(ctx, drivers.Step{Interface: drivers.KindRAID, Name: drivers.StepDeleteConfiguration}, nil)
	if err != nil || string(res.RAIDConfig) != "{}" {
		t.Errorf("delete: %s, %v", res.RAIDConfig, err)
	}

	bios, _ := r.BIOS("fake", drivers.Node{UUID: "n"})
	brun := bios.(drivers.StepRunner)
	res, err = brun.RunStep(ctx, drivers.Step{Interface: drivers.KindBios, Name: drivers.StepApplyConfiguration},
		json.RawMessage(`{"settings":[{"name":"A","value":"1"},{"name":"N","value":8,"lower_bound":1,"read_only":true}]}`))
	if err != nil || res.BIOS == nil || len(res.BIOS.Settings) != 2 || *res.BIOS.Settings[1].Value != "8" ||
		*res.BIOS.Settings[1].LowerBound != 1 || !*res.BIOS.Settings[1].ReadOnly {
		t.Errorf("apply: %+v, %v", res.BIOS, err)
	}
	if _, err := brun.RunStep(ctx, drivers.Step{Interface: drivers.KindBios, Name: drivers.StepApplyConfiguration},
		json.RawMessage(`{"settings":[{"value":"x"}]}`)); !errors.Is(err, drivers.ErrFailed) {
		t.Errorf("a setting without a name: %v", err)
	}
	res, err = brun.RunStep(ctx, drivers.Step{Interface: drivers.KindBios, Name: drivers.StepFactoryReset}, nil)
	if err != nil || res.BIOS == nil || !res.BIOS.Reset {
		t.Errorf("factory reset: %+v, %v", res, err)
	}
	res, err = brun.RunStep(ctx, drivers.Step{Interface: drivers.KindBios, Name: drivers.StepCacheBIOSSettings}, nil)
	if err != nil || res.BIOS != nil || res.RAIDConfig != nil {
		t.Errorf("cache (nothing to read): %+v, %v", res, err)
	}
}
