// Package workflows holds ferric's provisioning state machine as durable
// Temporal workflows. This file is the wire contract shared with the API and
// the worker: workflow, signal and query names, workflow IDs and input types.
// Names are stable; changing one needs workflow.GetVersion and a replay test.
package workflows

import (
	"encoding/json"

	"github.com/ferric-project/ferric/node"
)

// Workflow names (registered and started by name).
const (
	ManageName     = "manage-node"     // enroll|adopt failed|inspect failed... -> verifying -> manageable
	ProvideName    = "provide-node"    // manageable -> cleaning -> available
	DeployName     = "deploy-node"     // available -> deploying -> (wait call-back) -> active; also rebuild
	UndeployName   = "undeploy-node"   // active|deploy failed|error -> deleting -> cleaning -> available
	CleanName      = "clean-node"      // manual cleaning: manageable -> cleaning -> manageable
	PowerName      = "set-power"       // power on/off/reboot/soft variants
	BootDeviceName = "set-boot-device" // management: set boot device (synchronous for the API)
	ManagementName = "read-management" // management reads (boot device, supported devices); synchronous
	PassthruName   = "vendor-passthru" // vendor passthru call
)

// Signal, query and update names.
const (
	SignalAbort      = "abort"       // abort a wait state (wait call-back, clean wait, inspect wait)
	SignalAgentReady = "agent-ready" // the ramdisk agent looked up and is ready for commands
	QueryState       = "state"
)

// TaskQueue is the default task queue shared by API and workers.
const TaskQueue = "ferric"

// WorkflowID makes the node UUID the ID of every mutating workflow, so Temporal
// refuses a second concurrent operation on the same node: the ID is the node lock.
func WorkflowID(nodeUUID string) string { return "node/" + nodeUUID }

// ReadWorkflowID names a read-only workflow on a node (it takes no lock); the
// suffix must be unique per call.
func ReadWorkflowID(nodeUUID, suffix string) string { return "node/" + nodeUUID + "/read/" + suffix }

// ProvisionInput starts every provisioning workflow (manage, provide, deploy,
// undeploy, inspect, clean). It carries no secrets: activities read
// credentials from the store by node UUID.
type ProvisionInput struct {
	NodeUUID string    `json:"node_uuid"`
	Verb     node.Verb `json:"verb"`
	// From is the provision state the API saw; the workflow re-checks it
	// against the store when it starts.
	From node.ProvisionState `json:"from"`
	// ConfigDrive, CleanSteps and DeploySteps are passed through from the request.
	ConfigDrive json.RawMessage `json:"config_drive,omitempty"`
	CleanSteps  json.RawMessage `json:"clean_steps,omitempty"`
	DeploySteps json.RawMessage `json:"deploy_steps,omitempty"`
	// AgentTimeoutSeconds bounds wait call-back (0 = the worker's default).
	AgentTimeoutSeconds int `json:"agent_timeout_seconds,omitempty"`
}

// PowerInput starts set-power.
type PowerInput struct {
	NodeUUID       string          `json:"node_uuid"`
	Target         node.PowerState `json:"target"` // power on, power off, rebooting, soft power off, soft rebooting
	TimeoutSeconds int             `json:"timeout_seconds,omitempty"`
}

// BootDeviceInput starts set-boot-device.
type BootDeviceInput struct {
	NodeUUID   string `json:"node_uuid"`
	Device     string `json:"boot_device"`
	Persistent bool   `json:"persistent"`
}

// ManagementRead selects what read-management returns.
type ManagementRead string

// What read-management can read.
const (
	ReadBootDevice           ManagementRead = "boot_device"
	ReadSupportedBootDevices ManagementRead = "supported_boot_devices"
)

// ManagementInput starts read-management.
type ManagementInput struct {
	NodeUUID string         `json:"node_uuid"`
	Read     ManagementRead `json:"read"`
}

// ManagementResult is read-management's result.
type ManagementResult struct {
	BootDevice           string   `json:"boot_device,omitempty"`
	Persistent           *bool    `json:"persistent,omitempty"`
	SupportedBootDevices []string `json:"supported_boot_devices,omitempty"`
}

// PassthruInput starts vendor-passthru. Args and the reply are passed
// unaltered: neither stored nor inspected.
type PassthruInput struct {
	NodeUUID   string          `json:"node_uuid"`
	Method     string          `json:"method"`
	HTTPMethod string          `json:"http_method"`
	Args       json.RawMessage `json:"args,omitempty"`
}

// PassthruResult is vendor-passthru's result.
type PassthruResult struct {
	Async  bool            `json:"async"`
	Return json.RawMessage `json:"return,omitempty"`
}

// Status is what the "state" query returns.
type Status struct {
	State  node.ProvisionState `json:"state"`
	Target node.ProvisionState `json:"target,omitempty"`
	Step   string              `json:"step,omitempty"`
	Error  string              `json:"error,omitempty"`
}

// AgentReady is the payload of the agent-ready signal.
type AgentReady struct {
	AgentURL     string `json:"agent_url,omitempty"`
	AgentVersion string `json:"agent_version,omitempty"`
}
