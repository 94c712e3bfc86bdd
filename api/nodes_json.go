package api

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/ferric-project/ferric/api/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// nodeField identifies one member of Ironic's node representation. The
// constants are in the order Ironic's node_convert_with_links emits them.
type nodeField uint8

const (
	nfUUID nodeField = iota
	nfCreatedAt
	nfUpdatedAt
	nfAutomatedClean
	nfBiosInterface
	nfBootInterface
	nfBootMode
	nfCleanStep
	nfConductorGroup
	nfConsoleEnabled
	nfConsoleInterface
	nfDeployInterface
	nfDeployStep
	nfDescription
	nfDriver
	nfDriverInfo
	nfDriverInternalInfo
	nfExtra
	nfFault
	nfInspectionFinishedAt
	nfInspectionStartedAt
	nfInspectInterface
	nfInstanceInfo
	nfInstanceUUID
	nfLastError
	nfLessee
	nfMaintenance
	nfMaintenanceReason
	nfManagementInterface
	nfName
	nfNetworkData
	nfNetworkInterface
	nfOwner
	nfPowerInterface
	nfPowerState
	nfProperties
	nfProtected
	nfProtectedReason
	nfProvisionState
	nfProvisionUpdatedAt
	nfRAIDConfig
	nfRAIDInterface
	nfRescueInterface
	nfReservation
	nfResourceClass
	nfRetired
	nfRetiredReason
	nfSecureBoot
	nfShard
	nfStorageInterface
	nfTargetPowerState
	nfTargetProvisionState
	nfTargetRAIDConfig
	nfTraits
	nfVendorInterface
	nfLinks
	nfConductor
	nfAllocationUUID
	nfChassisUUID
	nfPorts
	nfStates
	nfPortgroups
	nfVolume
	nfCount
)

type nodeFieldSpec struct {
	name string
	min  int // first microversion showing the field
}

// nodeFields describes every field, indexed by nodeField.
var nodeFields = [nfCount]nodeFieldSpec{
	nfUUID:                 {"uuid", 1},
	nfCreatedAt:            {"created_at", 1},
	nfUpdatedAt:            {"updated_at", 1},
	nfAutomatedClean:       {"automated_clean", v47AutomatedClean},
	nfBiosInterface:        {"bios_interface", v40BiosInterface},
	nfBootInterface:        {"boot_interface", v31DynamicInterfaces},
	nfBootMode:             {"boot_mode", v75BootMode},
	nfCleanStep:            {"clean_step", v7NodeCleanStep},
	nfConductorGroup:       {"conductor_group", v46ConductorGroup},
	nfConsoleEnabled:       {"console_enabled", 1},
	nfConsoleInterface:     {"console_interface", v31DynamicInterfaces},
	nfDeployInterface:      {"deploy_interface", v31DynamicInterfaces},
	nfDeployStep:           {"deploy_step", v44DeployStep},
	nfDescription:          {"description", v51Description},
	nfDriver:               {"driver", 1},
	nfDriverInfo:           {"driver_info", 1},
	nfDriverInternalInfo:   {"driver_internal_info", v3DriverInternalInfo},
	nfExtra:                {"extra", 1},
	nfFault:                {"fault", v42Fault},
	nfInspectionFinishedAt: {"inspection_finished_at", v6InspectState},
	nfInspectionStartedAt:  {"inspection_started_at", v6InspectState},
	nfInspectInterface:     {"inspect_interface", v31DynamicInterfaces},
	nfInstanceInfo:         {"instance_info", 1},
	nfInstanceUUID:         {"instance_uuid", 1},
	nfLastError:            {"last_error", 1},
	nfLessee:               {"lessee", v65Lessee},
	nfMaintenance:          {"maintenance", 1},
	nfMaintenanceReason:    {"maintenance_reason", 1},
	nfManagementInterface:  {"management_interface", v31DynamicInterfaces},
	nfName:                 {"name", v5NodeName},
	nfNetworkData:          {"network_data", v66NetworkData},
	nfNetworkInterface:     {"network_interface", v20NetworkInterface},
	nfOwner:                {"owner", v50Owner},
	nfPowerInterface:       {"power_interface", v31DynamicInterfaces},
	nfPowerState:           {"power_state", 1},
	nfProperties:           {"properties", 1},
	nfProtected:            {"protected", v48Protected},
	nfProtectedReason:      {"protected_reason", v48Protected},
	nfProvisionState:       {"provision_state", 1},
	nfProvisionUpdatedAt:   {"provision_updated_at", 1},
	nfRAIDConfig:           {"raid_config", v12RAIDConfig},
	nfRAIDInterface:        {"raid_interface", v31DynamicInterfaces},
	nfRescueInterface:      {"rescue_interface", v38Rescue},
	nfReservation:          {"reservation", 1},
	nfResourceClass:        {"resource_class", v21ResourceClass},
	nfRetired:              {"retired", v61Retired},
	nfRetiredReason:        {"retired_reason", v61Retired},
	nfSecureBoot:           {"secure_boot", v75BootMode},
	nfShard:                {"shard", v82Shard},
	nfStorageInterface:     {"storage_interface", v33StorageInterface},
	nfTargetPowerState:     {"target_power_state", 1},
	nfTargetProvisionState: {"target_provision_state", 1},
	nfTargetRAIDConfig:     {"target_raid_config", v12RAIDConfig},
	nfTraits:               {"traits", v37Traits},
	nfVendorInterface:      {"vendor_interface", v31DynamicInterfaces},
	nfLinks:                {"links", 1},
	nfConductor:            {"conductor", v49Conductors},
	nfAllocationUUID:       {"allocation_uuid", v52Allocations},
	nfChassisUUID:          {"chassis_uuid", 1},
	nfPorts:                {"ports", 1},
	nfStates:               {"states", v14StatesLinks},
	nfPortgroups:           {"portgroups", v24PortgroupSubctl},
	nfVolume:               {"volume", v32Volume},
}

// nodeFieldByName maps the names a client may ask for in ?fields= to
// fields. Ironic accepts every object field plus the API-computed
// chassis_uuid, conductor and allocation_uuid, but not created_at,
// updated_at or the link members.
var nodeFieldByName = func() map[string]nodeField {
	m := make(map[string]nodeField, nfCount)
	for f := nfUUID; f < nfLinks; f++ {
		if f == nfCreatedAt || f == nfUpdatedAt {
			continue
		}
		m[nodeFields[f].name] = f
	}
	m["conductor"] = nfConductor
	m["allocation_uuid"] = nfAllocationUUID
	m["chassis_uuid"] = nfChassisUUID
	return m
}()

// defaultNodeListFields is Ironic's _DEFAULT_RETURN_FIELDS for GET /v1/nodes.
var defaultNodeListFields = []string{"instance_uuid", "maintenance", "power_state", "provision_state", "uuid", "name"}

// nodePlan is the ordered list of fields rendered for one request.
type nodePlan []nodeField

// fullNodePlan is the representation of a single node (GET, POST, PATCH and
// detail lists) at microversion v.
func fullNodePlan(v int) nodePlan {
	p := make(nodePlan, 0, nfCount)
	for f := nfUUID; f < nfCount; f++ {
		if v >= nodeFields[f].min {
			p = append(p, f)
		}
	}
	return p
}

// fieldsNodePlan is the representation for ?fields=a,b (already validated):
// uuid first if asked for, then the other object fields in the order asked,
// links, then the API-computed fields, as Ironic's object_to_dict and
// sanitize_dict produce.
func fieldsNodePlan(v int, fields []string) nodePlan {
	p := make(nodePlan, 0, len(fields)+1)
	want := make([]bool, nfCount)
	for _, name := range fields {
		if f, ok := nodeFieldByName[name]; ok && v >= nodeFields[f].min {
			want[f] = true
		}
	}
	if want[nfUUID] {
		p = append(p, nfUUID)
	}
	for _, name := range fields {
		f := nodeFieldByName[name]
		switch f {
		case nfUUID, nfConductor, nfAllocationUUID, nfChassisUUID:
			continue
		}
		if want[f] {
			want[f] = false // each once, at its first mention
			p = append(p, f)
		}
	}
	p = append(p, nfLinks)
	for _, f := range []nodeField{nfConductor, nfAllocationUUID, nfChassisUUID} {
		if want[f] {
			p = append(p, f)
		}
	}
	return p
}

// nodeView carries what rendering needs besides the node.
type nodeView struct {
	minor     int
	base      string // public URL, no trailing slash
	escBase   string // base, escaped for a JSON string
	conductor string
}

// appendNode renders n with plan p.
func (v *nodeView) appendNode(b []byte, n *store.Node, p nodePlan) []byte {
	b = append(b, '{')
	for i, f := range p {
		b = jsonwire.AppendKey(b, nodeFields[f].name, i == 0)
		b = v.appendNodeField(b, n, f)
	}
	return append(b, '}')
}

func (v *nodeView) appendNodeField(b []byte, n *store.Node, f nodeField) []byte {
	switch f {
	case nfUUID:
		return jsonwire.AppendString(b, n.UUID)
	case nfCreatedAt:
		if n.CreatedAt.IsZero() {
			return append(b, "null"...)
		}
		return jsonwire.AppendTime(b, n.CreatedAt)
	case nfUpdatedAt:
		return jsonwire.AppendTimePtr(b, n.UpdatedAt)
	case nfAutomatedClean:
		return jsonwire.AppendBoolPtr(b, n.AutomatedClean)
	case nfBiosInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Bios)
	case nfBootInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Boot)
	case nfBootMode:
		return jsonwire.AppendStringPtr(b, n.BootMode)
	case nfCleanStep:
		return jsonwire.AppendRawObject(b, n.CleanStep)
	case nfConductorGroup:
		return jsonwire.AppendString(b, n.ConductorGroup)
	case nfConsoleEnabled:
		return jsonwire.AppendBool(b, n.ConsoleEnabled)
	case nfConsoleInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Console)
	case nfDeployInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Deploy)
	case nfDeployStep:
		return jsonwire.AppendRawObject(b, n.DeployStep)
	case nfDescription:
		return jsonwire.AppendStringPtr(b, n.Description)
	case nfDriver:
		return jsonwire.AppendString(b, n.Driver)
	case nfDriverInfo:
		return appendMasked(b, n.DriverInfo, false)
	case nfDriverInternalInfo:
		return appendDriverInternalInfo(b, n.DriverInternalInfo)
	case nfExtra:
		return jsonwire.AppendRawObject(b, n.Extra)
	case nfFault:
		return jsonwire.AppendStringPtr(b, n.Fault)
	case nfInspectionFinishedAt:
		return jsonwire.AppendTimePtr(b, n.InspectionFinishedAt)
	case nfInspectionStartedAt:
		return jsonwire.AppendTimePtr(b, n.InspectionStartedAt)
	case nfInspectInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Inspect)
	case nfInstanceInfo:
		return appendMasked(b, n.InstanceInfo, true)
	case nfInstanceUUID:
		return jsonwire.AppendStringPtr(b, n.InstanceUUID)
	case nfLastError:
		return jsonwire.AppendStringPtr(b, n.LastError)
	case nfLessee:
		return jsonwire.AppendStringPtr(b, n.Lessee)
	case nfMaintenance:
		return jsonwire.AppendBool(b, n.Maintenance)
	case nfMaintenanceReason:
		return jsonwire.AppendStringPtr(b, n.MaintenanceReason)
	case nfManagementInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Management)
	case nfName:
		return jsonwire.AppendStringPtr(b, n.Name)
	case nfNetworkData:
		return jsonwire.AppendRawObject(b, n.NetworkData)
	case nfNetworkInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Network)
	case nfOwner:
		return jsonwire.AppendStringPtr(b, n.Owner)
	case nfPowerInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Power)
	case nfPowerState:
		return jsonwire.AppendStringOrNull(b, string(n.PowerState))
	case nfProperties:
		return jsonwire.AppendRawObject(b, n.Properties)
	case nfProtected:
		return jsonwire.AppendBool(b, n.Protected)
	case nfProtectedReason:
		return jsonwire.AppendStringPtr(b, n.ProtectedReason)
	case nfProvisionState:
		return jsonwire.AppendStringOrNull(b, string(displayProvisionState(n.ProvisionState, v.minor)))
	case nfProvisionUpdatedAt:
		return jsonwire.AppendTimePtr(b, n.ProvisionUpdatedAt)
	case nfRAIDConfig:
		return jsonwire.AppendRawObject(b, n.RAIDConfig)
	case nfRAIDInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.RAID)
	case nfRescueInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Rescue)
	case nfReservation:
		// The node lock is a Temporal workflow ID; it is not visible here.
		return append(b, "null"...)
	case nfResourceClass:
		return jsonwire.AppendStringPtr(b, n.ResourceClass)
	case nfRetired:
		return jsonwire.AppendBool(b, n.Retired)
	case nfRetiredReason:
		return jsonwire.AppendStringPtr(b, n.RetiredReason)
	case nfSecureBoot:
		return jsonwire.AppendBoolPtr(b, n.SecureBoot)
	case nfShard:
		return jsonwire.AppendStringPtr(b, n.Shard)
	case nfStorageInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Storage)
	case nfTargetPowerState:
		return jsonwire.AppendStringOrNull(b, string(n.TargetPowerState))
	case nfTargetProvisionState:
		return jsonwire.AppendStringOrNull(b, string(n.TargetProvisionState))
	case nfTargetRAIDConfig:
		return jsonwire.AppendRawObject(b, n.TargetRAIDConfig)
	case nfTraits:
		if n.Traits == nil {
			return append(b, '[', ']')
		}
		return jsonwire.AppendStrings(b, n.Traits)
	case nfVendorInterface:
		return jsonwire.AppendStringOrNull(b, n.Interfaces.Vendor)
	case nfLinks:
		return appendLinksParts(b, v.escBase, "nodes/", n.UUID, "")
	case nfConductor:
		return jsonwire.AppendString(b, v.conductor)
	case nfAllocationUUID:
		return append(b, "null"...)
	case nfChassisUUID:
		return jsonwire.AppendStringPtr(b, n.ChassisUUID)
	case nfPorts:
		return appendLinksParts(b, v.escBase, "nodes/", n.UUID, "/ports")
	case nfStates:
		return appendLinksParts(b, v.escBase, "nodes/", n.UUID, "/states")
	case nfPortgroups:
		return appendLinksParts(b, v.escBase, "nodes/", n.UUID, "/portgroups")
	case nfVolume:
		return appendLinksParts(b, v.escBase, "nodes/", n.UUID, "/volume")
	}
	return append(b, "null"...)
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

const maskedValue = "******"

// isSecretKey reports whether a driver_info or instance_info key is masked
// (node.IsSecretKey: the store seals the same keys at rest).
func isSecretKey(k string) bool { return node.IsSecretKey(k) }

// mayHoldSecrets is a cheap pre-check on stored JSON (one pass, no
// allocation): when it is false no key can be secret and the bytes are
// copied as they are.
func mayHoldSecrets(raw []byte, instance bool) bool {
	for i := 0; i < len(raw); i++ {
		switch raw[i] | 0x20 { // lower-cases ASCII letters
		case 'p':
			if hasFoldAt(raw, i, "pass") || hasFoldAt(raw, i, "pswd") {
				return true
			}
		case 's':
			if hasFoldAt(raw, i, "secret") {
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
			if hasFoldAt(raw, i, "configdrive") {
				return true
			}
		case 'i':
			if instance && hasFoldAt(raw, i, "image_url") {
				return true
			}
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
// depth (mask_dict_password), in lists too (maskArray), and for
// instance_info the top-level configdrive and image_url when set. It
// returns the index after the object.
func maskRaw(b []byte, raw []byte, i int, instance bool) ([]byte, int, bool) {
	if i >= len(raw) || raw[i] != '{' {
		return b, i, false
	}
	b = append(b, '{')
	i = skipSpace(raw, i+1)
	first := true
	for i < len(raw) && raw[i] != '}' {
		if !first {
			if raw[i] != ',' {
				return b, i, false
			}
			b = append(b, ',')
			i = skipSpace(raw, i+1)
		}
		first = false
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
			b, i, ok = maskRaw(b, raw, i, false)
			if !ok {
				return b, i, false
			}
		case i < len(raw) && raw[i] == '[' && !whenSet && !isSecretKey(key):
			b, i, ok = maskArray(b, raw, i)
			if !ok {
				return b, i, false
			}
		default:
			vEnd, ok := skipValue(raw, i)
			if !ok {
				return b, i, false
			}
			val := raw[i:vEnd]
			if (isSecretKey(key) && val[0] != '{') || (whenSet && rawTruthy(val)) {
				b = append(b, `"******"`...)
			} else {
				b = append(b, val...)
			}
			i = vEnd
		}
		i = skipSpace(raw, i)
	}
	if i >= len(raw) {
		return b, i, false
	}
	return append(b, '}'), i + 1, true
}

// maskArray copies the array at raw[i:] to b, masking the objects in it
// (and in arrays in it) as maskRaw does; other elements are copied as they
// are. oslo's mask_dict_password leaves lists alone, so Ironic shows
// {"bmcs": [{"password": "x"}]} in clear; ferric does not.
func maskArray(b []byte, raw []byte, i int) ([]byte, int, bool) {
	b = append(b, '[')
	i = skipSpace(raw, i+1)
	first := true
	for i < len(raw) && raw[i] != ']' {
		if !first {
			if raw[i] != ',' {
				return b, i, false
			}
			b = append(b, ',')
			i = skipSpace(raw, i+1)
		}
		first = false
		ok := false
		switch {
		case i < len(raw) && raw[i] == '{':
			b, i, ok = maskRaw(b, raw, i, false)
		case i < len(raw) && raw[i] == '[':
			b, i, ok = maskArray(b, raw, i)
		default:
			var end int
			if end, ok = skipValue(raw, i); ok {
				b = append(b, raw[i:end]...)
				i = end
			}
		}
		if !ok {
			return b, i, false
		}
		i = skipSpace(raw, i)
	}
	if i >= len(raw) {
		return b, i, false
	}
	return append(b, ']'), i + 1, true
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
	if val, ok := o.Get("agent_secret_token"); ok && truthy(val) {
		o.Set("agent_secret_token", maskedValue)
	}
	return jsonwire.AppendValue(b, o)
}

// truthy is Python's truth value of a decoded JSON value.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case *jsonwire.Object:
		return t.Len() > 0
	default:
		return true
	}
}
