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

// StepRunner is a capability of deploy interfaces that run their steps
// themselves, synchronously (the fake). Interfaces without it run in-band
// steps through the ramdisk agent.
type StepRunner interface {
	RunStep(ctx context.Context, step Step, args json.RawMessage) error
}

// Deploy and clean step names shared by ferric's deploy interfaces.
const (
	StepDeploy               = "deploy"
	StepWriteImage           = "write_image"
	StepEraseDevicesMetadata = "erase_devices_metadata"
	StepEraseDevices         = "erase_devices"
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
