// Package raid holds what ferric knows of RAID configurations, as Ironic's
// ironic.common.raid: filtering a node's target configuration for the
// create step, and recording the configuration a RAID interface built on
// the node (raid_config, and the root volume's size, device hint and RAID
// level in properties). Pure functions: no I/O.
package raid

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ferric-project/ferric/drivers"
)

// config is a RAID configuration with its logical disks decoded and every
// other member kept.
type config map[string]any

func decode(raw json.RawMessage) (config, error) {
	c := config{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return c, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return nil, err
	}
	if c == nil {
		c = config{}
	}
	return c, nil
}

func (c config) disks() []map[string]any {
	list, _ := c["logical_disks"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, d := range list {
		if m, ok := d.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func isRoot(d map[string]any) bool { b, _ := d["is_root_volume"].(bool); return b }

// Filter returns the node's target RAID configuration without its root
// volume (createRoot false) and/or without its other volumes
// (createNonRoot false), as Ironic's filter_target_raid_config. An empty
// target, or one left without logical disks, is an error wrapping
// drivers.ErrFailed with Ironic's message.
func Filter(nodeUUID string, target json.RawMessage, createRoot, createNonRoot bool) (json.RawMessage, error) {
	c, err := decode(target)
	if err != nil {
		return nil, fmt.Errorf("%w: target_raid_config of node %s: %w", drivers.ErrFailed, nodeUUID, err)
	}
	if len(c) == 0 {
		return nil, failed("Node %s has no target RAID configuration.", nodeUUID)
	}
	disks := c.disks()
	var skipped []string
	if !createRoot {
		disks = keep(disks, func(d map[string]any) bool { return !isRoot(d) })
		skipped = append(skipped, "skipping root volume")
	}
	if !createNonRoot {
		disks = keep(disks, isRoot)
		skipped = append(skipped, "skipping non-root volumes")
	}
	if len(disks) == 0 {
		return nil, failed("Node %s has empty target RAID configuration after %s.", nodeUUID,
			strings.Join(skipped, " and "))
	}
	list := make([]any, len(disks))
	for i, d := range disks {
		list[i] = d
	}
	c["logical_disks"] = list
	return json.Marshal(c)
}

func keep(disks []map[string]any, ok func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, d := range disks {
		if ok(d) {
			out = append(out, d)
		}
	}
	return out
}

// Info is what recording a RAID configuration writes on a node.
type Info struct {
	RAIDConfig json.RawMessage
	Properties json.RawMessage
}

// Applied records the RAID configuration a RAID interface built (Ironic's
// update_raid_info): raid_config is applied with last_updated set to now,
// and when it has a root volume, properties get its size as local_gb
// (unless MAX), its root_device_hint as root_device and its RAID level as
// the raid_level capability.
func Applied(props, applied json.RawMessage, now time.Time) (Info, error) {
	c, err := decode(applied)
	if err != nil {
		return Info{}, fmt.Errorf("%w: RAID configuration: %w", drivers.ErrFailed, err)
	}
	var roots []map[string]any
	for _, d := range c.disks() {
		if isRoot(d) {
			roots = append(roots, d)
		}
	}
	if len(roots) > 1 {
		return Info{}, fmt.Errorf("%w: Raid config cannot have more than one root volume. %d root volumes were specified",
			drivers.ErrFailed, len(roots))
	}
	c["last_updated"] = pyUTC(now)
	out := Info{}
	if out.RAIDConfig, err = json.Marshal(c); err != nil {
		return Info{}, err
	}
	p, err := decode(props)
	if err != nil {
		return Info{}, fmt.Errorf("%w: properties: %w", drivers.ErrFailed, err)
	}
	if len(roots) == 1 {
		root := roots[0]
		if size, ok := root["size_gb"]; ok && size != "MAX" {
			p["local_gb"] = size
		}
		if hint, ok := root["root_device_hint"]; ok {
			p["root_device"] = hint
		}
		capabilities, _ := p["capabilities"].(string)
		level := fmt.Sprint(root["raid_level"])
		if p["capabilities"], err = setCapability(capabilities, "raid_level", level); err != nil {
			return Info{}, err
		}
	}
	if out.Properties, err = json.Marshal(p); err != nil {
		return Info{}, err
	}
	return out, nil
}

// Deleted records that a node's RAID configuration was deleted (Ironic's
// delete_configuration hook): raid_config is {} and the root device hint
// goes.
func Deleted(props json.RawMessage) (Info, error) {
	p, err := decode(props)
	if err != nil {
		return Info{}, fmt.Errorf("%w: properties: %w", drivers.ErrFailed, err)
	}
	delete(p, "root_device")
	raw, err := json.Marshal(p)
	if err != nil {
		return Info{}, err
	}
	return Info{RAIDConfig: json.RawMessage(`{}`), Properties: raw}, nil
}

// failed is drivers.ErrFailed with Ironic's message (a sentence, ending
// with its full stop as Ironic's does).
func failed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", drivers.ErrFailed, fmt.Sprintf(format, args...))
}

// setCapability is Ironic's get_updated_capabilities for one key: the
// "key:value,..." string with key set (in place when present, appended
// otherwise).
func setCapability(caps, key, value string) (string, error) {
	var keys, vals []string
	if caps != "" {
		for _, kv := range strings.Split(caps, ",") {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				return "", failed("Invalid capabilities string '%s'.", caps)
			}
			keys, vals = append(keys, k), append(vals, v)
		}
	}
	found := false
	for i, k := range keys {
		if k == key {
			vals[i], found = value, true
		}
	}
	if !found {
		keys, vals = append(keys, key), append(vals, value)
	}
	parts := make([]string, len(keys))
	for i := range keys {
		parts[i] = keys[i] + ":" + vals[i]
	}
	return strings.Join(parts, ","), nil
}

// pyUTC is Python's str() of a naive UTC datetime, as Ironic writes
// last_updated.
func pyUTC(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}
