package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// view is what rendering c's answer needs.
func (s *Server) view(c *fiber.Ctx) *view {
	base := s.publicURL(c)
	return &view{minor: minor(c), base: base, escBase: escapeURL(base), conductor: s.conductor()}
}

// loadNode reads the node named by ident (UUID or name), checking the
// identifier as Ironic does at the negotiated microversion.
func (s *Server) loadNode(c *fiber.Ctx, ident string) (store.Node, error) {
	if !isUUIDLike(ident) {
		if !isValidLogicalName(ident) {
			return store.Node{}, badRequest("Expected UUID or name for node_ident: %s", ident)
		}
		v := minor(c)
		if v < v5NodeName {
			return store.Node{}, nodeNotFound(ident)
		}
		if v < v10UnrestrictedName && !isHostnameSafe(ident) {
			return store.Node{}, badRequest("Expected a logical name or UUID but received %s.", ident)
		}
	}
	n, err := s.Store.Node(c.UserContext(), ident)
	if errors.Is(err, store.ErrNotFound) {
		return store.Node{}, nodeNotFound(ident)
	}
	if err != nil {
		return store.Node{}, fmt.Errorf("read node %s: %w", ident, err)
	}
	if err := s.authorizeNode(c, &n, ident); err != nil { // auth.go
		return store.Node{}, err
	}
	return n, nil
}

// parseFields reads ?fields= like Ironic's string_list: trimmed, lower-case,
// de-duplicated, in order.
func parseFields(c *fiber.Ctx) ([]string, bool) {
	raw, ok := query(c, "fields")
	if !ok {
		return nil, false
	}
	var out []string
	for _, f := range strings.Split(raw, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f != "" && !contains(out, f) {
			out = append(out, f)
		}
	}
	return out, true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// getNode answers GET /v1/nodes/{ident}.
func (s *Server) getNode(c *fiber.Ctx) error {
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	s.redactNode(c, &n) // auth.go
	return getObject(s, c, nodeRes, &n)
}

// nodeStates answers GET /v1/nodes/{ident}/states.
func (s *Server) nodeStates(c *fiber.Ctx) error {
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	return sendObject(s, c, fiber.StatusOK, nodeRes, &n, nodeRes.namedPlan(minor(c), nodeStatesFields...))
}

// validFaults are Ironic 21.4's faults.VALID_FAULTS.
var validFaults = []string{"power failure", "clean failure", "rescue abort failure"}

// nodeListRequest is a parsed node collection request.
type nodeListRequest struct {
	collectionQuery
	q      store.ListNodes
	keep   []func(*store.Node) bool
	args   [][2]string // extra query arguments echoed in the next link
	noNext bool
}

// queryBool reads a boolean query parameter (nil when absent).
func queryBool(c *fiber.Ctx, name string) (*bool, error) {
	raw, ok := query(c, name)
	if !ok {
		return nil, nil
	}
	b, aerr := argBool(name, raw)
	if aerr != nil {
		return nil, aerr
	}
	return b, nil
}

// queryLimit reads ?limit= and applies Ironic's validate_limit.
func (s *Server) queryLimit(c *fiber.Ctx) (int, error) {
	raw, ok := query(c, "limit")
	if !ok {
		return s.maxLimit(), nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		return 0, badRequest("Expected an integer for limit: %s", raw)
	}
	if n <= 0 {
		return 0, badRequest("Limit must be positive")
	}
	return min(n, s.maxLimit()), nil
}

// querySort reads sort_key and sort_dir.
func querySort(c *fiber.Ctx) (key, dir string, err error) {
	key, ok := query(c, "sort_key")
	if !ok {
		key = "id"
	}
	dir, ok = query(c, "sort_dir")
	if !ok {
		dir = "asc"
	}
	if dir != "asc" && dir != "desc" {
		return "", "", badRequest("Invalid sort direction: %s. Acceptable values are 'asc' or 'desc'", dir)
	}
	return key, dir, nil
}

// parseNodeList reads the query of a node collection request. detailPath is
// true for .../detail, where ?fields and ?detail are not accepted.
func (s *Server) parseNodeList(c *fiber.Ctx, detailPath bool) (*nodeListRequest, error) {
	v := minor(c)
	r := &nodeListRequest{}
	str := func(name string, minV int) (string, bool, error) {
		val, ok := query(c, name)
		if ok && v < minV {
			return "", false, notAcceptableMin(minV)
		}
		return val, ok, nil
	}

	if raw, ok := query(c, "chassis_uuid"); ok {
		if _, err := argUUID("chassis_uuid", raw); err != nil {
			return nil, err
		}
		r.q.ChassisUUID = raw
	}
	if raw, ok := query(c, "instance_uuid"); ok {
		if _, err := argUUID("instance_uuid", raw); err != nil {
			return nil, err
		}
		r.q.InstanceUUID = raw
		r.noNext = true
	}
	var err error
	if r.q.Associated, err = queryBool(c, "associated"); err != nil {
		return nil, err
	}
	if r.q.Maintenance, err = queryBool(c, "maintenance"); err != nil {
		return nil, err
	}
	if r.q.Retired, err = queryBool(c, "retired"); err != nil {
		return nil, err
	}
	includeChildren, err := queryBool(c, "include_children")
	if err != nil {
		return nil, err
	}
	marker, hasMarker := query(c, "marker")
	if hasMarker {
		if _, err := argUUID("marker", marker); err != nil {
			return nil, err
		}
	}
	if r.collectionQuery, err = parseCollection(s, c, nodeRes, detailPath); err != nil {
		return nil, err
	}
	if err := nodeRes.gateSort(v, r.sortKey); err != nil {
		return nil, err
	}
	if ps, ok, err := str("provision_state", v9ProvisionFilter); err != nil {
		return nil, err
	} else if ok {
		if !slices.Contains(node.States(), node.ProvisionState(ps)) {
			return nil, badRequest("Provision state \"%s\" is not valid", ps)
		}
		st := node.ProvisionState(ps)
		r.q.ProvisionState = &st
		r.args = append(r.args, [2]string{"provision_state", ps})
	}
	filters := []struct {
		name string
		min  int
		dst  *string
	}{
		{"driver", v16DriverFilter, &r.q.Driver},
		{"resource_class", v21ResourceClass, &r.q.ResourceClass},
		{"fault", v42Fault, &r.q.Fault},
		{"conductor_group", v46ConductorGroup, &r.q.ConductorGroup},
		{"owner", v50Owner, &r.q.Owner},
		{"lessee", v65Lessee, &r.q.Lessee},
	}
	for _, f := range filters {
		val, ok, err := str(f.name, f.min)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if f.name == "fault" && !contains(validFaults, val) {
			return nil, badRequest("Unrecognized fault \"%s\" is specified, allowed faults are %s",
				val, pyTuple(validFaults))
		}
		if f.name == "conductor_group" {
			val = strings.ToLower(val)
		}
		*f.dst = val
		r.args = append(r.args, [2]string{f.name, val})
	}
	if cond, ok, err := str("conductor", v49Conductors); err != nil {
		return nil, err
	} else if ok {
		// The worker that ran a node's last operation; nodes never operated
		// on show (and match) Server.Conductor.
		r.q.Conductors = []string{cond}
		if cond == s.conductor() {
			r.q.Conductors = append(r.q.Conductors, "")
		}
		r.args = append(r.args, [2]string{"conductor", cond})
	}
	if raw, ok, err := str("shard", v82Shard); err != nil {
		return nil, err
	} else if ok {
		var shards []string
		for _, sh := range strings.Split(raw, ",") {
			if sh = strings.ToLower(strings.TrimSpace(sh)); sh != "" && !contains(shards, sh) {
				shards = append(shards, sh)
			}
		}
		if len(shards) == 1 {
			r.q.Shard = shards[0]
		} else if len(shards) > 1 {
			r.keep = append(r.keep, func(n *store.Node) bool { return n.Shard != nil && contains(shards, *n.Shard) })
		}
		r.args = append(r.args, [2]string{"shard", strings.Join(shards, ",")})
	}
	if raw, ok, err := str("sharded", v82Shard); err != nil {
		return nil, err
	} else if ok {
		b, aerr := argBool("sharded", raw)
		if aerr != nil {
			return nil, aerr
		}
		want := *b
		r.keep = append(r.keep, func(n *store.Node) bool { return (n.Shard != nil && *n.Shard != "") == want })
		r.args = append(r.args, [2]string{"sharded", pyBool(want)})
	}
	// Child nodes (API 1.83) are left out unless include_children is true
	// or parent_node names their parent (by UUID: a name matches nothing);
	// neither is echoed in the next link, as in Ironic.
	parent, hasParent := query(c, "parent_node")
	if (includeChildren != nil || hasParent) && v < v83ParentNode {
		return nil, notAcceptableMin(v83ParentNode)
	}
	r.q.ParentNode = parent
	r.q.IncludeChildren = includeChildren != nil && *includeChildren
	if hasParent && parent == "" && !r.q.IncludeChildren {
		r.keep = append(r.keep, func(*store.Node) bool { return false }) // no node's parent is ""
	}
	if dc, ok := query(c, "description_contains"); ok {
		r.keep = append(r.keep, func(n *store.Node) bool {
			return n.Description != nil && strings.Contains(*n.Description, dc)
		})
		r.args = append(r.args, [2]string{"description_contains", dc})
	}
	if project, ok := query(c, "project"); ok {
		r.keep = append(r.keep, func(n *store.Node) bool {
			return (n.Owner != nil && *n.Owner == project) || (n.Lessee != nil && *n.Lessee == project)
		})
		r.args = append(r.args, [2]string{"project", project})
	}

	if err := r.returnFields(v, detailPath, defaultNodeListFields); err != nil {
		return nil, err
	}

	// _get_nodes_collection.
	if err := nodeRes.checkSort(r.sortKey); err != nil {
		return nil, err
	}
	r.q.Limit = r.limit
	if r.sortKey != "id" {
		r.q.SortKey = r.sortKey
	}
	r.q.SortDesc = r.sortDir == "desc"
	if hasMarker {
		m, err := s.Store.Node(c.UserContext(), marker)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nodeNotFound(marker)
		}
		if err != nil {
			return nil, fmt.Errorf("read marker node %s: %w", marker, err)
		}
		r.q.MarkerID = m.ID
	}
	return r, nil
}

// pyBool is Python's str() of a bool, as Ironic echoes booleans in links.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// pyTuple is Python's repr() of a tuple of strings.
func pyTuple(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = pyStr(s)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// fetchNodes runs q, applying post-filters (filters the store does not
// offer) and refilling short pages so that a full page still means "more".
func (s *Server) fetchNodes(ctx context.Context, q store.ListNodes, keep []func(*store.Node) bool) ([]store.Node, error) {
	if len(keep) == 0 {
		return s.Store.ListNodes(ctx, q)
	}
	var out []store.Node
	for {
		page, err := s.Store.ListNodes(ctx, q)
		if err != nil {
			return nil, err
		}
	rows:
		for i := range page {
			for _, k := range keep {
				if !k(&page[i]) {
					continue rows
				}
			}
			out = append(out, page[i])
			if q.Limit > 0 && len(out) == q.Limit {
				return out, nil
			}
		}
		if q.Limit == 0 || len(page) < q.Limit {
			return out, nil
		}
		q.MarkerID = page[len(page)-1].ID
	}
}

// nodeCollection serves a node list for resource (e.g. "nodes",
// "nodes/detail", "chassis/<uuid>/nodes").
func (s *Server) nodeCollection(c *fiber.Ctx, r *nodeListRequest, resource string) error {
	r.q.Project = listProject(c) // auth.go
	nodes, err := s.fetchNodes(c.UserContext(), r.q, r.keep)
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes {
		s.redactNode(c, &nodes[i]) // auth.go
	}
	vw := s.view(c)
	p := nodeRes.plan(vw.minor, r.fields)
	var next string
	if !r.noNext && len(nodes) > 0 {
		var pre [][2]string
		for _, f := range []struct {
			name string
			b    *bool
		}{{"associated", r.q.Associated}, {"maintenance", r.q.Maintenance}, {"retired", r.q.Retired}} {
			if f.b != nil && *f.b {
				pre = append(pre, [2]string{f.name, "True"})
			}
		}
		next = r.next(vw.base, resource, pre, r.args, len(nodes), nodes[len(nodes)-1].UUID)
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return nodeRes.appendList(b, vw, nodes, p, next) })
}

// nextLink builds Ironic's "next" URL: the query arguments in order, then
// limit and marker.
func nextLink(base, resource string, args [][2]string, limit int, marker string) string {
	var sb strings.Builder
	sb.WriteString(base)
	sb.WriteString("/v1/")
	sb.WriteString(resource)
	sb.WriteByte('?')
	for _, a := range args {
		sb.WriteString(a[0])
		sb.WriteByte('=')
		sb.WriteString(escapeQueryValue(a[1]))
		sb.WriteByte('&')
	}
	sb.WriteString("limit=")
	sb.WriteString(strconv.Itoa(limit))
	sb.WriteString("&marker=")
	sb.WriteString(url.QueryEscape(marker))
	return sb.String()
}

// escapeQueryValue escapes a query value, keeping commas readable as
// Ironic's links do (fields=uuid,name).
func escapeQueryValue(v string) string {
	return strings.ReplaceAll(url.QueryEscape(v), "%2C", ",")
}

// listNodes answers GET /v1/nodes and GET /v1/nodes/detail.
func (s *Server) listNodes(detailPath bool) fiber.Handler {
	resource := listResource("nodes", detailPath)
	return func(c *fiber.Ctx) error {
		if _, ok := query(c, "fields"); ok && detailPath {
			return badRequest("Unexpected arguments: fields") // Ironic's detail takes no fields
		}
		r, err := s.parseNodeList(c, detailPath)
		if err != nil {
			return err
		}
		return s.nodeCollection(c, r, resource)
	}
}

// ifaceOf returns the store field holding kind k.
func ifaceOf(i *store.Interfaces, k drivers.Kind) *string {
	switch k {
	case drivers.KindBios:
		return &i.Bios
	case drivers.KindBoot:
		return &i.Boot
	case drivers.KindConsole:
		return &i.Console
	case drivers.KindDeploy:
		return &i.Deploy
	case drivers.KindFirmware:
		return &i.Firmware
	case drivers.KindInspect:
		return &i.Inspect
	case drivers.KindManagement:
		return &i.Management
	case drivers.KindNetwork:
		return &i.Network
	case drivers.KindPower:
		return &i.Power
	case drivers.KindRAID:
		return &i.RAID
	case drivers.KindRescue:
		return &i.Rescue
	case drivers.KindStorage:
		return &i.Storage
	case drivers.KindVendor:
		return &i.Vendor
	}
	return nil
}

// interfacesMap returns the node's interface names by kind ("" = default).
func interfacesMap(i *store.Interfaces) map[drivers.Kind]string {
	m := make(map[drivers.Kind]string, 13)
	for _, k := range drivers.Kinds() {
		m[k] = *ifaceOf(i, k)
	}
	return m
}

// noValidHost is Ironic's answer for a driver no conductor has.
func noValidHost(driver, group string) *apiError {
	return badRequest("No valid host was found. Reason: No conductor service registered which supports driver %s for conductor group \"%s\".",
		driver, group)
}

// resolveInterfaces fills the node's interfaces from its hardware type's
// defaults and checks requested names, with Ironic's messages.
func (s *Server) resolveInterfaces(n *store.Node) *apiError {
	if s.Drivers == nil {
		return noValidHost(n.Driver, n.ConductorGroup)
	}
	hw, err := s.Drivers.Type(n.Driver)
	if err != nil {
		return noValidHost(n.Driver, n.ConductorGroup)
	}
	req := interfacesMap(&n.Interfaces)
	for _, k := range drivers.Kinds() {
		name := req[k]
		if name == "" || contains(hw.Interfaces[k], name) {
			continue
		}
		var enabled []string
		for _, t := range s.Drivers.Types() {
			for _, impl := range t.Interfaces[k] {
				if !contains(enabled, impl) {
					enabled = append(enabled, impl)
				}
			}
		}
		if contains(enabled, name) {
			return badRequest("%s interface implementation '%s' is not supported by hardware type %s.",
				k, name, n.Driver)
		}
		return badRequest("Could not find the following interface in the 'ironic.hardware.interfaces.%s' entrypoint: %s. Valid interfaces are %s.",
			k, name, pyList(enabled))
	}
	resolved, err := s.Drivers.ResolveInterfaces(n.Driver, req)
	if err != nil {
		return badRequest("%s", err.Error())
	}
	for k, name := range resolved {
		*ifaceOf(&n.Interfaces, k) = name
	}
	return nil
}

// pyList is Python's repr() of a list of strings.
func pyList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = pyStr(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// driverMessage is the driver's own text inside a registry error: the last
// error the registry wrapped, without the drivers sentinels a driver put
// in front of its own text ("%w: %w" of drivers.ErrBadConfig and its
// message), which would show Go's wording where Ironic shows the driver's.
func driverMessage(err error) string {
	for outer := true; ; outer = false {
		m, ok := err.(interface{ Unwrap() []error })
		if !ok {
			return err.Error()
		}
		errs := m.Unwrap()
		if len(errs) < 1 || !outer && (len(errs) < 2 || !driverSentinel(errs[0])) {
			return err.Error()
		}
		err = errs[len(errs)-1]
	}
}

// driverSentinel reports whether err is one of the drivers package's
// sentinel errors.
func driverSentinel(err error) bool {
	switch err {
	case drivers.ErrUnsupported, drivers.ErrUnknownDriver, drivers.ErrBadConfig, drivers.ErrAuth,
		drivers.ErrUnreachable, drivers.ErrFailed:
		return true
	}
	return false
}

// validateDriverInfo checks driver_info with the power and management
// factories (pure; no I/O).
func (s *Server) validateDriverInfo(n *store.Node) *apiError {
	res := s.Drivers.Validate(interfacesMap(&n.Interfaces), n.DriverNode())
	for _, k := range []drivers.Kind{drivers.KindPower, drivers.KindManagement} {
		if err := res[k]; err != nil && errors.Is(err, drivers.ErrBadConfig) {
			return badRequest("%s", driverMessage(err))
		}
	}
	return nil
}

// reservedNodeNames are the words Ironic's node controller routes on.
var reservedNodeNames = []string{"maintenance", "management", "states", "vendor_passthru", "detail", "validate"}

// checkNodeName applies Ironic's _check_names_acceptable.
func checkNodeName(name string, v int, errFmt string) *apiError {
	if v < v5NodeName {
		return notAcceptable("")
	}
	if !isValidNodeName(name, v) {
		return badRequest(errFmt, name)
	}
	if contains(reservedNodeNames, name) {
		return badRequest("The word \"%s\" is reserved and can not be used as a node name. Reserved words are: %s.",
			name, strings.Join(reservedNodeNames, ", "))
	}
	return nil
}

// createNode answers POST /v1/nodes.
func (s *Server) createNode(c *fiber.Ctx) error {
	ctx := c.UserContext()
	v := minor(c)
	n := store.Node{
		DriverInternalInfo: json.RawMessage("{}"),
		CleanStep:          json.RawMessage("{}"),
		DeployStep:         json.RawMessage("{}"),
		ServiceStep:        json.RawMessage("{}"),
		RAIDConfig:         json.RawMessage("{}"),
		TargetRAIDConfig:   json.RawMessage("{}"),
		Traits:             []string{},
		ProvisionState:     node.Enroll,
	}
	if v < v11EnrollState {
		n.ProvisionState = node.Available
	}
	in := &input{c: c, s: s, v: v, nameErr: "Cannot create node with invalid name '%s'"}
	if err := nodeRes.decodeCreate(c, "node", &n, in); err != nil {
		return err
	}
	if err := s.ownNewNode(c, &n); err != nil { // auth.go
		return err
	}
	if n.UUID == "" {
		n.UUID = uuid.NewString()
	}
	if n.ChassisUUID != nil {
		if _, err := s.Store.Chassis(ctx, *n.ChassisUUID); errors.Is(err, store.ErrNotFound) {
			return badRequest("Chassis %s could not be found.", *n.ChassisUUID)
		} else if err != nil {
			return fmt.Errorf("read chassis %s: %w", *n.ChassisUUID, err)
		}
	}
	if n.ParentNode != nil && *n.ParentNode != "" { // Ironic resolves a non-empty one only
		u, err := s.resolveParentNode(c, *n.ParentNode, n.Owner)
		if err != nil {
			return err
		}
		n.ParentNode = &u
	}
	if err := s.resolveInterfaces(&n); err != nil {
		return err
	}
	if len(n.DriverInfo) > 2 { // not "{}": validate what was given
		if err := s.validateDriverInfo(&n); err != nil {
			return err
		}
	}
	created, err := s.Store.CreateNode(ctx, n)
	switch {
	case errors.Is(err, store.ErrExists):
		if n.Name != nil {
			if other, err := s.Store.Node(ctx, *n.Name); err == nil && other.UUID != n.UUID {
				return conflict("A node with name %s already exists.", *n.Name)
			}
		}
		return conflict("A node with UUID %s already exists.", n.UUID)
	case errors.Is(err, store.ErrNotFound) && n.ChassisUUID != nil:
		return badRequest("Chassis %s could not be found.", *n.ChassisUUID)
	case err != nil:
		return fmt.Errorf("create node %s: %w", n.UUID, err)
	}
	c.Location(s.publicURL(c) + "/v1/nodes/" + created.UUID)
	return sendObject(s, c, fiber.StatusCreated, nodeRes, &created, nil)
}

// conductorGroupRE is utils.validate_conductor_group.
func conductorGroupRE(g string) bool {
	if len(g) > 255 {
		return false
	}
	for i := 0; i < len(g); i++ {
		ch := g[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			ch == '_' || ch == '-' || ch == '.') {
			return false
		}
	}
	return true
}

// deleteNode answers DELETE /v1/nodes/{ident}.
func (s *Server) deleteNode(c *fiber.Ctx) error {
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	// Ironic's destroy_node runs under the node's exclusive lock: an
	// operation holding the node answers NodeLocked (even in maintenance),
	// and the rules are checked on the node as it is under the lock.
	if err := s.lockedWrite(c, []string{n.UUID}, func(q store.Queries, nodes map[string]store.Node) error {
		cur := nodes[n.UUID]
		if err := checkDeletable(&cur); err != nil {
			return err
		}
		if err := q.DeleteNode(c.UserContext(), cur.UUID); errors.Is(err, store.ErrNotFound) {
			return nodeNotFound(cur.UUID)
		} else if err != nil {
			return fmt.Errorf("delete node %s: %w", cur.UUID, err)
		}
		return nil
	}); err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}

// checkDeletable applies Ironic's rules for deleting node n: not with an
// instance or outside the deletable states unless in maintenance, never
// when protected.
func checkDeletable(n *store.Node) error {
	if !n.Maintenance && n.InstanceUUID != nil {
		return conflict("Node %s is associated with instance %s.", n.UUID, *n.InstanceUUID)
	}
	if n.Protected {
		return nodeProtected(n.UUID)
	}
	if !n.Maintenance && !n.ProvisionState.Deletable() {
		valid := node.DeletableStates()
		names := make([]string, len(valid))
		for i, st := range valid {
			names[i] = string(st)
		}
		return conflict("Can not delete node \"%s\" while it is in provision state \"%s\". Valid provision states to perform deletion are: \"%s\", or set the node into maintenance mode",
			n.UUID, n.ProvisionState, pyTuple(names))
	}
	return nil
}

// validateKinds are the interfaces Ironic's validate reports at 1.82
// (task.driver.non_vendor_interfaces), in its order.
var validateKinds = []drivers.Kind{drivers.KindBios, drivers.KindBoot, drivers.KindConsole, drivers.KindDeploy,
	drivers.KindInspect, drivers.KindManagement, drivers.KindNetwork, drivers.KindPower, drivers.KindRAID,
	drivers.KindRescue, drivers.KindStorage}

// validateNode answers GET /v1/nodes/{ident}/validate and
// GET /v1/nodes/validate?node=X. It is computed from the driver registry
// without I/O: each interface reports {"result": true} or
// {"result": false, "reason": "..."} (Ironic omits "reason" when there is none).
func (s *Server) validateNode(c *fiber.Ctx) error {
	ident := param(c, "ident")
	if ident == "" {
		var ok bool
		if ident, ok = query(c, "node"); !ok {
			if ident, ok = query(c, "node_uuid"); !ok {
				return badRequest("Missing mandatory parameter: node")
			}
		}
	}
	n, err := s.loadNode(c, ident)
	if err != nil {
		return err
	}
	ifaces := interfacesMap(&n.Interfaces)
	var res map[drivers.Kind]error
	if s.Drivers != nil {
		res = s.Drivers.Validate(ifaces, n.DriverNode())
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, '{')
		for i, k := range validateKinds {
			b = jsonwire.AppendKey(b, string(k), i == 0)
			reason := ""
			switch err := res[k]; {
			case s.Drivers == nil:
				reason = fmt.Sprintf("Driver %s does not support %s (disabled or not implemented).", n.Driver, k)
			case strings.HasPrefix(ifaces[k], "no-"), errors.Is(err, drivers.ErrUnsupported):
				reason = fmt.Sprintf("Driver %s does not support %s (disabled or not implemented).", n.Driver, k)
			case err != nil:
				reason = driverMessage(err)
			}
			if reason == "" {
				b = append(b, `{"result":true}`...)
				continue
			}
			b = append(b, `{"result":false,"reason":`...)
			b = jsonwire.AppendString(b, reason)
			b = append(b, '}')
		}
		return append(b, '}')
	})
}

// nodeInventory answers GET /v1/nodes/{ident}/inventory (1.81): the
// inventory and plugin_data of the node's last inspection, each exactly as
// it was submitted.
func (s *Server) nodeInventory(c *fiber.Ctx) error {
	if minor(c) < v81Inventory {
		return webobNotFound()
	}
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	inv, err := s.Store.NodeInventory(c.UserContext(), n.UUID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Node inventory for node %s could not be found.", n.UUID)
	}
	if err != nil {
		return fmt.Errorf("read inventory of node %s: %w", n.UUID, err)
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"inventory":`...)
		b = append(b, inv.Inventory...)
		b = append(b, `,"plugin_data":`...)
		b = append(b, inv.PluginData...)
		return append(b, '}')
	})
}
