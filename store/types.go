package store

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/node"
)

// Errors returned by the store. Callers classify with errors.Is; pgx errors
// never cross this package's boundary.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflicting concurrent update")
	ErrExists   = errors.New("store: already exists")
	// ErrInvalidState is returned by Transition when the node is not in one of
	// the expected source states.
	ErrInvalidState = errors.New("store: node is not in the expected state")
	// ErrInUse is returned when deleting a row that others still reference
	// (a chassis with nodes).
	ErrInUse = errors.New("store: still referenced")
	// ErrInvalidArgument is returned for a request the store cannot run: an
	// unknown sort key, a negative limit, malformed JSON, or a value
	// PostgreSQL cannot store or compare (NUL or invalid UTF-8 in text,
	// \u0000 in JSON, a number beyond numeric, an indexed value beyond a
	// btree page).
	ErrInvalidArgument = errors.New("store: invalid argument")
	// ErrUnavailable is returned when the database cannot be reached (down,
	// restarting, connection lost): the request may succeed later.
	ErrUnavailable = errors.New("store: database unavailable")
)

// Node is one bare-metal node, with Ironic's field names. JSON-typed fields are
// kept as raw JSON objects (never nil once read from the store: "{}" at least).
type Node struct {
	ID      int64 // internal row id (Ironic's "id"), used for stable pagination
	UUID    string
	Name    *string
	Version int64 // optimistic lock, bumped on every write

	Driver             string
	DriverInfo         json.RawMessage
	DriverInternalInfo json.RawMessage
	Properties         json.RawMessage
	InstanceInfo       json.RawMessage
	Extra              json.RawMessage
	InstanceUUID       *string
	ChassisUUID        *string // resolved from chassis_id on read
	// AllocationUUID is the allocation holding the node (read only: the
	// allocation's node link, see Allocation).
	AllocationUUID *string
	ResourceClass  *string
	Description    *string
	Owner          *string
	Lessee         *string
	ConductorGroup string
	// Conductor is the worker whose operation last moved the node's
	// provision state ("" = none yet); set by Transition only.
	Conductor       string
	Traits          []string
	NetworkData     json.RawMessage
	AutomatedClean  *bool
	Protected       bool
	ProtectedReason *string
	Retired         bool
	RetiredReason   *string
	Shard           *string
	// ParentNode is the UUID of the node this one is a child of (API
	// 1.83); child nodes are left out of node lists unless asked for.
	ParentNode *string
	// DisablePowerOff: the node is never powered off (API 1.95); reboots
	// take its place.
	DisablePowerOff      bool
	BootMode             *string
	SecureBoot           *bool
	Fault                *string
	Maintenance          bool
	MaintenanceReason    *string
	ConsoleEnabled       bool
	CleanStep            json.RawMessage
	ServiceStep          json.RawMessage
	DeployStep           json.RawMessage
	RAIDConfig           json.RawMessage
	TargetRAIDConfig     json.RawMessage
	Interfaces           Interfaces
	ProvisionState       node.ProvisionState
	TargetProvisionState node.ProvisionState // "" is null
	PowerState           node.PowerState     // "" is null
	TargetPowerState     node.PowerState     // "" is null
	LastError            *string
	ProvisionUpdatedAt   *time.Time
	InspectionStartedAt  *time.Time
	InspectionFinishedAt *time.Time
	CreatedAt            time.Time
	UpdatedAt            *time.Time
}

// Interfaces are the hardware interfaces a node uses (Ironic's *_interface fields).
type Interfaces struct {
	Bios       string
	Boot       string
	Console    string
	Deploy     string
	Firmware   string
	Inspect    string
	Management string
	Network    string
	Power      string
	RAID       string
	Rescue     string
	Storage    string
	Vendor     string
}

// ByKind returns the interface names by kind.
func (i Interfaces) ByKind() map[drivers.Kind]string {
	return map[drivers.Kind]string{
		drivers.KindBios: i.Bios, drivers.KindBoot: i.Boot, drivers.KindConsole: i.Console,
		drivers.KindDeploy: i.Deploy, drivers.KindFirmware: i.Firmware, drivers.KindInspect: i.Inspect,
		drivers.KindManagement: i.Management, drivers.KindNetwork: i.Network, drivers.KindPower: i.Power,
		drivers.KindRAID: i.RAID, drivers.KindRescue: i.Rescue, drivers.KindStorage: i.Storage,
		drivers.KindVendor: i.Vendor,
	}
}

// Port is a NIC of a node (Ironic's port).
type Port struct {
	ID                  int64
	UUID                string
	Address             string  // MAC, lower case, unique
	NodeUUID            string  // resolved from node_id
	PortgroupUUID       *string // resolved from portgroup_id; nil: in no group
	LocalLinkConnection json.RawMessage
	PXEEnabled          bool
	PhysicalNetwork     *string
	Extra               json.RawMessage
	InternalInfo        json.RawMessage
	IsSmartNIC          bool
	Name                *string
	CreatedAt           time.Time
	UpdatedAt           *time.Time
}

// Portgroup is a group of a node's ports bonded together (Ironic's
// portgroup, API 1.23).
type Portgroup struct {
	ID                       int64
	UUID                     string
	Name                     *string
	NodeUUID                 string  // resolved from node_id
	Address                  *string // MAC, lower case, unique; nil: none
	Mode                     *string
	Properties               json.RawMessage
	StandalonePortsSupported bool
	Extra                    json.RawMessage
	InternalInfo             json.RawMessage
	CreatedAt                time.Time
	UpdatedAt                *time.Time
}

// VolumeConnector is how a node connects to storage (Ironic's volume
// connector, API 1.32): an iSCSI initiator IQN, a WWPN, an IP, ...
type VolumeConnector struct {
	ID          int64
	UUID        string
	NodeUUID    string // resolved from node_id
	Type        string
	ConnectorID string // unique with Type
	Extra       json.RawMessage
	CreatedAt   time.Time
	UpdatedAt   *time.Time
}

// VolumeTarget is a volume a node boots from or uses (Ironic's volume
// target, API 1.32).
type VolumeTarget struct {
	ID         int64
	UUID       string
	NodeUUID   string // resolved from node_id
	VolumeType string
	Properties json.RawMessage
	BootIndex  int32 // unique per node
	VolumeID   string
	Extra      json.RawMessage
	CreatedAt  time.Time
	UpdatedAt  *time.Time
}

// Chassis groups nodes (Ironic's chassis).
type Chassis struct {
	ID          int64
	UUID        string
	Description *string
	Extra       json.RawMessage
	CreatedAt   time.Time
	UpdatedAt   *time.Time
}

// Event is one entry of a node's history (Ironic's node history).
type Event struct {
	ID        int64
	UUID      string
	NodeUUID  string
	Severity  string // "INFO" or "ERROR"
	EventType string // e.g. "provisioning", "power", "maintenance"
	Event     string // human-readable text
	User      *string
	// Project is the project of the user on whose behalf the event was
	// recorded (nil: none; Ironic's history shows only the user).
	Project   *string
	Conductor string
	CreatedAt time.Time
}

// ListNodes selects and orders nodes. Zero values mean "no filter".
type ListNodes struct {
	Limit    int    // 0 = no limit
	MarkerID int64  // return rows after the row with this internal id in sort order (0 = from the start)
	SortKey  string // a column name from NodeSortKeys; "" = id
	SortDesc bool

	ProvisionState *node.ProvisionState
	Maintenance    *bool
	Associated     *bool // instance_uuid IS [NOT] NULL
	Driver         string
	ResourceClass  string
	ChassisUUID    string
	ConductorGroup string
	// Conductors selects nodes whose Conductor is one of these (nil: any).
	Conductors   []string
	Owner        string
	Lessee       string
	Fault        string
	Retired      *bool
	InstanceUUID string
	Shard        string
	// ParentNode keeps the children of that node UUID; with neither it nor
	// IncludeChildren set, child nodes are left out (Ironic's default).
	ParentNode string
	// IncludeChildren lists parents and children alike (ParentNode is then
	// ignored, as Ironic does).
	IncludeChildren bool
	// Project keeps the nodes this project owns or leases (owner = Project
	// OR lessee = Project): what a project-scoped caller may list.
	Project string
}

// ListPorts selects ports.
type ListPorts struct {
	Limit         int
	MarkerID      int64
	SortKey       string
	SortDesc      bool
	NodeUUID      string
	Address       string
	PortgroupUUID string // the members of that port group
	// Project keeps the ports of nodes this project owns or leases.
	Project string
}

// ListPortgroups selects port groups.
type ListPortgroups struct {
	Limit    int
	MarkerID int64
	SortKey  string
	SortDesc bool
	NodeUUID string
	Address  string
	// Project keeps the port groups of nodes this project owns or leases.
	Project string
}

// ListVolume selects volume connectors or targets.
type ListVolume struct {
	Limit    int
	MarkerID int64
	SortKey  string
	SortDesc bool
	NodeUUID string
	// Project keeps the objects of nodes this project owns or leases.
	Project string
}

// TransitionRequest moves a node from one of From to To (compare-and-set on
// provision_state), in one transaction with a history event.
//
// A retried call whose first attempt committed (node already in To with the
// same Target) reports success: activities are at-least-once.
type TransitionRequest struct {
	// Conductor names the worker making the move; recorded on the node and
	// its history event ("" = leave the node's as is).
	Conductor string
	UUID      string
	From      []node.ProvisionState
	To        node.ProvisionState
	Target    node.ProvisionState // target_provision_state after the move ("" = null)

	// Optional field updates applied in the same write. nil = leave alone.
	LastError    *string // "" clears last_error (null)
	PowerState   *node.PowerState
	InstanceInfo json.RawMessage // replace instance_info (e.g. cleared on undeploy)
	// RemoveInstanceKeys are instance_info members removed (after
	// InstanceInfo, if any), e.g. a rescue password.
	RemoveInstanceKeys []string
	InstanceUUID       *string // "" clears
	DeployStep         json.RawMessage
	CleanStep          json.RawMessage
	ServiceStep        json.RawMessage
	DriverInternalInfo json.RawMessage
	// DropConfigDrives deletes the config drives of the node's operation
	// records (the instance they configured is gone).
	DropConfigDrives bool
	// InspectionStarted sets inspection_started_at to now and clears
	// inspection_finished_at; InspectionFinished sets the latter to now.
	InspectionStarted  bool
	InspectionFinished bool

	Event string // history text; "" = "<from> -> <to>"
	Error bool   // history severity ERROR
	// User and Project name who asked for the operation ("" = nobody: the
	// system itself); they are recorded on the history event.
	User, Project string

	// RequestID optionally identifies the logical request across retries
	// (e.g. workflow run ID + activity ID). When set, a call that finds the
	// node already in To/Target reports success only if the last transition
	// carried the same RequestID, so a concurrent twin gets ErrInvalidState
	// instead of a false success. "" = match on To and Target alone.
	RequestID string
}

// PowerUpdate records power state (and clears or sets the target) on a node.
type PowerUpdate struct {
	UUID       string
	PowerState *node.PowerState // nil = leave
	Target     *node.PowerState // nil = leave; pointer to "" = clear
	LastError  *string          // nil = leave; "" = clear
	Event      string           // "" = no history entry
	Error      bool
	// User and Project name who asked ("" = nobody), recorded on the event.
	User, Project string
}

// DriverNode is what driver factories see of n: identity and configuration
// (the one conversion from a stored node to the drivers' view).
func (n *Node) DriverNode() drivers.Node {
	return drivers.Node{
		UUID:           n.UUID,
		DriverInfo:     n.DriverInfo,
		InstanceInfo:   n.InstanceInfo,
		Properties:     n.Properties,
		PowerState:     drivers.PowerState(n.PowerState),
		AutomatedClean: n.AutomatedClean,
		// The RAID configuration a RAID interface builds.
		TargetRAIDConfig: n.TargetRAIDConfig,
		DisablePowerOff:  n.DisablePowerOff,
	}
}
