package drivers

import (
	"encoding/json"
	"strings"
)

// Boot modes, as Ironic names them.
const (
	BootModeUEFI = "uefi"
	BootModeBIOS = "bios"
)

// BootMode finds the boot mode recorded on a node the way Ironic does: the
// deploy boot mode in instance_info (deploy_boot_mode, or boot_mode), then a
// boot_mode capability in instance_info, then one in properties. It returns
// BootModeUEFI, BootModeBIOS or "" when the node records none.
func BootMode(instanceInfo, properties json.RawMessage) string {
	var ii struct {
		DeployBootMode string          `json:"deploy_boot_mode"`
		BootMode       string          `json:"boot_mode"`
		Capabilities   json.RawMessage `json:"capabilities"`
	}
	var props struct {
		Capabilities json.RawMessage `json:"capabilities"`
	}
	_ = json.Unmarshal(instanceInfo, &ii)
	_ = json.Unmarshal(properties, &props)
	for _, m := range []string{ii.DeployBootMode, ii.BootMode, Capability(ii.Capabilities, "boot_mode"),
		Capability(props.Capabilities, "boot_mode")} {
		if m := strings.ToLower(strings.TrimSpace(m)); m == BootModeUEFI || m == BootModeBIOS {
			return m
		}
	}
	return ""
}

// Capability reads key from Ironic capabilities: "k1:v1,k2:v2" or an object.
func Capability(raw json.RawMessage, key string) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		for _, kv := range strings.Split(s, ",") {
			if k, v, ok := strings.Cut(kv, ":"); ok && strings.TrimSpace(k) == key {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		if v, ok := m[key].(string); ok {
			return v
		}
	}
	return ""
}
