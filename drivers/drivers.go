// Package drivers defines ferric's hardware driver contract, in Ironic's terms:
// a hardware type (the node's "driver") is composed of interfaces (power,
// management, deploy, vendor, ...), each picked per node by name.
//
// Tiers:
//   - core: Power (on/off/state). Every hardware type has it.
//   - common: optional capabilities with fixed shapes (Management for boot
//     devices, Rebooter, SoftPower, Deploy), found by type assertion or by
//     interface kind.
//   - vendor: Vendor passthru, named methods with opaque JSON in and out.
//
// This package knows nothing about Temporal, HTTP or the database. Factories
// validate a node's driver_info and do no I/O.
package drivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Drivers wrap library errors onto these so that callers can
// classify failures without importing any protocol library.
var (
	ErrUnsupported   = errors.New("drivers: operation not supported by this driver")
	ErrUnknownDriver = errors.New("drivers: unknown driver")
	ErrBadConfig     = errors.New("drivers: invalid driver_info")
	ErrAuth          = errors.New("drivers: credentials rejected by the BMC")
	ErrUnreachable   = errors.New("drivers: BMC unreachable")
	ErrFailed        = errors.New("drivers: operation failed")
)

// PowerState is a node's power state, with Ironic's wire names.
type PowerState string

// Power states.
const (
	PowerOn  PowerState = "power on"
	PowerOff PowerState = "power off"
)

// BootDevice is an Ironic boot device name.
type BootDevice string

// Boot devices.
const (
	BootPXE   BootDevice = "pxe"
	BootDisk  BootDevice = "disk"
	BootCDROM BootDevice = "cdrom"
	BootBIOS  BootDevice = "bios"
	BootSafe  BootDevice = "safe"
)

// Node is what a factory sees of a node: identity and configuration, never a
// live connection. Secrets in DriverInfo stay inside the driver.
type Node struct {
	UUID         string
	DriverInfo   json.RawMessage
	InstanceInfo json.RawMessage
	Properties   json.RawMessage
	// PowerState is the last recorded power state ("" when unknown).
	PowerState PowerState
	// AutomatedClean is the node's automated_clean (nil: the service's
	// default).
	AutomatedClean *bool
	// TargetRAIDConfig is the node's target_raid_config, which RAID
	// interfaces build.
	TargetRAIDConfig json.RawMessage
	// AttachedMedia is the virtual media ferric recorded as attached to
	// the node (by device type), for interfaces that keep no state of their
	// own (the fake). Only the virtual media activities load it.
	AttachedMedia []AttachedMedia
	// DisablePowerOff: the node must never lose power (API 1.95): a
	// reboot resets it rather than cycling its power, as Ironic's does.
	DisablePowerOff bool
}

// Power is the core tier: every hardware type has a power interface.
type Power interface {
	PowerState(ctx context.Context) (PowerState, error)
	SetPowerState(ctx context.Context, s PowerState) error
}

// Rebooter is an optional power capability; Reboot falls back to off+on.
type Rebooter interface {
	Reboot(ctx context.Context) error
}

// SoftPower is an optional power capability (ACPI soft off and reboot).
type SoftPower interface {
	SoftPowerOff(ctx context.Context, timeout time.Duration) error
	SoftReboot(ctx context.Context, timeout time.Duration) error
}

// Management is the common-tier boot device interface.
type Management interface {
	SupportedBootDevices(ctx context.Context) ([]BootDevice, error)
	BootDevice(ctx context.Context) (dev BootDevice, persistent bool, err error)
	SetBootDevice(ctx context.Context, dev BootDevice, persistent bool) error
}

// VirtualMediaDevice is a device type virtual media attach as (Ironic's
// boot_devices.VMEDIA_DEVICES).
type VirtualMediaDevice string

// Virtual media device types, in Ironic's order.
const (
	VMediaDisk   VirtualMediaDevice = "disk"
	VMediaCDROM  VirtualMediaDevice = "cdrom"
	VMediaFloppy VirtualMediaDevice = "floppy"
)

// VirtualMediaDevices lists the device types in Ironic's order.
func VirtualMediaDevices() []VirtualMediaDevice {
	return []VirtualMediaDevice{VMediaDisk, VMediaCDROM, VMediaFloppy}
}

// AttachedMedia is an image attached to a node as a virtual media device.
type AttachedMedia struct {
	Device   VirtualMediaDevice `json:"device_type"`
	ImageURL string             `json:"image_url"`
	// DownloadSource is how the image reaches the BMC (Ironic's
	// image_download_source: http, local or swift).
	DownloadSource string `json:"image_download_source"`
}

// VirtualMedia is one virtual media device as a BMC reports it (an item of
// Ironic's get_virtual_media: Redfish media types, whether an image is
// inserted, and its URL, nil when none).
type VirtualMedia struct {
	MediaTypes []string `json:"media_types"`
	Inserted   bool     `json:"inserted"`
	Image      *string  `json:"image"`
}

// VirtualMediaManager is an optional capability of a management interface
// (Ironic's ManagementInterface get/attach/detach_virtual_media). Attach
// and detach return the media attached afterwards, which the caller
// records (AttachedMedia); a nil devs detaches every device.
type VirtualMediaManager interface {
	VirtualMedia(ctx context.Context) ([]VirtualMedia, error)
	AttachVirtualMedia(ctx context.Context, m AttachedMedia) ([]AttachedMedia, error)
	DetachVirtualMedia(ctx context.Context, devs []VirtualMediaDevice) ([]AttachedMedia, error)
}

// Deploy is the common-tier deploy interface. Deploy returns done=true when
// the image is in place (fake, or a driver that writes it itself), or
// done=false when the node boots a ramdisk whose agent calls back.
type Deploy interface {
	Deploy(ctx context.Context) (done bool, err error)
	TearDown(ctx context.Context) error
	Clean(ctx context.Context) (done bool, err error)
}

// Rescuer is the rescue interface (Ironic's rescue_interface). Rescue
// returns done=true when the node is in its rescue environment (fake), or
// done=false when it boots a ramdisk whose agent calls back. Unrescue
// returns the node to its instance.
type Rescuer interface {
	Rescue(ctx context.Context) (done bool, err error)
	Unrescue(ctx context.Context) error
}

// Inspector is the common-tier inspect interface. InspectHardware returns
// the node's hardware inventory as one JSON document in ironic-python-agent's
// format ({"inventory": ..., "plugin_data": ...}; the schema is
// drivers/inventory's), which the caller validates and stores unaltered; or
// nil when the ramdisk agent inspects (in-band): the workflow boots it.
type Inspector interface {
	InspectHardware(ctx context.Context) (json.RawMessage, error)
}

// VendorMethod describes one vendor passthru method.
type VendorMethod struct {
	HTTPMethods          []string `json:"http_methods"` // e.g. ["POST"]
	Async                bool     `json:"async"`
	Description          string   `json:"description"`
	Attach               bool     `json:"attach"`
	RequireExclusiveLock bool     `json:"require_exclusive_lock"`
}

// Vendor is the vendor tier: named methods, JSON in, JSON out, opaque to ferric.
type Vendor interface {
	VendorMethods() map[string]VendorMethod
	CallVendor(ctx context.Context, method string, args json.RawMessage) (json.RawMessage, error)
}

// Reboot prefers the driver's native reboot and falls back to off then on,
// except for a node that must keep its power (keepPower: its
// DisablePowerOff), which a power interface without a reboot of its own
// cannot reboot (ErrUnsupported).
func Reboot(ctx context.Context, p Power, keepPower bool) error {
	if r, ok := p.(Rebooter); ok {
		return r.Reboot(ctx)
	}
	if keepPower {
		return fmt.Errorf("%w: reboot without powering off (disable_power_off): the power interface can only "+
			"power off, then on", ErrUnsupported)
	}
	if err := p.SetPowerState(ctx, PowerOff); err != nil {
		return err
	}
	return p.SetPowerState(ctx, PowerOn)
}
