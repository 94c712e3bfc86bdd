// Package node holds ferric's shared vocabulary for bare-metal nodes: Ironic's
// provision and power state names, provisioning verbs and identifiers. It is a
// leaf package (stdlib only) and has no behaviour; the state machine lives in
// package workflows.
package node

// ProvisionState is one of Ironic's provision state names, as shown on the wire.
type ProvisionState string

// Ironic's provision states (ironic/common/states.py). The empty state is
// Ironic's NOSTATE, shown as null.
const (
	NoState      ProvisionState = ""
	Enroll       ProvisionState = "enroll"
	Verifying    ProvisionState = "verifying"
	Manageable   ProvisionState = "manageable"
	Inspecting   ProvisionState = "inspecting"
	InspectWait  ProvisionState = "inspect wait"
	InspectFail  ProvisionState = "inspect failed"
	Cleaning     ProvisionState = "cleaning"
	CleanWait    ProvisionState = "clean wait"
	CleanFail    ProvisionState = "clean failed"
	Available    ProvisionState = "available"
	Deploying    ProvisionState = "deploying"
	DeployWait   ProvisionState = "wait call-back"
	DeployFail   ProvisionState = "deploy failed"
	Active       ProvisionState = "active"
	Deleting     ProvisionState = "deleting"
	Error        ProvisionState = "error"
	Rebuild      ProvisionState = "rebuild"
	Adopting     ProvisionState = "adopting"
	AdoptFail    ProvisionState = "adopt failed"
	Rescue       ProvisionState = "rescue"
	Rescuing     ProvisionState = "rescuing"
	RescueWait   ProvisionState = "rescue wait"
	RescueFail   ProvisionState = "rescue failed"
	Unrescuing   ProvisionState = "unrescuing"
	UnrescueFail ProvisionState = "unrescue failed"
	ServiceState ProvisionState = "servicing"
	ServiceWait  ProvisionState = "service wait"
	ServiceFail  ProvisionState = "service failed"
	ServiceHold  ProvisionState = "service hold"
	CleanHold    ProvisionState = "clean hold"
	DeployHold   ProvisionState = "deploy hold"
	Deleted      ProvisionState = "deleted" // a target only, never stored
)

// Verb is a provisioning action accepted by PUT /v1/nodes/{id}/states/provision.
type Verb string

// Ironic's provisioning verbs.
const (
	VerbManage   Verb = "manage"
	VerbProvide  Verb = "provide"
	VerbInspect  Verb = "inspect"
	VerbClean    Verb = "clean"
	VerbActive   Verb = "active" // deploy
	VerbDeploy   Verb = "deploy" // alias of active since API 1.73
	VerbDeleted  Verb = "deleted"
	VerbUndeploy Verb = "undeploy" // alias of deleted since API 1.73
	VerbRebuild  Verb = "rebuild"
	VerbAbort    Verb = "abort"
	VerbAdopt    Verb = "adopt"
	VerbRescue   Verb = "rescue"
	VerbUnrescue Verb = "unrescue"
	VerbUnhold   Verb = "unhold"  // API 1.85: resume an operation a hold step stopped
	VerbService  Verb = "service" // API 1.87: run service steps on an active node
)

// PowerState is Ironic's power state name, as shown on the wire.
type PowerState string

// Ironic's power states and power targets.
const (
	PowerNone     PowerState = ""
	PowerOn       PowerState = "power on"
	PowerOff      PowerState = "power off"
	PowerError    PowerState = "error"
	Rebooting     PowerState = "rebooting"
	SoftRebooting PowerState = "soft rebooting"
	SoftPowerOff  PowerState = "soft power off"
	PowerUnknown  PowerState = "unknown"
)

// FaultPowerFailure is the fault recorded when the power sync loses a BMC.
const FaultPowerFailure = "power failure"
