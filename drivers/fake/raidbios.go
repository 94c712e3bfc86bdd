package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/raid"
)

// RAID is the fake RAID interface. Ironic's fake RAID offers no steps; the
// fake offers the RAID steps of Ironic's RAID interfaces, run in memory, so
// that RAID configuration can be exercised without hardware: the clean
// steps create_configuration (the node's target_raid_config, filtered as
// its arguments ask) and delete_configuration, and the deploy step
// apply_configuration (its raid_config argument). Each records the
// configuration it "built" as the node's raid_config.
type RAID struct{ n *Node }

// CleanSteps are create_configuration and delete_configuration, on request.
func (RAID) CleanSteps() []drivers.Step {
	return []drivers.Step{
		{Interface: drivers.KindRAID, Name: drivers.StepDeleteConfiguration},
		{Interface: drivers.KindRAID, Name: drivers.StepCreateConfiguration, Args: drivers.RAIDCreateArgs()},
	}
}

// DeploySteps is apply_configuration, on request.
func (RAID) DeploySteps() []drivers.Step {
	return []drivers.Step{{Interface: drivers.KindRAID, Name: drivers.StepApplyConfiguration,
		Args: drivers.RAIDApplyArgs()}}
}

// RunStep runs a RAID step in memory (a call "step" "raid.<name>"; fake_fail
// "step" fails it) and reports the RAID configuration it leaves.
func (r RAID) RunStep(ctx context.Context, step drivers.Step, args json.RawMessage) (drivers.StepResult, error) {
	if err := r.n.do(ctx, "step", step.ID(), r.n.cfg.DeployDelay); err != nil {
		return drivers.StepResult{}, err
	}
	var a struct {
		CreateRoot    *bool           `json:"create_root_volume"`
		CreateNonRoot *bool           `json:"create_nonroot_volumes"`
		RAIDConfig    json.RawMessage `json:"raid_config"`
	}
	if len(args) > 0 {
		if err := json.Unmarshal(args, &a); err != nil {
			return drivers.StepResult{}, fmt.Errorf("%w: %s arguments: %w", drivers.ErrFailed, step.ID(), err)
		}
	}
	switch step.Name {
	case drivers.StepCreateConfiguration:
		built, err := raid.Filter(r.n.uuid, r.n.targetRAID, a.CreateRoot == nil || *a.CreateRoot,
			a.CreateNonRoot == nil || *a.CreateNonRoot)
		if err != nil {
			return drivers.StepResult{}, err
		}
		return drivers.StepResult{RAIDConfig: built}, nil
	case drivers.StepApplyConfiguration:
		if len(a.RAIDConfig) == 0 || string(a.RAIDConfig) == "null" {
			return drivers.StepResult{}, fmt.Errorf("%w: %s needs raid_config", drivers.ErrFailed, step.ID())
		}
		return drivers.StepResult{RAIDConfig: a.RAIDConfig}, nil
	case drivers.StepDeleteConfiguration:
		return drivers.StepResult{RAIDConfig: json.RawMessage(`{}`)}, nil
	}
	return drivers.StepResult{}, fmt.Errorf("%w: RAID step %q", drivers.ErrUnsupported, step.Name)
}

// BIOS is the fake BIOS interface, as Ironic's: its clean steps
// apply_configuration (the settings given become the node's settings:
// Ironic's sync, see drivers.BIOSChange), factory_reset (the settings are
// deleted) and cache_bios_settings (nothing to read: a no-op, as Ironic's
// fake). ferric's fake also offers apply_configuration as a deploy step, so
// that deploy templates can carry BIOS settings to fake nodes.
type BIOS struct{ n *Node }

// CleanSteps are apply_configuration, factory_reset and
// cache_bios_settings, on request.
func (BIOS) CleanSteps() []drivers.Step {
	return []drivers.Step{
		{Interface: drivers.KindBios, Name: drivers.StepApplyConfiguration, Args: drivers.BIOSApplyArgs()},
		{Interface: drivers.KindBios, Name: drivers.StepFactoryReset},
		{Interface: drivers.KindBios, Name: drivers.StepCacheBIOSSettings},
	}
}

// DeploySteps is apply_configuration, on request.
func (BIOS) DeploySteps() []drivers.Step {
	return []drivers.Step{{Interface: drivers.KindBios, Name: drivers.StepApplyConfiguration,
		Args: drivers.BIOSApplyArgs()}}
}

// RunStep runs a BIOS step in memory (a call "step" "bios.<name>"; fake_fail
// "step" fails it) and reports the change to the node's settings.
func (b BIOS) RunStep(ctx context.Context, step drivers.Step, args json.RawMessage) (drivers.StepResult, error) {
	if err := b.n.do(ctx, "step", step.ID(), b.n.cfg.DeployDelay); err != nil {
		return drivers.StepResult{}, err
	}
	switch step.Name {
	case drivers.StepApplyConfiguration:
		settings, err := BIOSSettings(args)
		if err != nil {
			return drivers.StepResult{}, fmt.Errorf("%w: %s: %w", drivers.ErrFailed, step.ID(), err)
		}
		return drivers.StepResult{BIOS: &drivers.BIOSChange{Settings: settings}}, nil
	case drivers.StepFactoryReset:
		return drivers.StepResult{BIOS: &drivers.BIOSChange{Reset: true}}, nil
	case drivers.StepCacheBIOSSettings:
		return drivers.StepResult{}, nil
	}
	return drivers.StepResult{}, fmt.Errorf("%w: BIOS step %q", drivers.ErrUnsupported, step.Name)
}

// BIOSSettings reads apply_configuration's arguments: {"settings": [{"name":
// ..., "value": ..., registry fields...}, ...]}. A value that is not a
// string is kept as its JSON text (Ironic stores values as text).
func BIOSSettings(args json.RawMessage) ([]drivers.BIOSSetting, error) {
	var a struct {
		Settings []map[string]json.RawMessage `json:"settings"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if a.Settings == nil {
		return nil, fmt.Errorf("settings is required: a list of {\"name\": ..., \"value\": ...}")
	}
	out := make([]drivers.BIOSSetting, 0, len(a.Settings))
	seen := map[string]bool{}
	for i, m := range a.Settings {
		var s drivers.BIOSSetting
		if err := json.Unmarshal(m["name"], &s.Name); err != nil || s.Name == "" {
			return nil, fmt.Errorf("setting %d has no name", i)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("setting %s is given twice", s.Name)
		}
		seen[s.Name] = true
		if v := m["value"]; len(v) > 0 && string(v) != "null" {
			var str string
			if json.Unmarshal(v, &str) != nil {
				str = strings.TrimSpace(string(v))
			}
			s.Value = &str
		}
		for key, dst := range map[string]any{"attribute_type": &s.AttributeType,
			"allowable_values": &s.AllowableValues, "lower_bound": &s.LowerBound, "upper_bound": &s.UpperBound,
			"min_length": &s.MinLength, "max_length": &s.MaxLength, "read_only": &s.ReadOnly,
			"reset_required": &s.ResetRequired, "unique": &s.Unique} {
			if v := m[key]; len(v) > 0 && string(v) != "null" {
				if err := json.Unmarshal(v, dst); err != nil {
					return nil, fmt.Errorf("setting %s: %s: %s is not valid", s.Name, key, strconv.Quote(string(v)))
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}
