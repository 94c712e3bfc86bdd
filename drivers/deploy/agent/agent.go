// Package agent is Ironic's "direct" deploy interface: the node network-boots
// the ferric ramdisk, whose agent (ferric-agent) writes the image and wipes
// disks on command. The interface itself does no work: Deploy and Clean
// report "not done" so that the provisioning workflow runs the agent path
// (boot the ramdisk, wait for the agent, send it commands). It knows nothing
// about Temporal, HTTP or the database.
package agent

import (
	"context"
	"encoding/json"

	"github.com/ferric-project/ferric/drivers"
)

// Name is the deploy interface's name, as in Ironic.
const Name = "direct"

// Config configures the interface.
type Config struct {
	// AutomatedClean is the default for nodes whose automated_clean is unset
	// (Ironic's [conductor]automated_clean, default true).
	AutomatedClean bool
}

// Deploy is the direct deploy interface for one node.
type Deploy struct {
	clean bool
}

var (
	_ drivers.Deploy  = Deploy{}
	_ drivers.Stepper = Deploy{}
)

// Factory returns the drivers.Factory of the interface.
func Factory(cfg Config) drivers.Factory[drivers.Deploy] {
	return func(n drivers.Node) (drivers.Deploy, error) {
		clean := cfg.AutomatedClean
		if n.AutomatedClean != nil {
			clean = *n.AutomatedClean
		}
		return Deploy{clean: clean}, nil
	}
}

// InspectName is the in-band inspect interface's name, as in Ironic: the
// ramdisk agent collects the inventory.
const InspectName = "agent"

// RAIDName is the in-band RAID interface's name, as in Ironic: the ramdisk
// agent builds and deletes the RAID configuration.
const RAIDName = "agent"

// Register adds the deploy interface to r under Name, the in-band inspect
// interface under InspectName and the in-band RAID interface under
// RAIDName.
func Register(r *drivers.Registry, cfg Config) {
	r.AddDeploy(Name, Factory(cfg))
	r.AddInspect(InspectName, func(drivers.Node) (drivers.Inspector, error) { return Inspect{}, nil })
	r.AddRAID(RAIDName, func(drivers.Node) (drivers.RAID, error) { return RAID{}, nil })
}

// RAID is the in-band RAID interface (Ironic's AgentRAID): its steps run on
// the ramdisk agent, so they are offered only to nodes whose deploy
// interface boots it (see drivers.StepCatalog).
type RAID struct{}

var _ drivers.RAID = RAID{}

// CleanSteps are delete_configuration and create_configuration, on request.
func (RAID) CleanSteps() []drivers.Step { return drivers.AgentRAIDCleanSteps() }

// DeploySteps is apply_configuration, on request.
func (RAID) DeploySteps() []drivers.Step { return drivers.AgentRAIDDeploySteps() }

// ServiceSteps are the agent RAID interface's service steps: apply_configuration.
func (RAID) ServiceSteps() []drivers.Step { return drivers.AgentRAIDServiceSteps() }

// Inspect is the in-band inspect interface: the agent inspects.
type Inspect struct{}

// InspectHardware returns nil: the workflow boots the ramdisk and the agent
// collects the inventory.
func (Inspect) InspectHardware(context.Context) (json.RawMessage, error) { return nil, nil }

// Deploy reports that the ramdisk agent writes the image (done = false).
func (Deploy) Deploy(context.Context) (bool, error) { return false, nil }

// TearDown has nothing to undo: the workflow powers the node off.
func (Deploy) TearDown(context.Context) error { return nil }

// Clean reports whether cleaning needs the agent (done = false: erase disk
// metadata through it) or is skipped (automated cleaning disabled).
func (d Deploy) Clean(context.Context) (bool, error) { return !d.clean, nil }

// CleanSteps are the agent's clean steps (drivers.AgentCleanSteps).
func (Deploy) CleanSteps() []drivers.Step { return drivers.AgentCleanSteps() }

// DeploySteps are the agent deploy's steps (drivers.AgentDeploySteps).
func (Deploy) DeploySteps() []drivers.Step { return drivers.AgentDeploySteps() }
