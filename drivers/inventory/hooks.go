package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ferric-project/ferric/jsonwire"
)

// Ironic 29's default inspection hooks for the "agent" inspect interface
// ([inspector]default_hooks = ramdisk-error, validate-interfaces, ports,
// architecture), as pure functions over the posted inventory and
// plugin_data. The writes they imply (ports, cpu_arch) are described in
// Processed for the caller to make.

// ErrHook is the class of every hook failure (Ironic's
// HardwareInspectionFailure / InvalidNodeInventory): the inspection fails.
var ErrHook = errors.New("inspection hook failed")

// HookError is a hook failure: Msg is Ironic's message. It matches ErrHook.
type HookError struct{ Msg string }

func (e *HookError) Error() string { return ErrHook.Error() + ": " + e.Msg }

// Is makes a *HookError match ErrHook.
func (e *HookError) Is(target error) bool { return target == ErrHook }

// hookError is a *HookError with a formatted message.
func hookError(format string, a ...any) error { return &HookError{Msg: fmt.Sprintf(format, a...)} }

// HookInterface is one NIC as validate-interfaces keeps it.
type HookInterface struct {
	Name     string
	MAC      string // as reported (Ironic keeps the case the ramdisk sent)
	PXE      bool   // the machine booted from it (inventory boot.pxe_interface)
	ClientID string // DHCP client-id (InfiniBand), "" if none
}

// Processed is the outcome of the hooks.
type Processed struct {
	// PluginData is the posted plugin_data with what the hooks add
	// (all_interfaces, valid_interfaces, macs), keys in Ironic's order, and
	// without "logs" (Ironic stores ramdisk logs apart, never with the
	// data).
	PluginData json.RawMessage
	// All is every interface with a name and a valid MAC; Valid those the
	// add_ports policy selects (ports are created for them).
	All, Valid []HookInterface
	// CPUArch is inventory cpu.architecture (the architecture hook).
	CPUArch string
}

// Add-ports policies (Ironic's [inspector]add_ports).
const (
	AddPortsAll      = "all"
	AddPortsActive   = "active"
	AddPortsPXE      = "pxe"
	AddPortsDisabled = "disabled"
)

// osloMAC is oslo_utils.netutils.is_valid_mac on a lower-cased address.
var osloMAC = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// RunHooks runs the default hooks on a posted inventory and plugin_data
// (both JSON objects) with the add_ports policy ("" = "pxe"). An error
// is a *HookError with Ironic's message.
func RunHooks(inventory, pluginData json.RawMessage, addPorts string) (Processed, error) {
	var out Processed
	if addPorts == "" {
		addPorts = AddPortsPXE
	}
	pd, err := orderedObject(pluginData)
	if err != nil {
		return out, hookError("plugin_data: %v", err)
	}
	// ramdisk-error
	if raw, ok := pd.get("error"); ok && truthy(raw) {
		var msg any
		_ = json.Unmarshal(raw, &msg)
		return out, hookError("Ramdisk reported error: %s", pyStr(msg))
	}
	inv, err := orderedObject(inventory)
	if err != nil {
		return out, hookError("inventory: %v", err)
	}
	// validate-interfaces
	var boot struct {
		PXE any `json:"pxe_interface"`
	}
	if raw, ok := inv.get("boot"); ok {
		_ = json.Unmarshal(raw, &boot)
	}
	pxeMAC, _ := boot.PXE.(string)
	if pxeMAC != "" && strings.Contains(pxeMAC, "-") {
		_, rest, _ := strings.Cut(pxeMAC, "-") // pxelinux: 01-aa-bb-cc-dd-ee-ff
		pxeMAC = strings.ToLower(strings.ReplaceAll(rest, "-", ":"))
	}
	rawIfaces, ok := inv.get("interfaces")
	if !ok {
		return out, hookError("Invalid inventory: no interfaces present in inventory")
	}
	var ifaces []json.RawMessage
	if err := json.Unmarshal(rawIfaces, &ifaces); err != nil {
		return out, hookError("Invalid inventory: interfaces: %v", err)
	}
	all, valid := &object{}, &object{}
	var macs []string
	for _, raw := range ifaces {
		o, err := orderedObject(raw)
		if err != nil {
			continue
		}
		name, mac := o.str("name"), o.str("mac_address")
		if name == "" || mac == "" || !osloMAC.MatchString(strings.ToLower(mac)) {
			continue
		}
		ip6 := o.str("ipv6_address")
		if i := strings.Index(ip6, "%"); i >= 0 {
			ip6 = ip6[:i]
		}
		pxe := strings.ToLower(mac) == pxeMAC
		o.Set("pxe_enabled", json.RawMessage(fmt.Sprint(pxe)))
		if ip6 == "" {
			o.Set("ipv6_address", json.RawMessage("null"))
		} else {
			o.Set("ipv6_address", mustJSON(ip6))
		}
		hi := HookInterface{Name: name, MAC: mac, PXE: pxe, ClientID: o.str("client_id")}
		all.Set(name, o.encode())
		if i := indexOf(out.All, name); i >= 0 {
			out.All[i] = hi
		} else {
			out.All = append(out.All, hi)
		}
	}
	if len(out.All) == 0 {
		return out, hookError("Invalid inventory: no valid network interfaces")
	}
	for _, hi := range out.All {
		raw, _ := all.get(hi.Name)
		o, _ := orderedObject(raw)
		ip := o.str("ipv4_address")
		if ip == "" {
			ip = o.str("ipv6_address")
		}
		switch {
		case hi.Name == "lo" || (ip != "" && isLoopback(ip)):
			continue
		case addPorts == AddPortsPXE && pxeMAC != "" && !hi.PXE:
			continue
		case addPorts == AddPortsActive && ip == "":
			continue
		}
		valid.Set(hi.Name, raw)
		out.Valid = append(out.Valid, hi)
		macs = append(macs, hi.MAC)
	}
	if len(out.Valid) == 0 {
		return out, hookError("Invalid inventory: no network interfaces match the configuration (add_ports set to %q)",
			addPorts)
	}
	pd.Set("all_interfaces", all.encode())
	pd.Set("valid_interfaces", valid.encode())
	pd.Set("macs", mustJSON(macs))
	// architecture
	var cpu struct {
		Arch any `json:"architecture"`
	}
	rawCPU, _ := inv.get("cpu")
	_ = json.Unmarshal(rawCPU, &cpu)
	arch, ok := cpu.Arch.(string)
	if !ok {
		return out, hookError("Inventory has malformed or missing CPU architecture information: %s",
			compact(rawCPU))
	}
	out.CPUArch = arch
	// Ironic drops the logs before storing the data.
	pd.Delete("logs")
	out.PluginData = pd.encode()
	return out, nil
}

func indexOf(l []HookInterface, name string) int {
	for i, h := range l {
		if h.Name == name {
			return i
		}
	}
	return -1
}

func isLoopback(ip string) bool {
	return strings.HasPrefix(ip, "127.") || ip == "::1"
}

// truthy is Python's truth of a JSON value (text that does not decode is
// true: the ramdisk sent something).
func truthy(raw json.RawMessage) bool {
	v, err := jsonwire.DecodeStored(raw)
	return err != nil || jsonwire.Truthy(v)
}

func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "None"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// object is a JSON object whose members (raw JSON values) keep their order,
// as Python's dict keeps them: setting an existing key keeps its place, a
// new one goes last.
type object struct{ jsonwire.Object }

func orderedObject(raw json.RawMessage) (*object, error) {
	o := &object{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return o, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o.Set(kt.(string), v)
	}
	return o, nil
}

func (o *object) get(k string) (json.RawMessage, bool) {
	v, ok := o.Get(k)
	raw, _ := v.(json.RawMessage)
	return raw, ok
}

func (o *object) str(k string) string {
	raw, _ := o.get(k)
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func (o *object) encode() json.RawMessage { return jsonwire.Encode(&o.Object) }
