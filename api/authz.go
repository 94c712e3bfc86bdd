package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/api/auth"
)

// accessKind says how a route is authorized.
type accessKind uint8

const (
	// accessAnyone: credentials are enough (routes that only answer an
	// error, unknown routes).
	accessAnyone accessKind = iota
	// accessPublic: no credentials (never reaches authorization).
	accessPublic
	// accessGlobal: rule, with no target, before the handler.
	accessGlobal
	// accessNode: node visibility then rule, against the node loadNode
	// reads.
	accessNode
	// accessNodePatch: node visibility then the rules of the patch's paths.
	accessNodePatch
	// accessNodeCreate: node:create, or node:create:self_owned_node (the
	// node is then owned by the caller's project).
	accessNodeCreate
	// accessNodeList: node:list_all, or node:list filtered to the caller's
	// project.
	accessNodeList
	// accessPort: port visibility (its node's) then rule, in loadPort.
	accessPort
	// accessPortCreate: port:create against the body's node.
	accessPortCreate
	// accessPortList: port:list_all, or port:list filtered to the caller's
	// project.
	accessPortList
	// accessNodePorts: a node's ports: node visibility and the port list
	// rules.
	accessNodePorts
	// accessAllocation: allocation visibility (baremetal:allocation:get,
	// else not found) then rule, against the allocation's owner, in
	// loadAllocation.
	accessAllocation
	// accessRunbook: a runbook's rule, checked against its owner by the
	// handler (a public runbook may be read by anyone allowed to list).
	accessRunbook
	// accessAllocationList: allocation:list_all, or allocation:list
	// filtered to the caller's project.
	accessAllocationList
	// accessAllocationCreate: allocation:create; a project-scoped caller's
	// allocation belongs to its project unless allocation:create_restricted.
	accessAllocationCreate
	// accessNodeAllocation: node visibility, then rule against the owner of
	// the node's allocation (in the handler).
	accessNodeAllocation
	// accessList: a collection of objects of nodes (port groups, volume
	// connectors and targets): all (list_all), or rule (list) filtered to
	// the caller's project.
	accessList
	// accessSubList: a collection under a node or a port group: its node's
	// visibility, and the list rules as accessList.
	accessSubList
	// accessObject: an object of a node (port group, volume connector or
	// target): its node's visibility, then rule against the node, where the
	// handler reads it (authorizeObject).
	accessObject
	// accessObjectCreate: rule against the node the body names
	// (authorizeObjectCreate).
	accessObjectCreate
)

// access is how one route is authorized.
type access struct {
	kind accessKind
	rule auth.Rule
	all  auth.Rule // accessList, accessSubList: the list_all rule
}

// routeRule is the access of the routes with method (or "*": any) and
// Fiber path pattern.
type routeRule struct {
	method, path string
	access       access
}

func global(r auth.Rule) access           { return access{kind: accessGlobal, rule: r} }
func onNode(r auth.Rule) access           { return access{kind: accessNode, rule: r} }
func onPort(r auth.Rule) access           { return access{kind: accessPort, rule: r} }
func onAllocation(r auth.Rule) access     { return access{kind: accessAllocation, rule: r} }
func onNodeAllocation(r auth.Rule) access { return access{kind: accessNodeAllocation, rule: r} }
func special(k accessKind) access         { return access{kind: k} }
func onObject(r auth.Rule) access         { return access{kind: accessObject, rule: r} }
func onRunbook(r auth.Rule) access        { return access{kind: accessRunbook, rule: r} }
func creating(r auth.Rule) access         { return access{kind: accessObjectCreate, rule: r} }
func listing(list, all auth.Rule) access {
	return access{kind: accessList, rule: list, all: all}
}
func subListing(list, all auth.Rule) access {
	return access{kind: accessSubList, rule: list, all: all}
}
func public() access { return access{kind: accessPublic} }
func anyone() access { return access{kind: accessAnyone} }

// routeAccess is every route's authorization: Ironic's rule for it. A test
// checks that every route App registers is listed.
func routeAccess() []routeRule {
	get, post, put, patch, del := fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete
	return []routeRule{
		{get, "/", public()},
		{get, "/v1", public()},
		{get, "/v1/lookup", public()},
		{post, "/v1/heartbeat/:node", public()},
		{post, "/v1/continue_inspection", public()},
		// The inventory schema describes a format; it holds no data.
		{get, "/schemas/inventory.v1.json", public()},
		// Liveness and readiness probes (orchestrators and load balancers
		// hold no credentials); they answer dependency names, no data.
		{get, "/healthz", public()},
		{get, "/readyz", public()},
		// Prometheus metrics (served when Server.MetricsHandler is set).
		{get, "/metrics", public()},

		{get, "/v1/nodes", special(accessNodeList)},
		{post, "/v1/nodes", special(accessNodeCreate)},
		{del, "/v1/nodes", anyone()},
		{patch, "/v1/nodes", anyone()},
		{get, "/v1/nodes/detail", special(accessNodeList)},
		{get, "/v1/nodes/validate", onNode(auth.NodeValidate)},
		{get, "/v1/nodes/:ident", onNode(auth.NodeGet)},
		{patch, "/v1/nodes/:ident", special(accessNodePatch)},
		{del, "/v1/nodes/:ident", onNode(auth.NodeDelete)},
		{get, "/v1/nodes/:ident/children", onNode(auth.NodeGet)}, // Ironic: the parent's node:get
		{get, "/v1/nodes/:ident/validate", onNode(auth.NodeValidate)},
		{get, "/v1/nodes/:ident/states", onNode(auth.NodeGetStates)},
		{put, "/v1/nodes/:ident/states/provision", onNode(auth.NodeSetProvisionState)},
		{put, "/v1/nodes/:ident/states/power", onNode(auth.NodeSetPowerState)},
		{put, "/v1/nodes/:ident/states/raid", onNode(auth.NodeSetRAIDState)},
		{get, "/v1/nodes/:ident/states/console", onNode(auth.NodeGetConsole)},
		{put, "/v1/nodes/:ident/states/console", onNode(auth.NodeSetConsoleState)},
		{get, "/v1/nodes/:ident/management/boot_device", onNode(auth.NodeGetBootDevice)},
		{put, "/v1/nodes/:ident/management/boot_device", onNode(auth.NodeSetBootDevice)},
		{get, "/v1/nodes/:ident/management/boot_device/supported", onNode(auth.NodeGetBootDevice)},
		{put, "/v1/nodes/:ident/maintenance", onNode(auth.NodeSetMaintenance)},
		{del, "/v1/nodes/:ident/maintenance", onNode(auth.NodeClearMaintenance)},
		{get, "/v1/nodes/:ident/ports", special(accessNodePorts)},
		{get, "/v1/nodes/:ident/ports/detail", special(accessNodePorts)},
		{get, "/v1/nodes/:ident/history", onNode(auth.NodeHistoryGet)},
		{get, "/v1/nodes/:ident/history/:event", onNode(auth.NodeHistoryGet)},
		{get, "/v1/nodes/:ident/inventory", onNode(auth.NodeInventoryGet)},
		{get, "/v1/nodes/:ident/bios", onNode(auth.NodeBIOSGet)},
		{get, "/v1/nodes/:ident/bios/:name", onNode(auth.NodeBIOSGet)},
		{get, "/v1/nodes/:ident/firmware", onNode(auth.NodeFirmwareGet)},
		{get, "/v1/nodes/:ident/vmedia", onNode(auth.NodeVMediaGet)},
		{post, "/v1/nodes/:ident/vmedia", onNode(auth.NodeVMediaAttach)},
		{del, "/v1/nodes/:ident/vmedia", onNode(auth.NodeVMediaDetach)},
		{get, "/v1/nodes/:ident/traits", onNode(auth.NodeTraitsList)},
		{put, "/v1/nodes/:ident/traits", onNode(auth.NodeTraitsSet)},
		{put, "/v1/nodes/:ident/traits/:trait", onNode(auth.NodeTraitsSet)},
		{del, "/v1/nodes/:ident/traits", onNode(auth.NodeTraitsDelete)},
		{del, "/v1/nodes/:ident/traits/:trait", onNode(auth.NodeTraitsDelete)},
		{get, "/v1/nodes/:ident/vendor_passthru/methods", onNode(auth.NodeVendorPassthru)},
		{"*", "/v1/nodes/:ident/vendor_passthru", onNode(auth.NodeVendorPassthru)},
		{"*", "/v1/nodes/:ident/vendor_passthru/:method", onNode(auth.NodeVendorPassthru)},

		{get, "/v1/nodes/:ident/portgroups", subListing(auth.PortgroupList, auth.PortgroupListAll)},
		{get, "/v1/nodes/:ident/portgroups/detail", subListing(auth.PortgroupList, auth.PortgroupListAll)},
		{post, "/v1/nodes/:ident/portgroups", anyone()},
		{"*", "/v1/nodes/:ident/portgroups/:pg", anyone()},
		{get, "/v1/nodes/:ident/vifs", onNode(auth.NodeVIFList)},
		{post, "/v1/nodes/:ident/vifs", onNode(auth.NodeVIFAttach)},
		{del, "/v1/nodes/:ident/vifs/:vif", onNode(auth.NodeVIFDetach)},
		{get, "/v1/nodes/:ident/volume", global(auth.VolumeGet)},
		{get, "/v1/nodes/:ident/volume/connectors", subListing(auth.VolumeList, auth.VolumeListAll)},
		{get, "/v1/nodes/:ident/volume/targets", subListing(auth.VolumeList, auth.VolumeListAll)},
		{post, "/v1/nodes/:ident/volume/connectors", anyone()},
		{post, "/v1/nodes/:ident/volume/targets", anyone()},
		{"*", "/v1/nodes/:ident/volume/connectors/:uuid", anyone()},
		{"*", "/v1/nodes/:ident/volume/targets/:uuid", anyone()},

		// Ironic shows a node's allocation to whoever sees the node.
		{get, "/v1/nodes/:ident/allocation", onNode(auth.NodeGet)},
		{del, "/v1/nodes/:ident/allocation", onNodeAllocation(auth.AllocationDelete)},

		{get, "/v1/allocations", special(accessAllocationList)},
		{post, "/v1/allocations", special(accessAllocationCreate)},
		{get, "/v1/allocations/:ident", onAllocation(auth.AllocationGet)},
		{patch, "/v1/allocations/:ident", onAllocation(auth.AllocationUpdate)},
		{del, "/v1/allocations/:ident", onAllocation(auth.AllocationDelete)},

		{get, "/v1/ports", special(accessPortList)},
		{post, "/v1/ports", special(accessPortCreate)},
		{del, "/v1/ports", anyone()},
		{patch, "/v1/ports", anyone()},
		{get, "/v1/ports/detail", special(accessPortList)},
		{get, "/v1/ports/:uuid", onPort(auth.PortGet)},
		{patch, "/v1/ports/:uuid", onPort(auth.PortUpdate)},
		{del, "/v1/ports/:uuid", onPort(auth.PortDelete)},

		{get, "/v1/portgroups", listing(auth.PortgroupList, auth.PortgroupListAll)},
		{post, "/v1/portgroups", creating(auth.PortgroupCreate)},
		{del, "/v1/portgroups", anyone()},
		{patch, "/v1/portgroups", anyone()},
		{get, "/v1/portgroups/detail", listing(auth.PortgroupList, auth.PortgroupListAll)},
		{get, "/v1/portgroups/:ident", onObject(auth.PortgroupGet)},
		{patch, "/v1/portgroups/:ident", onObject(auth.PortgroupUpdate)},
		{del, "/v1/portgroups/:ident", onObject(auth.PortgroupDelete)},
		{get, "/v1/portgroups/:ident/ports", subListing(auth.PortList, auth.PortListAll)},
		{get, "/v1/portgroups/:ident/ports/detail", subListing(auth.PortList, auth.PortListAll)},
		{post, "/v1/portgroups/:ident/ports", anyone()},
		{"*", "/v1/portgroups/:ident/ports/:port", anyone()},

		{get, "/v1/volume", global(auth.VolumeGet)},
		{get, "/v1/volume/connectors", listing(auth.VolumeList, auth.VolumeListAll)},
		{post, "/v1/volume/connectors", creating(auth.VolumeCreate)},
		{get, "/v1/volume/connectors/:uuid", onObject(auth.VolumeGet)},
		{patch, "/v1/volume/connectors/:uuid", onObject(auth.VolumeUpdate)},
		{del, "/v1/volume/connectors/:uuid", onObject(auth.VolumeDelete)},
		{get, "/v1/volume/targets", listing(auth.VolumeList, auth.VolumeListAll)},
		{post, "/v1/volume/targets", creating(auth.VolumeCreate)},
		{get, "/v1/volume/targets/:uuid", onObject(auth.VolumeGet)},
		{patch, "/v1/volume/targets/:uuid", onObject(auth.VolumeUpdate)},
		{del, "/v1/volume/targets/:uuid", onObject(auth.VolumeDelete)},

		{get, "/v1/chassis", global(auth.ChassisGet)},
		{post, "/v1/chassis", global(auth.ChassisCreate)},
		{del, "/v1/chassis", anyone()},
		{patch, "/v1/chassis", anyone()},
		{get, "/v1/chassis/detail", global(auth.ChassisGet)},
		{get, "/v1/chassis/:uuid", global(auth.ChassisGet)},
		{patch, "/v1/chassis/:uuid", global(auth.ChassisUpdate)},
		{del, "/v1/chassis/:uuid", global(auth.ChassisDelete)},
		{get, "/v1/chassis/:uuid/nodes", special(accessNodeList)},
		{get, "/v1/chassis/:uuid/nodes/detail", special(accessNodeList)},

		// Deploy templates: Ironic 21.4 has no list rule; get covers both.
		{get, "/v1/deploy_templates", global(auth.DeployTemplateGet)},
		{post, "/v1/deploy_templates", global(auth.DeployTemplateCreate)},
		{del, "/v1/deploy_templates", anyone()},
		{patch, "/v1/deploy_templates", anyone()},
		{get, "/v1/deploy_templates/:ident", global(auth.DeployTemplateGet)},
		{patch, "/v1/deploy_templates/:ident", global(auth.DeployTemplateUpdate)},
		{del, "/v1/deploy_templates/:ident", global(auth.DeployTemplateDelete)},
		// Inspection rules (1.96): Ironic checks only the get rule on a
		// list (list_all is declared but not checked).
		{get, "/v1/inspection_rules", global(auth.InspectionRuleGet)},
		{post, "/v1/inspection_rules", global(auth.InspectionRuleCreate)},
		{del, "/v1/inspection_rules", anyone()},
		{patch, "/v1/inspection_rules", anyone()},
		{get, "/v1/inspection_rules/:uuid", global(auth.InspectionRuleGet)},
		{patch, "/v1/inspection_rules/:uuid", global(auth.InspectionRuleUpdate)},
		{del, "/v1/inspection_rules/:uuid", global(auth.InspectionRuleDelete)},

		// Runbooks (1.92): a runbook's rules are checked against its owner
		// by the handlers (authorizeRunbook).
		{get, "/v1/runbooks", listing(auth.RunbookList, auth.RunbookListAll)},
		{post, "/v1/runbooks", global(auth.RunbookCreate)},
		{del, "/v1/runbooks", anyone()},
		{patch, "/v1/runbooks", anyone()},
		{get, "/v1/runbooks/:ident", onRunbook(auth.RunbookGet)},
		{patch, "/v1/runbooks/:ident", onRunbook(auth.RunbookUpdate)},
		{del, "/v1/runbooks/:ident", onRunbook(auth.RunbookDelete)},

		{get, "/v1/drivers", global(auth.DriverGet)},
		{get, "/v1/drivers/:name", global(auth.DriverGet)},
		{get, "/v1/drivers/:name/properties", global(auth.DriverGetProperties)},
		{get, "/v1/drivers/:name/raid/logical_disk_properties", global(auth.DriverGetRAIDDiskProps)},
		{get, "/v1/drivers/:name/vendor_passthru/methods", global(auth.DriverVendorPassthru)},
		{"*", "/v1/drivers/:name/vendor_passthru", global(auth.DriverVendorPassthru)},
		{"*", "/v1/drivers/:name/vendor_passthru/:method", global(auth.DriverVendorPassthru)},
		{get, "/v1/conductors", global(auth.ConductorGet)},
		{get, "/v1/conductors/:hostname", global(auth.ConductorGet)},
		{get, "/v1/shards", global(auth.ShardsGet)},
	}
}

// routeTable matches a request to its routeRule the way Fiber routes it:
// static segments before parameters (as App registers them), case-
// insensitively, ignoring a trailing slash.
type routeTable struct {
	rules []compiledRule
}

type compiledRule struct {
	method   string
	path     string   // the Fiber path pattern
	segments []string // "" for a parameter
	access   access
}

func newRouteTable(rules []routeRule) *routeTable {
	t := &routeTable{}
	for _, r := range rules {
		cr := compiledRule{method: r.method, path: r.path, access: r.access}
		for _, seg := range splitPath(r.path) {
			if strings.HasPrefix(seg, ":") {
				seg = ""
			}
			cr.segments = append(cr.segments, strings.ToLower(seg))
		}
		t.rules = append(t.rules, cr)
	}
	return t
}

// splitPath splits "/v1/nodes/x/" into ["v1", "nodes", "x"].
func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match returns the access of the route method and path reach, or anyone()
// for a path no route serves (the router answers it).
func (t *routeTable) match(method, path string) access {
	if i := t.find(method, path); i >= 0 {
		return t.rules[i].access
	}
	return anyone()
}

// template returns the path pattern of the route method and path reach
// ("/v1/nodes/:ident"), or routeUnmatched.
func (t *routeTable) template(method, path string) string {
	if i := t.find(method, path); i >= 0 {
		return t.rules[i].path
	}
	return routeUnmatched
}

// find returns the index of the rule method and path reach, or -1.
func (t *routeTable) find(method, path string) int {
	if method == fiber.MethodHead { // Fiber serves HEAD with the GET handler
		method = fiber.MethodGet
	}
	segs := splitPath(path)
	best, bestStatic := -1, -1
	for i := range t.rules {
		r := &t.rules[i]
		if len(r.segments) != len(segs) || (r.method != "*" && r.method != method) {
			continue
		}
		static, ok := 0, true
		for j, want := range r.segments {
			if want == "" { // a parameter: any non-empty segment
				if segs[j] == "" {
					ok = false
					break
				}
				continue
			}
			if !strings.EqualFold(want, segs[j]) {
				ok = false
				break
			}
			static++
		}
		if ok && static > bestStatic {
			best, bestStatic = i, static
		}
	}
	return best
}
