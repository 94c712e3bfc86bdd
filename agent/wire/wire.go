// Package wire defines the JSON messages between the ramdisk agent
// (ferric-agent) and ferric's API. It is a leaf package (stdlib only) shared
// by both sides. The agent only ever talks HTTP to the API:
//
//	GET  /v1/lookup?addresses=MAC[,MAC...]   → LookupResponse
//	     (Ironic's lookup; answered only while the node is in a state that
//	     expects an agent; the agent token is issued once, on the first lookup)
//	POST /v1/heartbeat/{node uuid}           ← Heartbeat, → HeartbeatResponse
//	     (every HeartbeatInterval, and after every progress step of a running
//	     command; requires the token; wrong or stale token → 401)
//
// Commands travel in heartbeat responses (pull model: the API never connects
// to the machine being provisioned) and their progress and results in
// heartbeat requests.
package wire

import "encoding/json"

// StateInspectWait is the provision state in which the agent posts its
// inventory to POST /v1/continue_inspection (the provision_state of the
// lookup answer or of a heartbeat answer).
const StateInspectWait = "inspect wait"

// TokenHeader is an alternative to Heartbeat.AgentToken for requests without
// a body.
const TokenHeader = "X-Ferric-Agent-Token"

// LookupResponse is Ironic's lookup answer, trimmed to what the agent uses.
type LookupResponse struct {
	Node   LookupNode   `json:"node"`
	Config LookupConfig `json:"config"`
}

// LookupNode identifies the node the agent runs on.
type LookupNode struct {
	UUID           string          `json:"uuid"`
	ProvisionState string          `json:"provision_state"`
	Properties     json.RawMessage `json:"properties,omitempty"`
	InstanceInfo   json.RawMessage `json:"instance_info,omitempty"`
}

// LookupConfig carries the per-operation agent token and pacing.
type LookupConfig struct {
	// AgentToken is the per-operation secret the agent presents on every
	// heartbeat. Empty when a token was already issued (a second lookup does
	// not reveal it again).
	AgentToken string `json:"agent_token,omitempty"`
	// HeartbeatInterval in seconds (Ironic's heartbeat_timeout is separate).
	HeartbeatInterval int `json:"heartbeat_interval"`
}

// Heartbeat is what the agent POSTs to /v1/heartbeat/{node}.
type Heartbeat struct {
	AgentToken   string `json:"agent_token"`
	AgentVersion string `json:"agent_version"`
	// Results reports the state of commands the agent received (the latest
	// report per command ID wins).
	Results []CommandResult `json:"results,omitempty"`
	// Disks is the agent's view of block devices (sent with the first
	// heartbeat and after report_disks).
	Disks []Disk `json:"disks,omitempty"`
}

// HeartbeatResponse carries the commands the agent should run now, in order.
// A command the agent already knows (same ID) is not run twice.
type HeartbeatResponse struct {
	Commands []Command `json:"commands,omitempty"`
	// ProvisionState is the node's provision state as the heartbeat found
	// it; "" from an API that does not send it. In StateInspectWait the
	// agent posts its inventory if it has not yet done so successfully.
	ProvisionState string `json:"provision_state,omitempty"`
}

// Command names.
const (
	CmdWriteImage    = "write_image"    // Params: WriteImage
	CmdEraseMetadata = "erase_metadata" // Params: EraseMetadata
	CmdEraseDevices  = "erase_devices"  // Params: EraseDevices
	// CmdWriteConfigDrive writes a config drive (ISO 9660, label config-2)
	// to a partition at the end of the disk the image went to.
	CmdWriteConfigDrive = "write_configdrive" // Params: WriteConfigDrive
	CmdReportDisks      = "report_disks"      // no params
	// CmdInspect collects the hardware inventory; the result is the
	// document {"inventory": ..., "plugin_data": ...} in
	// ironic-python-agent's format (drivers/inventory).
	CmdInspect  = "inspect"   // no params (inspections started before POST /v1/continue_inspection)
	CmdPowerOff = "power_off" // no params
	CmdReboot   = "reboot"    // no params
	// CmdCreateRAID builds a RAID configuration (Ironic's raid
	// create_configuration and apply_configuration steps); the result is
	// the configuration built, which becomes the node's raid_config.
	CmdCreateRAID = "create_configuration" // Params: CreateRAID
	// CmdDeleteRAID deletes the node's RAID configuration (Ironic's raid
	// delete_configuration step).
	CmdDeleteRAID = "delete_configuration" // no params
)

// CreateRAID asks the agent to build a RAID configuration.
type CreateRAID struct {
	// Config is the configuration to build: {"logical_disks": [...]} in
	// Ironic's RAID configuration schema.
	Config json.RawMessage `json:"target_raid_config"`
	// DeleteExisting deletes the current configuration first.
	DeleteExisting bool `json:"delete_existing,omitempty"`
}

// Command is one instruction for the agent.
type Command struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Command states.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// CommandResult reports a command's progress or outcome.
type CommandResult struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Status string          `json:"status"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	// Progress of write_image: bytes written to the disk so far and the
	// image's total size when known (0 = unknown).
	BytesWritten int64 `json:"bytes_written,omitempty"`
	BytesTotal   int64 `json:"bytes_total,omitempty"`
}

// WriteImage streams an image from URL onto Device, never buffering the
// whole image. Format: "raw", "gzip", "zstd", "qcow2", or "" to detect from
// the content's magic bytes. The checksum is verified while streaming; a
// mismatch fails the command (the disk then holds garbage, and the node is
// not marked active).
type WriteImage struct {
	URL    string `json:"url"`
	Device string `json:"device"` // e.g. /dev/vda; "" = the first disk reported
	Format string `json:"format,omitempty"`
	// Either Checksum (Ironic's image_checksum: md5 hex, or "algo:hex") or
	// HashAlgo + HashValue (image_os_hash_algo/_value: sha256, sha512).
	Checksum  string `json:"checksum,omitempty"`
	HashAlgo  string `json:"hash_algo,omitempty"`
	HashValue string `json:"hash_value,omitempty"`
}

// WriteImageResult is the result of a successful write_image.
type WriteImageResult struct {
	BytesWritten int64  `json:"bytes_written"`
	HashAlgo     string `json:"hash_algo"`
	HashValue    string `json:"hash_value"` // of the image as downloaded
}

// EraseMetadata wipes partition tables and filesystem signatures (start and
// end of the device), Ironic's erase_devices_metadata clean step.
type EraseMetadata struct {
	Device string `json:"device"` // "" = every disk
}

// EraseDevices overwrites every byte of a device with zeros (Ironic's
// erase_devices clean step), reporting progress in bytes.
type EraseDevices struct {
	Device string `json:"device"` // "" = every disk
}

// WriteConfigDrive writes a config drive as Ironic's agent does: a partition
// at the end of the disk (64 MiB; a new MBR or GPT entry, or an existing
// partition holding a config-2 filesystem) receives the ISO image.
type WriteConfigDrive struct {
	Device string `json:"device"` // "" = the first disk reported
	// ConfigDrive is the image: base64 of a (usually gzipped) ISO 9660
	// image, or an http(s) URL serving one (base64 or not, gzipped or not).
	ConfigDrive string `json:"configdrive"`
	// ImageSize is how many bytes the image written before occupies at the
	// start of the disk: the new partition never starts before its end.
	ImageSize int64 `json:"image_size,omitempty"`
}

// WriteConfigDriveResult says where the config drive went.
type WriteConfigDriveResult struct {
	Device    string `json:"device"`
	Partition int    `json:"partition"` // 1-based partition number
	Start     int64  `json:"start"`     // byte offset
	Size      int64  `json:"size"`      // partition size in bytes
	ISOSize   int64  `json:"iso_size"`
}

// Disk is a block device seen by the agent.
type Disk struct {
	Name   string `json:"name"` // e.g. /dev/vda
	Size   int64  `json:"size"` // bytes
	Model  string `json:"model,omitempty"`
	Serial string `json:"serial,omitempty"`
}
