// Package contract is the wire contract between ferric's API, its workflows
// and its activities: workflow, signal and query names, workflow IDs, the
// inputs and results that travel through Temporal, the application error
// types activities and workflows fail with, and Ironic's verb table (which
// workflow a verb on a node in a given state runs).
//
// It is a leaf (stdlib, node and drivers' constants only) so that the API can
// start workflows by name without importing the workflow code or the
// activities. Names and error types are stable: changing one needs
// workflow.GetVersion and a replay test.
package contract

import (
	"encoding/json"
	"strings"

	"github.com/ferric-project/ferric/node"
)

// Workflow names (registered and started by name).
const (
	ManageName     = "manage-node"     // enroll|adopt failed|inspect failed... -> verifying -> manageable
	ProvideName    = "provide-node"    // manageable -> cleaning -> available
	DeployName     = "deploy-node"     // available -> deploying -> (wait call-back) -> active; also rebuild
	UndeployName   = "undeploy-node"   // active|deploy failed|error -> deleting -> cleaning -> available
	CleanName      = "clean-node"      // manual cleaning: manageable -> cleaning -> manageable
	InspectName    = "inspect-node"    // manageable|inspect failed -> inspecting -> (inspect wait) -> manageable
	PowerName      = "set-power"       // power on/off/reboot/soft variants
	BootDeviceName = "set-boot-device" // management: set boot device (synchronous for the API)
	ManagementName = "read-management" // management reads (boot device, supported devices); synchronous
	PassthruName   = "vendor-passthru" // vendor passthru call
	// PowerSyncName is the workflow a Temporal Schedule starts every sync
	// interval: one pass over every node's BMC.
	PowerSyncName = "power-sync"
	// ReconcileName is the workflow a Temporal Schedule starts to find nodes
	// left in a busy state by an operation that is no longer running.
	ReconcileName = "reconcile-nodes"
	// RecoverName runs on a node's lock (WorkflowID) and fails a node that
	// no running operation holds out of its busy state.
	RecoverName = "recover-node"
	// AllocateName fulfils an allocation: it reserves an available node
	// that matches it (ID AllocationWorkflowID, not a node lock).
	AllocateName = "allocate-node"
	// AdoptName adopts a node: manageable|adopt failed -> adopting -> active.
	AdoptName = "adopt-node"
	// RescueName boots a deployed node into rescue:
	// active|rescue|rescue failed|unrescue failed -> rescuing -> (rescue wait) -> rescue.
	RescueName = "rescue-node"
	// UnrescueName returns a rescued node to its instance:
	// rescue|rescue failed|unrescue failed -> unrescuing -> active.
	UnrescueName = "unrescue-node"
	// VirtualMediaName attaches, detaches or reads a node's virtual media
	// through its management interface, on the node lock.
	VirtualMediaName = "virtual-media"
	// ServiceName runs service steps on a deployed node (API 1.87):
	// active|service failed -> servicing -> (service wait|service hold) -> active.
	ServiceName = "service-node"
)

// Schedule IDs.
const (
	// PowerSyncScheduleID names the schedule that runs PowerSyncName.
	PowerSyncScheduleID = "power-sync"
	// ReconcileScheduleID names the schedule that runs ReconcileName.
	ReconcileScheduleID = "reconcile-nodes"
)

// PowerSyncScheduleFor is the ID of the power sync schedule of conductor
// group group: PowerSyncScheduleID for the empty group.
func PowerSyncScheduleFor(group string) string {
	if group == "" {
		return PowerSyncScheduleID
	}
	return PowerSyncScheduleID + "/" + group
}

// PowerSyncInput is what a power sync pass syncs: the nodes of Group when
// Grouped (each group's workers sync their own BMCs, on their group's
// queue), every node otherwise (schedules made before groups had passes
// of their own start it without input).
type PowerSyncInput struct {
	Grouped bool   `json:"grouped,omitempty"`
	Group   string `json:"group,omitempty"`
}

// Signal, query and update names.
const (
	SignalAbort      = "abort"       // abort a wait state (wait call-back, clean wait, inspect wait)
	SignalAgentReady = "agent-ready" // the ramdisk agent looked up and is ready for commands
	// SignalInspectionData: a ramdisk posted inspection data for the node
	// (POST /v1/continue_inspection); it waits in the store, the signal
	// carries nothing.
	SignalInspectionData = "inspection-data"
	SignalUnhold         = "unhold" // resume an operation held by a hold step (clean hold, service hold)
	QueryState           = "state"
)

// TaskQueue is the default task queue shared by API and workers.
const TaskQueue = "ferric"

// GroupTaskQueue is the task queue of conductor group group (Ironic's
// conductor_group, API 1.46) on base: base itself for the empty group, so
// deployments without groups keep their queue, and base-group otherwise.
// Every workflow of a node runs on its group's queue, served only by the
// workers given that group.
func GroupTaskQueue(base, group string) string {
	if group == "" {
		return base
	}
	return base + "-" + group
}

// WorkflowID makes the node UUID the ID of every mutating workflow, so Temporal
// refuses a second concurrent operation on the same node: the ID is the node lock.
func WorkflowID(nodeUUID string) string { return "node/" + nodeUUID }

// AllocationWorkflowID is the ID of the workflow fulfilling the
// allocation allocUUID: one per allocation, so an allocation in flight is
// processed once.
func AllocationWorkflowID(allocUUID string) string { return "allocation/" + allocUUID }

// ReadWorkflowID names a read-only workflow on a node (it takes no lock); the
// suffix must be unique per call.
func ReadWorkflowID(nodeUUID, suffix string) string { return "node/" + nodeUUID + "/read/" + suffix }

// Application error types: the Type of every temporal.ApplicationError that
// ferric's activities and workflows fail with. The API maps them to Ironic's
// status codes; never derive them from Go type names.
const (
	// ErrTypeBadDriver: driver_info is invalid or the driver is unknown.
	ErrTypeBadDriver = "BadDriverConfig"
	// ErrTypeBMCAuth: the BMC rejected the credentials.
	ErrTypeBMCAuth = "BMCAuthFailed"
	// ErrTypeUnsupported: the node's driver cannot do this.
	ErrTypeUnsupported = "Unsupported"
	// ErrTypeNotFound: the node is gone.
	ErrTypeNotFound = "NodeNotFound"
	// ErrTypeInvalidState: the node is not in a state the operation starts from.
	ErrTypeInvalidState = "InvalidState"
	// ErrTypeConflict: a concurrent write won an optimistic-lock race.
	ErrTypeConflict = "NodeConflict"
	// ErrTypeDriverFailed: the driver ran and reported a failure.
	ErrTypeDriverFailed = "DriverFailed"
	// ErrTypeAgentCommandFailed: the agent ran the command and reported a
	// failure; the message is the agent's error text.
	ErrTypeAgentCommandFailed = "AgentCommandFailed"
	// ErrTypeAgentTimeout: the agent stopped heartbeating, or the command did
	// not finish within its time limit.
	ErrTypeAgentTimeout = "AgentTimeout"
	// ErrTypeBadInstanceInfo: instance_info lacks what a deploy needs.
	ErrTypeBadInstanceInfo = "InvalidInstanceInfo"
	// ErrTypeProvisioningFailed: a provisioning workflow ended in a failure
	// state (recorded on the node with last_error).
	ErrTypeProvisioningFailed = "ProvisioningFailed"
	// ErrTypePowerFailed: set-power failed (recorded on the node with
	// last_error).
	ErrTypePowerFailed = "PowerFailed"
	// ErrTypeAllocationFailed: an allocation found no node (recorded on the
	// allocation with last_error).
	ErrTypeAllocationFailed = "AllocationFailed"
	// ErrTypeInstanceAssociated: the allocation's UUID is another node's
	// instance_uuid.
	ErrTypeInstanceAssociated = "InstanceAssociated"
	// ErrTypeInvalidParameter: a request's value (a step's argument) is not
	// one the operation can use (Ironic's InvalidParameterValue).
	ErrTypeInvalidParameter = "InvalidParameterValue"
)

// AllocateInput starts allocate-node. The allocation's request (resource
// class, traits, candidates, owner) is read from the store.
type AllocateInput struct {
	AllocationUUID string `json:"allocation_uuid"`
	// Revision is the behaviour the starter asks for (CurrentRevision).
	Revision int `json:"revision,omitempty"`
}

// ProvisionInput starts every provisioning workflow (manage, provide, deploy,
// undeploy, inspect, clean). It carries no secrets and no user data:
// activities read credentials, the config drive and the steps from the store
// by node UUID and operation ID.
type ProvisionInput struct {
	NodeUUID string    `json:"node_uuid"`
	Verb     node.Verb `json:"verb"`
	// From is the provision state the API saw; the workflow re-checks it
	// against the store when it starts.
	From node.ProvisionState `json:"from"`
	// ConfigDrive, CleanSteps and DeploySteps were passed through from the
	// request by ferric before operation records existed. New runs never set
	// them; they stay so that old histories decode.
	ConfigDrive json.RawMessage `json:"config_drive,omitempty"`
	CleanSteps  json.RawMessage `json:"clean_steps,omitempty"`
	DeploySteps json.RawMessage `json:"deploy_steps,omitempty"`
	// OperationID names the operation record (store) holding what the
	// request gave beyond the verb: config drive, clean or deploy steps.
	// "" when the request gave nothing more.
	OperationID string `json:"operation_id,omitempty"`
	// AgentTimeoutSeconds bounds wait call-back (0 = the worker's default).
	AgentTimeoutSeconds int `json:"agent_timeout_seconds,omitempty"`
	// Revision is the behaviour the starter asks for (CurrentRevision).
	// A run started at revision 1 or later takes every change gated by a
	// version marker before revisions existed, without recording the
	// marker: each marker costs a history event, a search-attribute upsert
	// and a visibility write per operation. 0 = started before revisions
	// existed: the run's markers decide, as they did when it ran.
	Revision int `json:"revision,omitempty"`
	// RequestedBy names who asked; the run's history entries carry it.
	RequestedBy Requester `json:"requested_by,omitzero"`
}

// CurrentRevision is the Revision new operations are started at. Raise it
// (and gate on the new value in the workflow) for a change that old
// histories must replay without.
//
// Revisions: 1 the first; 2 in-band inspection waits for POST
// /v1/continue_inspection instead of sending the agent an inspect command;
// 3 a node with disable_power_off is never powered off by an operation
// (power offs skipped, power ons made reboots).
const CurrentRevision = 3

// Requester names who asked for an operation: the user and project IDs of
// the request's credentials (references, never a secret; empty under
// noauth and for the system's own operations). The API also puts them in the
// workflow's memo (MemoUser, MemoProject).
type Requester struct {
	User    string `json:"user,omitempty"`
	Project string `json:"project,omitempty"`
}

// Memo keys of the workflows the API starts on behalf of a request.
const (
	MemoUser    = "user"
	MemoProject = "project"
)

// PowerInput starts set-power.
type PowerInput struct {
	NodeUUID       string          `json:"node_uuid"`
	Target         node.PowerState `json:"target"` // power on, power off, rebooting, soft power off, soft rebooting
	TimeoutSeconds int             `json:"timeout_seconds,omitempty"`
	// IfRecorded makes the action conditional: it runs only if the node's
	// recorded power_state is still IfRecorded and no operation targets the
	// node when the workflow holds the lock ("" = unconditional). The power
	// sync uses it to force the recorded state back.
	IfRecorded node.PowerState `json:"if_recorded,omitempty"`
	// Reason is a history note ("" for a user request).
	Reason string `json:"reason,omitempty"`
	// RequestedBy names who asked; the power history entries carry it.
	RequestedBy Requester `json:"requested_by,omitzero"`
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

// VirtualMediaAction is what virtual-media does.
type VirtualMediaAction string

// Virtual media actions.
const (
	VMediaAttach VirtualMediaAction = "attach"
	VMediaDetach VirtualMediaAction = "detach"
	VMediaGet    VirtualMediaAction = "get"
)

// VirtualMediaInput starts virtual-media. An attach's image URL and
// download source are in the operation record OperationID (the URL is user
// data: it stays out of workflow history); its device type is also
// DeviceTypes' one member, for messages. A read's OperationID is the ID its
// devices are recorded under for the API (store's node_vmedia_reads).
type VirtualMediaInput struct {
	NodeUUID    string             `json:"node_uuid"`
	Action      VirtualMediaAction `json:"action"`
	OperationID string             `json:"operation_id,omitempty"`
	// DeviceTypes are the devices a detach ejects (nil: all), or the one
	// device an attach fills.
	DeviceTypes []string `json:"device_types"`
	// RequestedBy names who asked; the history entries carry it.
	RequestedBy Requester `json:"requested_by,omitzero"`
}

// VirtualMedia is one virtual media device as the node's management
// interface reports it (an item of GET /v1/nodes/{id}/vmedia).
type VirtualMedia struct {
	MediaTypes []string `json:"media_types"`
	Inserted   bool     `json:"inserted"`
	Image      *string  `json:"image"`
}

// VirtualMediaArgs are an attach request's arguments, as its operation
// record holds them.
type VirtualMediaArgs struct {
	DeviceType          string `json:"device_type"`
	ImageURL            string `json:"image_url"`
	ImageDownloadSource string `json:"image_download_source"`
}

// VMediaAttachVerb is the verb of an attach's operation record.
const VMediaAttachVerb = "vmedia-attach"

// UnsupportedExtension is Ironic's UnsupportedDriverExtension message: the
// node's driver cannot make call (get_virtual_media, ...).
func UnsupportedExtension(driver, call string) string {
	return "Driver " + driver + " does not support " + call + " (disabled or not implemented)."
}

// ImagePublishingUnsupported is Ironic's UnsupportedDriverExtension of an
// attach on a driver that cannot publish its image: Ironic 29 publishes
// the image (ImageHandler) before it reaches the management interface, and
// only redfish, idrac, ilo and ilo5 publish, so an attach through any other
// hardware type's management interface without virtual media fails with
// this message.
func ImagePublishingUnsupported(driver string) string {
	return "Publishing images is not supported for driver " + driver
}

// VMediaAttachError is the last_error of a failed attach, in Ironic's
// words.
func VMediaAttachError(device, nodeUUID, cause string) string {
	return "Could not attach device " + device + " to node " + nodeUUID + ": " + cause
}

// VMediaDetachError is the last_error of a failed detach, in Ironic's
// words: the devices as Python shows the list (None: every device).
func VMediaDetachError(devices []string, nodeUUID, cause string) string {
	list := "None"
	if devices != nil {
		q := make([]string, len(devices))
		for i, d := range devices {
			q[i] = "'" + d + "'"
		}
		list = "[" + strings.Join(q, ", ") + "]"
	}
	return "Could not detach device(s) " + list + " from node " + nodeUUID + ": " + cause
}

// RecoverInput starts recover-node on a node's lock.
type RecoverInput struct {
	NodeUUID string `json:"node_uuid"`
	// Version is the node version the reconciler saw: the node is failed
	// only if nothing wrote it since.
	Version int64 `json:"version"`
	// CloseHeldSession closes the agent session of a node failed from a
	// hold state too (the ramdisk stays up in a hold); recoveries started
	// before it replay as they ran.
	CloseHeldSession bool `json:"close_held_session,omitempty"`
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
