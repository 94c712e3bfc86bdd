package auth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Rule names an Ironic policy rule ("baremetal:node:get").
type Rule string

// The rules ferric enforces, with Ironic's names. Their default check
// strings are in Rule.check.
const (
	NodeCreate                 Rule = "baremetal:node:create"
	NodeCreateSelfOwned        Rule = "baremetal:node:create:self_owned_node"
	NodeList                   Rule = "baremetal:node:list"
	NodeListAll                Rule = "baremetal:node:list_all"
	NodeGet                    Rule = "baremetal:node:get"
	NodeGetFilterThreshold     Rule = "baremetal:node:get:filter_threshold"
	NodeGetLastError           Rule = "baremetal:node:get:last_error"
	NodeGetReservation         Rule = "baremetal:node:get:reservation"
	NodeGetDriverInternalInfo  Rule = "baremetal:node:get:driver_internal_info"
	NodeGetDriverInfo          Rule = "baremetal:node:get:driver_info"
	NodeUpdateDriverInfo       Rule = "baremetal:node:update:driver_info"
	NodeUpdateProperties       Rule = "baremetal:node:update:properties"
	NodeUpdateChassisUUID      Rule = "baremetal:node:update:chassis_uuid"
	NodeUpdateInstanceUUID     Rule = "baremetal:node:update:instance_uuid"
	NodeUpdateLessee           Rule = "baremetal:node:update:lessee"
	NodeUpdateOwner            Rule = "baremetal:node:update:owner"
	NodeUpdateDriverInterfaces Rule = "baremetal:node:update:driver_interfaces"
	NodeUpdateNetworkData      Rule = "baremetal:node:update:network_data"
	NodeUpdateConductorGroup   Rule = "baremetal:node:update:conductor_group"
	NodeUpdateName             Rule = "baremetal:node:update:name"
	NodeUpdateRetired          Rule = "baremetal:node:update:retired"
	NodeUpdateShard            Rule = "baremetal:node:update:shard"
	NodeUpdateParentNode       Rule = "baremetal:node:update:parent_node"
	NodeUpdateDisablePowerOff  Rule = "baremetal:node:update:disable_power_off"
	NodeUpdate                 Rule = "baremetal:node:update"
	NodeUpdateExtra            Rule = "baremetal:node:update_extra"
	NodeUpdateInstanceInfo     Rule = "baremetal:node:update_instance_info"
	NodeUpdateOwnerProvisioned Rule = "baremetal:node:update_owner_provisioned"
	NodeDisableCleaning        Rule = "baremetal:node:disable_cleaning"
	NodeDelete                 Rule = "baremetal:node:delete"
	NodeDeleteSelfOwned        Rule = "baremetal:node:delete:self_owned_node"
	NodeValidate               Rule = "baremetal:node:validate"
	NodeSetMaintenance         Rule = "baremetal:node:set_maintenance"
	NodeClearMaintenance       Rule = "baremetal:node:clear_maintenance"
	NodeGetBootDevice          Rule = "baremetal:node:get_boot_device"
	NodeSetBootDevice          Rule = "baremetal:node:set_boot_device"
	NodeInjectNMI              Rule = "baremetal:node:inject_nmi"
	NodeGetStates              Rule = "baremetal:node:get_states"
	NodeSetPowerState          Rule = "baremetal:node:set_power_state"
	NodeSetProvisionState      Rule = "baremetal:node:set_provision_state"
	NodeSetRAIDState           Rule = "baremetal:node:set_raid_state"
	NodeGetConsole             Rule = "baremetal:node:get_console"
	NodeSetConsoleState        Rule = "baremetal:node:set_console_state"
	NodeTraitsList             Rule = "baremetal:node:traits:list"
	NodeTraitsSet              Rule = "baremetal:node:traits:set"
	NodeTraitsDelete           Rule = "baremetal:node:traits:delete"
	NodeHistoryGet             Rule = "baremetal:node:history:get"
	NodeInventoryGet           Rule = "baremetal:node:inventory:get"
	NodeVendorPassthru         Rule = "baremetal:node:vendor_passthru"
	NodeBIOSGet                Rule = "baremetal:node:bios:get"
	NodeFirmwareGet            Rule = "baremetal:node:firmware:get"
	NodeVMediaAttach           Rule = "baremetal:node:vmedia:attach"
	NodeVMediaDetach           Rule = "baremetal:node:vmedia:detach"
	NodeVMediaGet              Rule = "baremetal:node:vmedia:get"
	PortGet                    Rule = "baremetal:port:get"
	PortList                   Rule = "baremetal:port:list"
	PortListAll                Rule = "baremetal:port:list_all"
	PortCreate                 Rule = "baremetal:port:create"
	PortDelete                 Rule = "baremetal:port:delete"
	PortUpdate                 Rule = "baremetal:port:update"
	PortgroupGet               Rule = "baremetal:portgroup:get"
	PortgroupList              Rule = "baremetal:portgroup:list"
	PortgroupListAll           Rule = "baremetal:portgroup:list_all"
	PortgroupCreate            Rule = "baremetal:portgroup:create"
	PortgroupDelete            Rule = "baremetal:portgroup:delete"
	PortgroupUpdate            Rule = "baremetal:portgroup:update"
	NodeVIFList                Rule = "baremetal:node:vif:list"
	NodeVIFAttach              Rule = "baremetal:node:vif:attach"
	NodeVIFDetach              Rule = "baremetal:node:vif:detach"
	VolumeGet                  Rule = "baremetal:volume:get"
	VolumeList                 Rule = "baremetal:volume:list"
	VolumeListAll              Rule = "baremetal:volume:list_all"
	VolumeCreate               Rule = "baremetal:volume:create"
	VolumeDelete               Rule = "baremetal:volume:delete"
	VolumeUpdate               Rule = "baremetal:volume:update"
	VolumeViewTargetProperties Rule = "baremetal:volume:view_target_properties"
	ChassisGet                 Rule = "baremetal:chassis:get"
	ChassisCreate              Rule = "baremetal:chassis:create"
	ChassisDelete              Rule = "baremetal:chassis:delete"
	ChassisUpdate              Rule = "baremetal:chassis:update"
	DriverGet                  Rule = "baremetal:driver:get"
	DriverGetProperties        Rule = "baremetal:driver:get_properties"
	DriverVendorPassthru       Rule = "baremetal:driver:vendor_passthru"
	DriverGetRAIDDiskProps     Rule = "baremetal:driver:get_raid_logical_disk_properties"
	ConductorGet               Rule = "baremetal:conductor:get"
	ShardsGet                  Rule = "baremetal:shards:get"
	DeployTemplateGet          Rule = "baremetal:deploy_template:get"
	DeployTemplateCreate       Rule = "baremetal:deploy_template:create"
	DeployTemplateUpdate       Rule = "baremetal:deploy_template:update"
	DeployTemplateDelete       Rule = "baremetal:deploy_template:delete"
	InspectionRuleGet          Rule = "baremetal:inspection_rule:get"
	InspectionRuleListAll      Rule = "baremetal:inspection_rule:list_all"
	InspectionRuleCreate       Rule = "baremetal:inspection_rule:create"
	InspectionRuleUpdate       Rule = "baremetal:inspection_rule:update"
	InspectionRuleDelete       Rule = "baremetal:inspection_rule:delete"
	AllocationGet              Rule = "baremetal:allocation:get"
	AllocationList             Rule = "baremetal:allocation:list"
	AllocationListAll          Rule = "baremetal:allocation:list_all"
	AllocationCreate           Rule = "baremetal:allocation:create"
	AllocationCreateRestricted Rule = "baremetal:allocation:create_restricted"
	AllocationDelete           Rule = "baremetal:allocation:delete"
	AllocationUpdate           Rule = "baremetal:allocation:update"
	RunbookGet                 Rule = "baremetal:runbook:get"
	RunbookList                Rule = "baremetal:runbook:list"
	RunbookListAll             Rule = "baremetal:runbook:list_all"
	RunbookCreate              Rule = "baremetal:runbook:create"
	RunbookDelete              Rule = "baremetal:runbook:delete"
	RunbookUpdate              Rule = "baremetal:runbook:update"
	RunbookUpdatePublic        Rule = "baremetal:runbook:update:public"
	RunbookUpdateOwner         Rule = "baremetal:runbook:update:owner"
	RunbookUse                 Rule = "baremetal:runbook:use"
)

// Rules lists every rule Policy knows, in the order above.
func Rules() []Rule {
	return []Rule{NodeCreate, NodeCreateSelfOwned, NodeList, NodeListAll, NodeGet, NodeGetFilterThreshold,
		NodeGetLastError, NodeGetReservation, NodeGetDriverInternalInfo, NodeGetDriverInfo, NodeUpdateDriverInfo,
		NodeUpdateProperties, NodeUpdateChassisUUID, NodeUpdateInstanceUUID, NodeUpdateLessee, NodeUpdateOwner,
		NodeUpdateDriverInterfaces, NodeUpdateNetworkData, NodeUpdateConductorGroup, NodeUpdateName,
		NodeUpdateRetired, NodeUpdateShard, NodeUpdateParentNode, NodeUpdateDisablePowerOff, NodeUpdate,
		NodeUpdateExtra, NodeUpdateInstanceInfo,
		NodeUpdateOwnerProvisioned, NodeDisableCleaning, NodeDelete, NodeDeleteSelfOwned, NodeValidate,
		NodeSetMaintenance, NodeClearMaintenance, NodeGetBootDevice, NodeSetBootDevice, NodeInjectNMI,
		NodeGetStates, NodeSetPowerState, NodeSetProvisionState, NodeSetRAIDState, NodeGetConsole,
		NodeSetConsoleState, NodeTraitsList, NodeTraitsSet,
		NodeTraitsDelete, NodeHistoryGet, NodeInventoryGet, NodeVendorPassthru, NodeBIOSGet, NodeFirmwareGet,
		NodeVMediaAttach, NodeVMediaDetach, NodeVMediaGet, PortGet, PortList,
		PortListAll, PortCreate, PortDelete, PortUpdate, PortgroupGet, PortgroupList, PortgroupListAll,
		PortgroupCreate, PortgroupDelete, PortgroupUpdate, NodeVIFList, NodeVIFAttach, NodeVIFDetach, VolumeGet,
		VolumeList, VolumeListAll, VolumeCreate, VolumeDelete, VolumeUpdate, VolumeViewTargetProperties, ChassisGet,
		ChassisCreate, ChassisDelete, ChassisUpdate, DriverGet, DriverGetProperties, DriverVendorPassthru,
		DriverGetRAIDDiskProps, ConductorGet, ShardsGet, DeployTemplateGet, DeployTemplateCreate,
		DeployTemplateUpdate, DeployTemplateDelete, InspectionRuleGet, InspectionRuleListAll, InspectionRuleCreate,
		InspectionRuleUpdate, InspectionRuleDelete, AllocationGet, AllocationList, AllocationListAll,
		AllocationCreate, AllocationCreateRestricted, AllocationDelete, AllocationUpdate, RunbookGet, RunbookList,
		RunbookListAll, RunbookCreate, RunbookDelete, RunbookUpdate, RunbookUpdatePublic, RunbookUpdateOwner, RunbookUse}
}

// Target is what a node-scoped rule is checked against: the node's owner
// and lessee projects ("" = none).
type Target struct {
	Owner, Lessee string
}

// Policy evaluates Ironic's default rules. The zero value is Ironic's
// default configuration.
type Policy struct {
	// ServiceRoleElevated is Ironic's [DEFAULT]rbac_service_role_elevated_access:
	// the service role in ServiceProject acts as a system member and reader.
	ServiceRoleElevated bool
	// ServiceProject is [DEFAULT]rbac_service_project_name (default
	// "service").
	ServiceProject string
	// NoProjectAdminOwnNodes turns off [api]project_admin_can_manage_own_nodes
	// (on in Ironic): project admins may then not create nodes owned by
	// their project nor delete them.
	NoProjectAdminOwnNodes bool
}

// ProjectAdminCanManageOwnNodes is Ironic's [api]project_admin_can_manage_own_nodes.
func (p *Policy) ProjectAdminCanManageOwnNodes() bool { return !p.NoProjectAdminOwnNodes }

// Allowed reports whether c may do rule on t. Unrestricted credentials may
// do everything; an unknown rule is denied; nil credentials are denied.
func (p *Policy) Allowed(rule Rule, c *Credentials, t Target) bool {
	if c == nil {
		return false
	}
	if c.Unrestricted {
		return true
	}
	chk := rule.check()
	return chk != nil && chk(env{p: p, c: c, t: t})
}

// env is one evaluation: policy settings, credentials and target.
type env struct {
	p *Policy
	c *Credentials
	t Target
}

// check is a check string: a predicate over one evaluation. Checks are plain
// functions (no closures): evaluating a rule allocates nothing.
type check func(e env) bool

func (e env) role(name string) bool { return e.c.HasRole(name) }

// systemAll is "system_scope:all".
func (e env) systemAll() bool { return e.c.SystemScoped() }

// owner is "project_id:%(node.owner)s". Unlike oslo.policy, which compares
// str(None) with str(None), a token without a project never matches a node
// without an owner: a domain-scoped token is not the owner of unowned nodes.
func (e env) owner() bool { return e.c.ProjectID != "" && e.c.ProjectID == e.t.Owner }

// lessee is "project_id:%(node.lessee)s" (same caveat as owner).
func (e env) lessee() bool { return e.c.ProjectID != "" && e.c.ProjectID == e.t.Lessee }

// serviceRole is Ironic's rule service_role: "role:service and
// project_name:%(config.service_project_name)s", where the right side only
// exists when rbac_service_role_elevated_access is set.
func (e env) serviceRole() bool {
	if !e.p.ServiceRoleElevated {
		return false
	}
	project := e.p.ServiceProject
	if project == "" {
		project = "service"
	}
	return e.role("service") && e.c.ProjectName == project
}

// Ironic's check-string constants (ironic/common/policy.py).

// SYSTEM_ADMIN
func systemAdmin(e env) bool { return e.role("admin") && e.systemAll() }

// SYSTEM_MEMBER
func systemMember(e env) bool { return (e.role("member") && e.systemAll()) || e.serviceRole() }

// SYSTEM_READER
func systemReader(e env) bool {
	return (e.role("reader") && e.systemAll()) || (e.role("service") && e.systemAll()) || e.serviceRole()
}

// PROJECT_ADMIN
func projectAdmin(e env) bool { return e.role("admin") && e.owner() }

// PROJECT_MEMBER
func projectMember(e env) bool { return e.role("member") && (e.owner() || e.lessee()) }

// PROJECT_READER
func projectReader(e env) bool { return e.role("reader") && (e.owner() || e.lessee()) }

// SYSTEM_SERVICE
func systemService(e env) bool { return e.role("service") && e.systemAll() }

// PROJECT_SERVICE
func projectService(e env) bool { return e.role("service") && e.owner() }

// PROJECT_OWNER_<ROLE> and PROJECT_LESSEE_<ROLE>
func (e env) ownerRole(r string) bool  { return e.role(r) && e.owner() }
func (e env) lesseeRole(r string) bool { return e.role(r) && e.lessee() }

// SYSTEM_OR_PROJECT_MEMBER
func systemOrProjectMember(e env) bool {
	return systemMember(e) || projectMember(e) || systemService(e)
}

// SYSTEM_OR_PROJECT_READER
func systemOrProjectReader(e env) bool {
	return systemReader(e) || projectReader(e) || projectService(e)
}

// SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN
func systemOrOwnerMemberAndLesseeAdmin(e env) bool {
	return systemMember(e) || systemService(e) || e.ownerRole("member") || e.lesseeRole("admin") ||
		e.lesseeRole("manager") || projectService(e)
}

// SYSTEM_ADMIN_OR_OWNER_ADMIN
func systemAdminOrOwnerAdmin(e env) bool {
	return systemAdmin(e) || systemService(e) || e.ownerRole("admin") || e.ownerRole("manager") || projectService(e)
}

// SYSTEM_MEMBER_OR_OWNER_ADMIN
func systemMemberOrOwnerAdmin(e env) bool {
	return systemMember(e) || systemService(e) || e.ownerRole("admin") || e.ownerRole("manager") || projectService(e)
}

// SYSTEM_MEMBER_OR_OWNER_LESSEE_ADMIN
func systemMemberOrOwnerLesseeAdmin(e env) bool {
	return systemMember(e) || systemService(e) || e.ownerRole("admin") || e.ownerRole("manager") ||
		e.lesseeRole("admin") || e.lesseeRole("manager") || projectService(e)
}

// TARGET_PROPERTIES_READER
func targetPropertiesReader(e env) bool { return systemReader(e) || e.role("admin") }

// SYSTEM_MEMBER_OR_OWNER_MEMBER
func systemMemberOrOwnerMember(e env) bool {
	return systemMember(e) || systemService(e) || e.ownerRole("member") || projectService(e)
}

// SYSTEM_OR_OWNER_READER
func systemOrOwnerReader(e env) bool {
	return systemReader(e) || systemService(e) || e.ownerRole("reader") || projectService(e)
}

// API_READER
func apiReader(e env) bool { return e.role("reader") || e.role("service") }

// RUNBOOK_READER: the target's Owner is the runbook's owner.
func runbookReader(e env) bool { return systemReader(e) || e.ownerRole("reader") || e.role("service") }

// RUNBOOK_ADMIN: the target's Owner is the runbook's owner.
func runbookAdmin(e env) bool { return systemMember(e) || e.ownerRole("manager") || e.role("service") }

// RUNBOOK_CREATOR.
func runbookCreator(e env) bool { return systemMember(e) || e.role("manager") || e.role("service") }

// ALLOCATION_READER: the target's Owner is the allocation's owner.
func allocationReader(e env) bool { return systemReader(e) || e.ownerRole("reader") }

// ALLOCATION_MEMBER
func allocationMember(e env) bool { return systemMember(e) || e.ownerRole("member") }

// ALLOCATION_CREATOR
func allocationCreator(e env) bool { return systemMember(e) || e.role("member") }

// baremetal:node:create
func nodeCreate(e env) bool { return systemAdmin(e) || systemService(e) }

// baremetal:node:create:self_owned_node
func nodeCreateSelfOwned(e env) bool { return e.role("admin") || e.role("service") }

// check returns the rule's default check string (Ironic 2023.1), or nil for
// an unknown rule.
func (r Rule) check() check {
	switch r {
	case NodeCreate:
		return nodeCreate
	case NodeCreateSelfOwned:
		return nodeCreateSelfOwned
	case NodeList, PortList, PortgroupList, VolumeList, AllocationList:
		return apiReader
	case AllocationGet:
		return allocationReader
	case AllocationDelete, AllocationUpdate:
		return allocationMember
	case AllocationCreate:
		return allocationCreator
	case AllocationCreateRestricted, RunbookUpdatePublic, RunbookUpdateOwner:
		return systemMember
	case RunbookGet:
		return runbookReader
	case RunbookList:
		return apiReader
	case RunbookListAll:
		return systemReader
	case RunbookCreate:
		return runbookCreator
	case RunbookDelete, RunbookUpdate, RunbookUse:
		return runbookAdmin
	case NodeListAll, PortListAll, PortgroupListAll, VolumeListAll, AllocationListAll, NodeGetFilterThreshold,
		ShardsGet, ChassisGet, DriverGet, DriverGetProperties, DriverGetRAIDDiskProps, ConductorGet,
		DeployTemplateGet, InspectionRuleGet, InspectionRuleListAll:
		return systemReader
	case NodeGet, PortGet, PortgroupGet, NodeVIFList, VolumeGet, NodeGetStates, NodeTraitsList, NodeBIOSGet,
		NodeFirmwareGet, NodeVMediaGet: // the last two: Ironic 29's
		return systemOrProjectReader
	case VolumeCreate, VolumeDelete:
		return systemMemberOrOwnerLesseeAdmin
	case VolumeViewTargetProperties:
		return targetPropertiesReader
	case NodeGetLastError, NodeGetReservation, NodeGetDriverInternalInfo, NodeGetDriverInfo, NodeHistoryGet,
		NodeInventoryGet:
		return systemOrOwnerReader
	case NodeUpdateDriverInfo, NodeUpdateProperties, NodeUpdateInstanceUUID, NodeUpdateLessee,
		NodeUpdateNetworkData, NodeUpdateName, NodeUpdateRetired, NodeSetRAIDState, NodeGetConsole, NodeSetConsoleState:
		return systemMemberOrOwnerMember
	case NodeUpdateChassisUUID, NodeUpdateShard, NodeUpdateDisablePowerOff, NodeUpdateOwnerProvisioned, NodeDisableCleaning, NodeDelete,
		NodeVendorPassthru, DriverVendorPassthru, ChassisCreate, ChassisDelete, DeployTemplateCreate,
		DeployTemplateUpdate, DeployTemplateDelete, InspectionRuleCreate, InspectionRuleUpdate, InspectionRuleDelete:
		return systemAdmin
	case NodeUpdateOwner, NodeUpdateConductorGroup, NodeUpdateParentNode, ChassisUpdate:
		return systemMember
	case NodeUpdateDriverInterfaces, NodeGetBootDevice, NodeSetBootDevice, NodeInjectNMI, NodeTraitsSet,
		NodeTraitsDelete, PortUpdate, PortgroupUpdate:
		return systemMemberOrOwnerAdmin
	case NodeUpdate, NodeUpdateExtra, NodeSetPowerState, NodeVMediaAttach, NodeVMediaDetach:
		return systemOrProjectMember
	case NodeUpdateInstanceInfo, NodeValidate, NodeSetMaintenance, NodeClearMaintenance, NodeSetProvisionState,
		NodeVIFAttach, NodeVIFDetach, VolumeUpdate:
		return systemOrOwnerMemberAndLesseeAdmin
	case NodeDeleteSelfOwned:
		return projectAdmin
	case PortCreate, PortDelete, PortgroupCreate, PortgroupDelete:
		return systemAdminOrOwnerAdmin
	}
	return nil
}

// PatchOp is what NodePatchRules reads of one JSON Patch operation.
type PatchOp struct {
	Path string
	// Value is the operation's value (nil when it has none).
	Value any
}

// driverInterfaces are Ironic's driver_base.ALL_INTERFACES: a PATCH of
// /<name>_interface needs NodeUpdateDriverInterfaces.
var driverInterfaces = []string{"bios", "boot", "console", "deploy", "firmware", "inspect", "management",
	"network", "power", "raid", "rescue", "storage", "vendor"}

// NodePatchRules returns the rules a node PATCH needs, in Ironic's order
// (NodesController._authorize_patch_and_get_node): one per operation by its
// path, and NodeUpdate for any other path or an empty patch.
func NodePatchRules(ops []PatchOp) []Rule {
	var rules []Rule
	generic := false
	for _, op := range ops {
		p := op.Path
		has := func(prefix string) bool { return strings.HasPrefix(p, prefix) }
		switch {
		case has("/instance_info"):
			rules = append(rules, NodeUpdateInstanceInfo)
		case has("/extra"):
			rules = append(rules, NodeUpdateExtra)
		case has("/automated_clean") && isFalse(op.Value):
			rules = append(rules, NodeDisableCleaning)
		case has("/driver_info"):
			rules = append(rules, NodeUpdateDriverInfo)
		case has("/properties"):
			rules = append(rules, NodeUpdateProperties)
		case has("/chassis_uuid"):
			rules = append(rules, NodeUpdateChassisUUID)
		case has("/instance_uuid"):
			rules = append(rules, NodeUpdateInstanceUUID)
		case has("/lessee"):
			rules = append(rules, NodeUpdateLessee)
		case has("/owner"):
			rules = append(rules, NodeUpdateOwner)
		case has("/driver"):
			rules = append(rules, NodeUpdateDriverInterfaces)
		case isInterfacePath(p):
			rules = append(rules, NodeUpdateDriverInterfaces)
		case has("/network_data"):
			rules = append(rules, NodeUpdateNetworkData)
		case has("/conductor_group"):
			rules = append(rules, NodeUpdateConductorGroup)
		case has("/name"):
			rules = append(rules, NodeUpdateName)
		case has("/retired"):
			rules = append(rules, NodeUpdateRetired)
		case has("/shard"):
			rules = append(rules, NodeUpdateShard)
		case has("/parent_node"):
			rules = append(rules, NodeUpdateParentNode)
		case has("/disable_power_off"):
			rules = append(rules, NodeUpdateDisablePowerOff)
		case has("/maintenance"): // and /maintenance_reason
			rules = append(rules, NodeSetMaintenance)
		default:
			generic = true
		}
	}
	if generic || len(rules) == 0 {
		rules = append(rules, NodeUpdate)
	}
	return rules
}

// isInterfacePath is Ironic's test: the path without its leading slashes,
// split at its last "_", is <interface> and "interface".
func isInterfacePath(p string) bool {
	p = strings.TrimLeft(p, "/")
	i := strings.LastIndexByte(p, '_')
	if i < 0 {
		return false
	}
	return p[i+1:] == "interface" && slices.Contains(driverInterfaces, p[:i])
}

// isFalse is oslo's bool_from_string(value, default=None) is False: the
// value's text, lower-cased and trimmed, is one of 0, f, false, n, no, off.
func isFalse(v any) bool {
	var s string
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return !v
	case string:
		s = v
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		s = fmt.Sprint(v)
	}
	return slices.Contains([]string{"0", "f", "false", "n", "no", "off"}, strings.ToLower(strings.TrimSpace(s)))
}
