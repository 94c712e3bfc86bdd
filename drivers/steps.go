package drivers

import (
	"context"
	"encoding/json"
)

// Step is a clean or deploy step an interface offers (Ironic's steps): the
// unit a cleaning or a deploy is made of, run by the interface itself (out
// of band, or in memory for the fake) or by the ramdisk agent.
type Step struct {
	Interface Kind   `json:"interface"`
	Name      string `json:"step"`
	// Priority is the default priority: above 0 the step runs in every
	// automated cleaning (clean steps) or every deploy (deploy steps),
	// highest first; 0 runs it only when a user asks for it.
	Priority int `json:"priority"`
	// Abortable says a running clean step may be aborted.
	Abortable bool `json:"abortable"`
	// Args documents the arguments the step accepts (Ironic's argsinfo).
	Args map[string]ArgInfo `json:"argsinfo,omitempty"`
	// InBand says the ramdisk agent runs the step: it needs the node booted
	// into the ramdisk.
	InBand bool `json:"-"`
	// Core marks the deploy step that is the deploy itself (Ironic's
	// deploy.deploy): users cannot override or disable it.
	Core bool `json:"-"`
}

// ID names a step as Ironic does: "<interface>.<step>".
func (s Step) ID() string { return string(s.Interface) + "." + s.Name }

// ArgInfo describes one step argument.
type ArgInfo struct {
	Description string `json:"description"`
	Required    bool   `json:"required"`
}

// Stepper is a common-tier capability of a deploy interface: the clean and
// deploy steps it offers. The lists are static for an interface (no I/O).
type Stepper interface {
	CleanSteps() []Step
	DeploySteps() []Step
}

// ServiceStepper is an optional capability of an interface: the service
// steps it offers (API 1.87, Ironic's @base.service_step). Static, no I/O.
type ServiceStepper interface {
	ServiceSteps() []Step
}

// StepRunner is a capability of interfaces that run their steps
// themselves, synchronously (the fake's deploy, RAID and BIOS interfaces).
// Deploy interfaces without it run in-band steps through the ramdisk agent.
type StepRunner interface {
	RunStep(ctx context.Context, step Step, args json.RawMessage) (StepResult, error)
}

// StepResult is what a step changed that ferric records on the node (the
// step does no database I/O: the caller writes it).
type StepResult struct {
	// RAIDConfig, when not nil, is the RAID configuration the step left on
	// the node (Ironic's raid_config; {} when it deleted it).
	RAIDConfig json.RawMessage
	// BIOS, when not nil, updates the node's cached BIOS settings.
	BIOS *BIOSChange
}

// BIOSChange updates a node's cached BIOS settings (Ironic's bios_settings
// table).
type BIOSChange struct {
	// Reset deletes every setting (a factory reset). Otherwise Settings are
	// synchronized as Ironic's BIOSSettingList.sync_node_setting does: a new
	// name is created, a changed value is updated (with the registry
	// fields given along), a name not given is deleted and an unchanged
	// value is left as it is.
	Reset    bool
	Settings []BIOSSetting
}

// BIOSSetting is one BIOS setting with the registry fields of API 1.74
// (nil: unknown).
type BIOSSetting struct {
	Name            string   `json:"name"`
	Value           *string  `json:"value"`
	AttributeType   *string  `json:"attribute_type,omitempty"`
	AllowableValues []string `json:"allowable_values,omitempty"`
	LowerBound      *int64   `json:"lower_bound,omitempty"`
	UpperBound      *int64   `json:"upper_bound,omitempty"`
	MinLength       *int64   `json:"min_length,omitempty"`
	MaxLength       *int64   `json:"max_length,omitempty"`
	ReadOnly        *bool    `json:"read_only,omitempty"`
	ResetRequired   *bool    `json:"reset_required,omitempty"`
	Unique          *bool    `json:"unique,omitempty"`
}

// RAID is the common-tier RAID interface (Ironic's raid interface): its
// clean and deploy steps build or delete the node's RAID configuration
// from target_raid_config. An interface that runs them itself is also a
// StepRunner; the agent's run in band.
type RAID interface {
	Stepper
}

// BIOS is the common-tier BIOS interface: its steps apply, reset and read
// the node's BIOS settings.
type BIOS interface {
	Stepper
}

// Firmware is the common-tier firmware interface (Ironic's firmware
// interface, API 1.86): its steps update the node's firmware components.
type Firmware interface {
	Stepper
}

// StepKinds are the interface kinds whose steps cleaning and deploying run,
// in Ironic's order of precedence for steps of equal priority
// (conductor/steps.py CLEANING_INTERFACE_PRIORITY and
// DEPLOYING_INTERFACE_PRIORITY): power first, RAID last.
func StepKinds() []Kind {
	return []Kind{KindPower, KindManagement, KindFirmware, KindDeploy, KindBios, KindRAID}
}

// ServiceKinds are the interface kinds whose service steps servicing runs,
// in Ironic's order of precedence (SERVICING_INTERFACE_PRIORITY): vendor
// first, RAID last.
func ServiceKinds() []Kind {
	return []Kind{KindVendor, KindPower, KindManagement, KindDeploy, KindBios, KindRAID}
}

// InterfacePriority orders steps of equal priority as Ironic does: the
// higher runs first. Kinds without steps rank 0.
func InterfacePriority(k Kind) int {
	kinds := StepKinds()
	for i, s := range kinds {
		if s == k {
			return len(kinds) - i
		}
	}
	return 0
}

// StepCatalog is what a node's interfaces offer to cleaning and deploying.
type StepCatalog struct {
	Clean, Deploy []Step
	// Service lists the service steps (ServiceStepper) of the node's
	// interfaces, in ServiceKinds order.
	Service []Step
	// RunsSteps says the node's deploy interface runs its steps itself (in
	// memory, the fake): no ramdisk boots, and the in-band steps of other
	// interfaces (the agent RAID interface's) are not offered, as Ironic
	// knows an agent's steps only once an agent ran.
	RunsSteps bool
}

// Deploy and clean step names shared by ferric's deploy interfaces.
const (
	StepDeploy               = "deploy"
	StepWriteImage           = "write_image"
	StepEraseDevicesMetadata = "erase_devices_metadata"
	StepEraseDevices         = "erase_devices"
)

// RAID and BIOS step names (Ironic's).
const (
	StepCreateConfiguration = "create_configuration"
	StepDeleteConfiguration = "delete_configuration"
	StepApplyConfiguration  = "apply_configuration"
	StepFactoryReset        = "factory_reset"
	StepCacheBIOSSettings   = "cache_bios_settings"
	// StepFirmwareUpdate is the firmware interface's update step.
	StepFirmwareUpdate = "update"
)

// RAIDCreateArgs are the arguments of raid.create_configuration (Ironic's
// RAIDInterface.create_configuration; not required).
func RAIDCreateArgs() map[string]ArgInfo {
	return map[string]ArgInfo{
		"create_root_volume": {Description: "Setting this to 'False' indicates not to create root volume that " +
			"is specified in the node's target_raid_config. Default value is 'True'."},
		"create_nonroot_volumes": {Description: "Setting this to 'False' indicates not to create non-root " +
			"volumes (all except the root volume) in the node's target_raid_config. Default value is 'True'."},
	}
}

// RAIDApplyArgs are the arguments of the raid.apply_configuration deploy
// step (Ironic's RAID_APPLY_CONFIGURATION_ARGSINFO, as the agent RAID
// interface offers it).
func RAIDApplyArgs() map[string]ArgInfo {
	return map[string]ArgInfo{
		"raid_config": {Description: "The RAID configuration to apply.", Required: true},
		"delete_existing": {Description: "Setting this to 'True' indicates to delete existing RAID " +
			"configuration prior to creating the new configuration. Default value is 'True'."},
	}
}

// BIOSApplyArgs are the arguments of bios.apply_configuration (Ironic's
// fake BIOS interface).
func BIOSApplyArgs() map[string]ArgInfo {
	return map[string]ArgInfo{
		"settings": {Description: "List of BIOS settings, each item needs to contain a dictionary with " +
			"name/value pairs", Required: true},
	}
}

// FirmwareUpdateArgs are the arguments of firmware.update (Ironic's fake
// firmware interface).
func FirmwareUpdateArgs() map[string]ArgInfo {
	return map[string]ArgInfo{
		"settings": {Description: "List of Firmware components, each item needs to contain a dictionary " +
			"with name/value pairs", Required: true},
	}
}

// AgentRAIDCleanSteps are the RAID clean steps of the ramdisk agent
// (Ironic's AgentRAID: create and delete the configuration, on request).
func AgentRAIDCleanSteps() []Step {
	return []Step{
		{Interface: KindRAID, Name: StepDeleteConfiguration, Priority: 0, Abortable: true, InBand: true},
		{Interface: KindRAID, Name: StepCreateConfiguration, Priority: 0, Abortable: true, InBand: true,
			Args: RAIDCreateArgs()},
	}
}

// AgentRAIDDeploySteps are the RAID deploy steps of the ramdisk agent:
// apply_configuration, on request.
func AgentRAIDDeploySteps() []Step {
	return []Step{{Interface: KindRAID, Name: StepApplyConfiguration, Priority: 0, InBand: true, Args: RAIDApplyArgs()}}
}

// AgentRAIDServiceSteps are the RAID service steps of the ramdisk agent
// (Ironic's AgentRAID.apply_configuration is a service step too).
func AgentRAIDServiceSteps() []Step { return AgentRAIDDeploySteps() }

// ReservedSteps are the step names Ironic's conductor handles itself
// whatever the interface (steps.py use_reserved_step_handler): "hold" stops
// the operation in its hold state until an unhold; "wait" pauses it in its
// wait state (args.seconds); "power_on", "power_off" and "reboot" act
// through the node's power interface. No interface offers them.
func ReservedSteps() []string {
	return []string{StepHold, StepWait, StepPowerOn, StepPowerOff, StepReboot}
}

// The conductor-level (reserved) steps.
const (
	StepHold     = "hold"
	StepWait     = "wait"
	StepPowerOn  = "power_on"
	StepPowerOff = "power_off"
	StepReboot   = "reboot"
)

// AgentCleanSteps are the clean steps of the ramdisk agent (ferric-agent),
// as an agent-based deploy interface offers them: erase_devices_metadata
// runs in automated cleaning; erase_devices (every byte of every disk) only
// when asked for (Ironic's erase_devices_priority = 0).
func AgentCleanSteps() []Step {
	return []Step{
		{Interface: KindDeploy, Name: StepEraseDevicesMetadata, Priority: 99, Abortable: true, InBand: true},
		{Interface: KindDeploy, Name: StepEraseDevices, Priority: 0, Abortable: true, InBand: true},
	}
}

// AgentDeploySteps are the deploy steps of an agent-based deploy interface:
// the core deploy (boot the ramdisk, wait for the agent), write_image, and
// erase_devices_metadata, which runs only when asked for.
func AgentDeploySteps() []Step {
	return []Step{
		{Interface: KindDeploy, Name: StepDeploy, Priority: 100, Core: true},
		{Interface: KindDeploy, Name: StepWriteImage, Priority: 80, InBand: true},
		{Interface: KindDeploy, Name: StepEraseDevicesMetadata, Priority: 0, InBand: true},
	}
}
