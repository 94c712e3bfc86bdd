package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// nodeFields is Ironic's node representation, in the order Ironic's
// node_convert_with_links emits it: one entry per field (see fields.go;
// the store declares the same fields as columns in store.nodeColumns).
func nodeFields() []field[store.Node] {
	type f = field[store.Node]
	type n = store.Node
	opt := strPtrField[n]
	obj := objectField[n]
	iface := func(k drivers.Kind, min int) f {
		return strNullField(string(k)+"_interface", min, func(n *n) *string { return ifaceOf(&n.Interfaces, k) }).
			input(tColumnNull, inCreate|inPatch)
	}
	uuidOf := func(n *n) *string { return &n.UUID }
	link := func(name string, min int, suffix string) f { return linkField(name, min, "nodes/", uuidOf, suffix) }
	return []f{
		uuidField(uuidOf),
		timeField("created_at", func(n *n) *time.Time { return &n.CreatedAt }).hide(),
		timePtrField("updated_at", 1, func(n *n) **time.Time { return &n.UpdatedAt }).hide(),
		boolPtrField("automated_clean", v47AutomatedClean, func(n *n) **bool { return &n.AutomatedClean }).
			input(tBoolish, inCreate|inPatch),
		iface(drivers.KindBios, v40BiosInterface),
		iface(drivers.KindBoot, v31DynamicInterfaces),
		opt("boot_mode", v75BootMode, func(n *n) **string { return &n.BootMode }).input(tBootModeNull, inCreate),
		obj("clean_step", v7NodeCleanStep, func(n *n) *json.RawMessage { return &n.CleanStep }),
		strField("conductor_group", v46ConductorGroup, func(n *n) *string { return &n.ConductorGroup }).
			input(tStringNull, inCreate|inPatch).blankEmpty().checked(checkConductorGroup),
		boolField("console_enabled", 1, func(n *n) *bool { return &n.ConsoleEnabled }).input(tBoolish, inCreate),
		iface(drivers.KindConsole, v31DynamicInterfaces),
		// Ironic 29 lists disable_power_off here, out of alphabetical order.
		boolField("disable_power_off", v95DisablePowerOff, func(n *n) *bool { return &n.DisablePowerOff }).
			input(tBoolish, inCreate|inPatch),
		iface(drivers.KindDeploy, v31DynamicInterfaces),
		obj("deploy_step", v44DeployStep, func(n *n) *json.RawMessage { return &n.DeployStep }),
		opt("description", v51Description, func(n *n) **string { return &n.Description }).
			input(prop{types: []string{"string", "null"}, maxLen: maxDescription}, inCreate|inPatch),
		strField("driver", 1, func(n *n) *string { return &n.Driver }).input(tColumn, inCreate|inPatch|inRequired),
		obj("driver_info", 1, func(n *n) *json.RawMessage { return &n.DriverInfo }).masked(maskSecrets).
			input(tObjectNull, inCreate|inPatch),
		obj("driver_internal_info", v3DriverInternalInfo, func(n *n) *json.RawMessage { return &n.DriverInternalInfo }).
			masked(maskToken),
		obj("extra", 1, func(n *n) *json.RawMessage { return &n.Extra }).input(tObjectNull, inCreate|inPatch),
		opt("fault", v42Fault, func(n *n) **string { return &n.Fault }),
		iface(drivers.KindFirmware, v86Firmware).listedLast(),
		timePtrField("inspection_finished_at", v6InspectState, func(n *n) **time.Time { return &n.InspectionFinishedAt }),
		timePtrField("inspection_started_at", v6InspectState, func(n *n) **time.Time { return &n.InspectionStartedAt }),
		iface(drivers.KindInspect, v31DynamicInterfaces),
		obj("instance_info", 1, func(n *n) *json.RawMessage { return &n.InstanceInfo }).masked(maskInstance).
			input(tObjectNull, inCreate|inPatch),
		opt("instance_uuid", 1, func(n *n) **string { return &n.InstanceUUID }).
			input(tStringNull, inCreate|inPatch).checked(uuidCheck("instance_uuid")),
		opt("last_error", 1, func(n *n) **string { return &n.LastError }),
		opt("lessee", v65Lessee, func(n *n) **string { return &n.Lessee }).input(tColumnNull, inCreate|inPatch),
		boolField("maintenance", 1, func(n *n) *bool { return &n.Maintenance }).input(tBoolish, inCreate|inPatch),
		opt("maintenance_reason", 1, func(n *n) **string { return &n.MaintenanceReason }),
		iface(drivers.KindManagement, v31DynamicInterfaces),
		opt("name", v5NodeName, func(n *n) **string { return &n.Name }).
			input(tStringNull, inCreate|inPatch).checked(checkNodeNameInput),
		obj("network_data", v66NetworkData, func(n *n) *json.RawMessage { return &n.NetworkData }).
			input(tObjectNull, inCreate|inPatch),
		iface(drivers.KindNetwork, v20NetworkInterface),
		opt("owner", v50Owner, func(n *n) **string { return &n.Owner }).input(tColumnNull, inCreate|inPatch),
		opt("parent_node", v83ParentNode, func(n *n) **string { return &n.ParentNode }).
			input(prop{types: []string{"string", "null"}, maxLen: 36}, inCreate|inPatch).listedLast(),
		iface(drivers.KindPower, v31DynamicInterfaces),
		strNullField("power_state", 1, func(n *n) *string { return (*string)(&n.PowerState) }),
		obj("properties", 1, func(n *n) *json.RawMessage { return &n.Properties }).input(tObjectNull, inCreate|inPatch),
		boolField("protected", v48Protected, func(n *n) *bool { return &n.Protected }).input(tBoolish, inPatch),
		opt("protected_reason", v48Protected, func(n *n) **string { return &n.ProtectedReason }).
			input(tReasonNull, inPatch),
		strNullField("provision_state", 1, func(n *n) *string { return (*string)(&n.ProvisionState) }).
			renderBy(func(b []byte, v *view, n *n) []byte {
				return jsonwire.AppendStringOrNull(b, string(displayProvisionState(n.ProvisionState, v.minor)))
			}),
		timePtrField("provision_updated_at", 1, func(n *n) **time.Time { return &n.ProvisionUpdatedAt }),
		obj("raid_config", v12RAIDConfig, func(n *n) *json.RawMessage { return &n.RAIDConfig }),
		iface(drivers.KindRAID, v31DynamicInterfaces),
		iface(drivers.KindRescue, v38Rescue),
		// Ironic shows the conductor holding the node's lock; ferric's lock
		// is the operation's workflow, and what it holds shows in the row
		// (operationHolds): the API's conductor name, as NodeLocked says.
		computedField("reservation", 1, func(b []byte, v *view, n *n) []byte {
			if operationHolds(n) {
				return jsonwire.AppendString(b, v.conductor)
			}
			return append(b, "null"...)
		}),
		opt("resource_class", v21ResourceClass, func(n *n) **string { return &n.ResourceClass }).
			input(tResourceClass, inCreate|inPatch),
		boolField("retired", v61Retired, func(n *n) *bool { return &n.Retired }).input(tBoolish, inCreate|inPatch),
		opt("retired_reason", v61Retired, func(n *n) **string { return &n.RetiredReason }).
			input(tReasonNull, inCreate|inPatch),
		boolPtrField("secure_boot", v75BootMode, func(n *n) **bool { return &n.SecureBoot }).input(tBoolish, inCreate),
		obj("service_step", v87Servicing, func(n *n) *json.RawMessage { return &n.ServiceStep }),
		opt("shard", v82Shard, func(n *n) **string { return &n.Shard }).input(tColumnNull, inCreate|inPatch),
		iface(drivers.KindStorage, v33StorageInterface),
		strNullField("target_power_state", 1, func(n *n) *string { return (*string)(&n.TargetPowerState) }),
		strNullField("target_provision_state", 1, func(n *n) *string { return (*string)(&n.TargetProvisionState) }),
		obj("target_raid_config", v12RAIDConfig, func(n *n) *json.RawMessage { return &n.TargetRAIDConfig }),
		stringsField("traits", v37Traits, func(n *n) *[]string { return &n.Traits }),
		iface(drivers.KindVendor, v31DynamicInterfaces),
		link("links", 1, "").hide(),
		computedField("conductor", v49Conductors, func(b []byte, v *view, n *n) []byte {
			if n.Conductor != "" { // the worker that ran its last operation
				return jsonwire.AppendString(b, n.Conductor)
			}
			return jsonwire.AppendString(b, v.conductor)
		}).apiComputed(),
		opt("allocation_uuid", v52Allocations, func(n *n) **string { return &n.AllocationUUID }).apiComputed(),
		opt("chassis_uuid", 1, func(n *n) **string { return &n.ChassisUUID }).apiComputed().
			input(tStringNull, inCreate|inPatch).checked(uuidCheck("chassis_uuid")),
		link("ports", 1, "/ports"),
		link("states", v14StatesLinks, "/states"),
		link("portgroups", v24PortgroupSubctl, "/portgroups"),
		link("volume", v32Volume, "/volume"),
	}
}

// nodeRes is the node resource: nodeFields with what they build.
var nodeRes = newResource("nodes", nodeFields(), true, store.NodeSortKeys(),
	func(names []string) *apiError { return badRequest("Field %s is not a valid field.", names[0]) })

// defaultNodeListFields is Ironic's _DEFAULT_RETURN_FIELDS for GET /v1/nodes.
var defaultNodeListFields = []string{"instance_uuid", "maintenance", "power_state", "provision_state", "uuid", "name"}

// nodeStatesFields are the members of GET /v1/nodes/{ident}/states.
var nodeStatesFields = []string{"console_enabled", "last_error", "power_state", "provision_state",
	"target_power_state", "target_provision_state", "provision_updated_at", "raid_config", "target_raid_config",
	"boot_mode", "secure_boot"}

// uuidCheck is argUUID for a string field.
func uuidCheck(name string) func(s string, _ *input) (string, error) {
	return func(s string, _ *input) (string, error) {
		if _, err := argUUID(name, s); err != nil {
			return "", err
		}
		return s, nil
	}
}

// checkNodeNameInput checks a node name in a create body or PATCH.
func checkNodeNameInput(s string, in *input) (string, error) {
	if err := checkNodeName(s, in.v, in.nameErr); err != nil {
		return "", err
	}
	return s, nil
}

// checkConductorGroup is utils.validate_conductor_group, lower-casing.
func checkConductorGroup(s string, _ *input) (string, error) {
	g := strings.ToLower(s)
	if !conductorGroupRE(g) {
		return "", badRequest("Invalid conductor group %s", s)
	}
	return g, nil
}

// displayProvisionState applies Ironic's update_state_in_older_versions:
// before 1.2 "available" was shown as null, before 1.39 "inspect wait" as
// "inspecting".
func displayProvisionState(s node.ProvisionState, minor int) node.ProvisionState {
	switch {
	case s == node.Available && minor < v2AvailableState:
		return node.NoState
	case s == node.InspectWait && minor < v39InspectWait:
		return node.Inspecting
	}
	return s
}

// Masking. Ironic hides secrets in driver_info (oslo's mask_dict_password
// plus the SNMP keys) and instance_info (the same, plus configdrive and
// image_url) unless the caller may see them; with noauth nobody may.

const maskedValue = node.MaskedSecret

// isSecretKey reports whether a driver_info or instance_info key is masked
// (node.IsSecretKey: the store seals the same keys at rest).
func isSecretKey(k string) bool { return node.IsSecretKey(k) }

// mayHoldSecrets is a cheap pre-check on stored JSON (one pass, no
// allocation): when it is false no key can be secret, no string value can
// hold a secret for node.MaskPassword to mask, and the bytes are copied as
// they are. Every fragment of isSecretKey and of oslo's _SANITIZE_KEYS is
// looked for in any ASCII case; a \u escape or a Kelvin sign (which
// lowers to k) may spell one too, so either counts.
func mayHoldSecrets(raw []byte, instance bool) bool {
	for i := 0; i < len(raw); i++ {
		switch raw[i] | 0x20 { // lower-cases ASCII letters
		case 'p':
			if hasFoldAt(raw, i, "pass") || hasFoldAt(raw, i, "pswd") {
				return true
			}
		case 's':
			if hasFoldAt(raw, i, "secret") || hasFoldAt(raw, i, "swifthashsuffix") {
				return true
			}
		case 't':
			if hasFoldAt(raw, i, "token") {
				return true
			}
		case 'k':
			if hasFoldAt(raw, i, "key") {
				return true
			}
		case 'c':
			if hasFoldAt(raw, i, "configdrive") || hasFoldAt(raw, i, "cephclusterfsid") {
				return true
			}
		case 'r':
			if hasFoldAt(raw, i, "rabbitcookie") {
				return true
			}
		case 'b':
			if hasFoldAt(raw, i, "barbicansimplecryptokek") {
				return true
			}
		case 'i':
			if instance && hasFoldAt(raw, i, "image_url") {
				return true
			}
		}
		if raw[i] == '\\' && i+1 < len(raw) && raw[i+1] == 'u' ||
			raw[i] == 0xe2 && bytes.HasPrefix(raw[i:], []byte("\u212a")) { // KELVIN SIGN
			return true
		}
	}
	return false
}

// hasFoldAt reports whether b[i:] starts with the lower-case ASCII word w in
// any case.
func hasFoldAt(b []byte, i int, w string) bool {
	if len(b)-i < len(w) {
		return false
	}
	for j := 0; j < len(w); j++ {
		c := b[i+j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[j] {
			return false
		}
	}
	return true
}

// appendMasked renders driver_info (instance=false) or instance_info with
// secret values replaced by "******". It rewrites the stored bytes in one
// pass; stored values are valid JSON (jsonb), and anything it cannot parse
// is shown unmasked only if it holds no secret-looking key at all.
func appendMasked(b []byte, raw []byte, instance bool) []byte {
	if len(raw) == 0 || !mayHoldSecrets(raw, instance) {
		return jsonwire.AppendRawObject(b, raw)
	}
	out, _, ok := maskRaw(b, raw, skipSpace(raw, 0), instance)
	if !ok {
		return append(b, `{"error":"unreadable value hidden"}`...)
	}
	return out
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at i.
func skipValue(raw []byte, i int) (int, bool) {
	if i >= len(raw) {
		return i, false
	}
	switch raw[i] {
	case '"':
		for j := i + 1; j < len(raw); j++ {
			switch raw[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return len(raw), false
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				end, ok := skipValue(raw, j)
				if !ok {
					return end, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return len(raw), false
	default:
		j := i
		for j < len(raw) && !strings.ContainsRune(",}] \t\n\r", rune(raw[j])) {
			j++
		}
		return j, j > i
	}
}

// maskRaw copies the object at raw[i:] to b, masking secret keys at every
// depth (mask_dict_password), in lists too (maskArray), the secrets
// written inside the other keys' string values (appendMaskedString), and for
// instance_info the top-level configdrive and image_url when set. It
// returns the index after the object.
func maskRaw(b []byte, raw []byte, i int, instance bool) ([]byte, int, bool) {
	if i >= len(raw) || raw[i] != '{' {
		return b, i, false
	}
	return copyContainer(b, raw, i, '}', func(b []byte, i int) ([]byte, int, bool) {
		kEnd, ok := skipValue(raw, i)
		if !ok || raw[i] != '"' {
			return b, i, false
		}
		rawKey := raw[i:kEnd]
		key := string(rawKey[1 : len(rawKey)-1])
		if bytes.IndexByte(rawKey, '\\') >= 0 {
			if err := json.Unmarshal(rawKey, &key); err != nil {
				return b, i, false
			}
		}
		i = skipSpace(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return b, i, false
		}
		i = skipSpace(raw, i+1)
		b = append(b, rawKey...)
		b = append(b, ':')
		// Ironic hides instance_info's configdrive (a string or an
		// object) and image_url whenever they are set.
		whenSet := instance && (key == "configdrive" || key == "image_url")
		switch {
		case i < len(raw) && raw[i] == '{' && !whenSet:
			// Objects are descended whatever their key, as oslo does.
			return maskRaw(b, raw, i, false)
		case i < len(raw) && raw[i] == '[' && !whenSet && !isSecretKey(key):
			return maskArray(b, raw, i)
		}
		vEnd, ok := skipValue(raw, i)
		if !ok {
			return b, i, false
		}
		val := raw[i:vEnd]
		switch {
		case (isSecretKey(key) && val[0] != '{') || (whenSet && rawTruthy(val)):
			b = append(b, `"`+maskedValue+`"`...)
		case val[0] == '"':
			return appendMaskedString(b, val, vEnd)
		default:
			b = append(b, val...)
		}
		return b, vEnd, true
	})
}

// appendMaskedString copies the JSON string val (quoted, as stored) to b
// with the secrets written inside it masked, as mask_dict_password masks
// the string value of a key that is not secret (oslo's mask_password:
// node.MaskPassword). A string that cannot hold a sanitize key is copied
// without being decoded, and one that MaskPassword leaves alone is copied
// as it is stored. It returns end, the index after val, and false when val
// is not a valid JSON string.
func appendMaskedString(b []byte, val []byte, end int) ([]byte, int, bool) {
	if !mayHoldSecrets(val[1:len(val)-1], false) {
		return append(b, val...), end, true
	}
	var s string
	if bytes.IndexByte(val, '\\') < 0 {
		s = string(val[1 : len(val)-1])
	} else if err := json.Unmarshal(val, &s); err != nil {
		return b, end, false
	}
	if m := node.MaskPassword(s); m != s {
		return jsonwire.AppendString(b, m), end, true
	}
	return append(b, val...), end, true
}

// maskArray copies the array at raw[i:] to b, masking the objects in it
// (and in arrays in it) as maskRaw does and the secrets written inside its
// strings (appendMaskedString); other elements are copied as they are.
// oslo's mask_dict_password leaves lists alone, so Ironic shows
// {"bmcs": [{"password": "x"}]} and ["password=x"] in clear; ferric does
// not.
func maskArray(b []byte, raw []byte, i int) ([]byte, int, bool) {
	return copyContainer(b, raw, i, ']', func(b []byte, i int) ([]byte, int, bool) {
		switch {
		case i < len(raw) && raw[i] == '{':
			return maskRaw(b, raw, i, false)
		case i < len(raw) && raw[i] == '[':
			return maskArray(b, raw, i)
		}
		end, ok := skipValue(raw, i)
		if !ok {
			return b, i, false
		}
		if raw[i] == '"' {
			return appendMaskedString(b, raw[i:end], end)
		}
		return append(b, raw[i:end]...), end, true
	})
}

// copyContainer copies the object or array whose opening bracket is
// raw[i] (and whose closing one is end) to b, with its commas: each of its
// members or elements is copied by elem, which returns the index after it.
// It returns the index after the container, and false when raw is not
// valid there.
func copyContainer(b []byte, raw []byte, i int, end byte,
	elem func(b []byte, i int) ([]byte, int, bool)) ([]byte, int, bool) {
	b = append(b, raw[i])
	i = skipSpace(raw, i+1)
	first := true
	for i < len(raw) && raw[i] != end {
		if !first {
			if raw[i] != ',' {
				return b, i, false
			}
			b = append(b, ',')
			i = skipSpace(raw, i+1)
		}
		first = false
		var ok bool
		if b, i, ok = elem(b, i); !ok {
			return b, i, false
		}
		i = skipSpace(raw, i)
	}
	if i >= len(raw) {
		return b, i, false
	}
	return append(b, end), i + 1, true
}

// rawTruthy is Python's truth value of a raw JSON scalar or container.
func rawTruthy(v []byte) bool {
	switch string(v) {
	case "null", "false", `""`, "0", "[]", "{}":
		return false
	}
	return true
}

// appendDriverInternalInfo hides the agent token, as Ironic does.
func appendDriverInternalInfo(b []byte, raw []byte) []byte {
	if len(raw) == 0 || !bytes.Contains(raw, []byte("agent_secret_token")) {
		return jsonwire.AppendRawObject(b, raw)
	}
	v, err := jsonwire.DecodeStored(raw)
	o, ok := v.(*jsonwire.Object)
	if err != nil || !ok {
		return jsonwire.AppendRawObject(b, raw)
	}
	if val, ok := o.Get("agent_secret_token"); ok && jsonwire.Truthy(val) {
		o.Set("agent_secret_token", maskedValue)
	}
	return jsonwire.AppendValue(b, o)
}
