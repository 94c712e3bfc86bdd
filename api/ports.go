package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// Ports.

// portFields is Ironic 21.4's port representation, in its order
// (reference/ironic-api-wire/port_create_latest.txt); see fields.go.
func portFields() []field[store.Port] {
	type p = store.Port
	uuidOf := func(p *p) *string { return &p.UUID }
	both := inCreate | inPatch
	return []field[p]{
		uuidField(uuidOf),
		timeField("created_at", func(p *p) *time.Time { return &p.CreatedAt }),
		timePtrField("updated_at", 1, func(p *p) **time.Time { return &p.UpdatedAt }),
		strField("address", 1, func(p *p) *string { return &p.Address }).input(tString, both|inRequired).
			checked(checkAddress),
		objectField("extra", 1, func(p *p) *json.RawMessage { return &p.Extra }).input(tObjectNull, both),
		objectField("internal_info", v18PortInternalInfo, func(p *p) *json.RawMessage { return &p.InternalInfo }),
		boolField("is_smartnic", v53SmartNIC, func(p *p) *bool { return &p.IsSmartNIC }).input(tBoolish, both),
		objectField("local_link_connection", v19PortNetFields, func(p *p) *json.RawMessage { return &p.LocalLinkConnection }).
			input(tObjectNull, both).renderBy(appendLocalLink).setBy(func(p *p, val any, in *input) error {
			llc, err := checkLocalLink(val, in.v, in.creating)
			if err != nil {
				return err
			}
			p.LocalLinkConnection = llc
			return nil
		}),
		strPtrField("physical_network", v34PhysicalNetwork, func(p *p) **string { return &p.PhysicalNetwork }).
			input(prop{types: []string{"string", "null"}, maxLen: 64}, both),
		boolField("pxe_enabled", v19PortNetFields, func(p *p) *bool { return &p.PXEEnabled }).input(tBoolish, both).
			defaultTrue(),
		strNullField("node_uuid", 1, func(p *p) *string { return &p.NodeUUID }).input(tString, both|inRequired).
			setBy(setPortNode),
		// Ironic 29 checks no version when a PATCH sets it.
		strPtrField("name", v88PortName, func(p *p) **string { return &p.Name }).input(tStringNull, both).
			listedLast().patchUngated(),
		linkField("links", 1, "ports/", uuidOf, ""),
		strPtrField("portgroup_uuid", v24PortgroupSubctl, func(p *p) **string { return &p.PortgroupUUID }).
			input(tStringNull, both).setBy(func(p *p, val any, in *input) error {
			u, err := argUUID("portgroup_uuid", val)
			if err != nil {
				return err
			}
			if u == nil {
				p.PortgroupUUID = nil
				return nil
			}
			g, rerr := in.s.Store.Portgroup(in.c.UserContext(), *u)
			if errors.Is(rerr, store.ErrNotFound) {
				return badRequest("Portgroup %s could not be found.", *u)
			} else if rerr != nil {
				return fmt.Errorf("read portgroup %s: %w", *u, rerr)
			}
			p.PortgroupUUID = &g.UUID
			return nil
		}),
	}
}

// ovnVTEPKeys are the local_link_connection members of an OVN VTEP switch
// (API 1.90).
var ovnVTEPKeys = []string{"vtep-logical-switch", "vtep-physical-switch"}

// appendLocalLink renders local_link_connection; before 1.90 one that
// names an OVN VTEP switch is shown empty, as Ironic 29 does.
func appendLocalLink(b []byte, v *view, p *store.Port) []byte {
	// Decoded only when a VTEP member may be there: every port list of a
	// client below 1.90 renders this.
	if v.minor < v90OVNVTEP && bytes.Contains(p.LocalLinkConnection, []byte(`"vtep-`)) {
		o := decodeObject(p.LocalLinkConnection)
		for _, k := range ovnVTEPKeys {
			if _, ok := o.Get(k); ok {
				return append(b, "{}"...)
			}
		}
	}
	return jsonwire.AppendRawObject(b, p.LocalLinkConnection)
}

// portRes is the port resource: portFields with what they build.
var portRes = newResource("ports", portFields(), false, store.PortSortKeys(), fieldsNotValid)

// setPortNode moves a port to the node named by a node_uuid value.
func setPortNode(p *store.Port, val any, in *input) error {
	u, err := argUUID("node_uuid", val)
	if err != nil {
		return err
	}
	if *u == p.NodeUUID {
		return nil
	}
	n, rerr := in.s.Store.Node(in.c.UserContext(), *u)
	if errors.Is(rerr, store.ErrNotFound) {
		return badRequest("Node %s could not be found.", *u)
	} else if rerr != nil {
		return fmt.Errorf("read node %s: %w", *u, rerr)
	}
	p.NodeUUID = n.UUID
	return nil
}

// checkSmartNIC is Ironic's rule for Smart NIC ports: their
// local_link_connection names the port and the host.
func checkSmartNIC(p *store.Port, what string) *apiError {
	if !p.IsSmartNIC {
		return nil
	}
	llc := decodeObject(p.LocalLinkConnection)
	_, hasPort := llc.Get("port_id")
	_, hasHost := llc.Get("hostname")
	if !hasPort || !hasHost {
		return badRequest("Invalid %s: Smart NIC port must have port_id and hostname in local_link_connection", what)
	}
	return nil
}

// defaultTrue makes a boolean field write true for null, as Ironic's
// fields that default to True (a port's pxe_enabled, a port group's
// standalone_ports_supported).
func (f field[T]) defaultTrue() field[T] {
	name, p := f.name, f.boolean
	return f.setBy(func(t *T, val any, _ *input) error {
		b, err := argBool(name, val)
		if err != nil {
			return err
		}
		*p(t) = b == nil || *b
		return nil
	})
}

// listPorts answers GET /v1/ports and GET /v1/ports/detail.
func (s *Server) listPorts(detailPath bool) fiber.Handler {
	resource := listResource("ports", detailPath)
	return func(c *fiber.Ctx) error { return s.portCollection(c, detailPath, portScope{}, resource) }
}

// nodePorts answers GET /v1/nodes/{ident}/ports[/detail].
func (s *Server) nodePorts(detailPath bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ident := param(c, "ident")
		n, err := s.loadNode(c, ident)
		if err != nil {
			return err
		}
		resource := listResource("nodes/"+ident+"/ports", detailPath)
		return s.portCollection(c, detailPath, portScope{node: n.UUID}, resource)
	}
}

// portScope is the parent a port list is asked through: a node, a port
// group, or none (/v1/ports).
type portScope struct {
	node      string
	portgroup *store.Portgroup
}

// portCollection serves a port list of scope.
func (s *Server) portCollection(c *fiber.Ctx, detailPath bool, scope portScope, resource string) error {
	ctx := c.UserContext()
	v := minor(c)
	q := store.ListPorts{NodeUUID: scope.node, Project: listProject(c)} // listProject: auth.go
	if scope.portgroup != nil {
		q.PortgroupUUID = scope.portgroup.UUID
	}
	var args [][2]string
	pgIdent, byPortgroup := query(c, "portgroup")
	if byPortgroup && v < v24PortgroupSubctl {
		return notAcceptable("")
	}
	filters := 0 // Ironic's exclusive filters: node, portgroup (and shard)
	if scope.node == "" {
		if raw, ok := query(c, "node_uuid"); ok {
			if _, err := argUUID("node_uuid", raw); err != nil {
				return err
			}
			q.NodeUUID = raw
			args = append(args, [2]string{"node_uuid", raw})
		}
		if raw, ok := query(c, "node"); ok {
			n, err := s.loadNode(c, raw)
			if err != nil {
				return err
			}
			q.NodeUUID = n.UUID
			args = append(args, [2]string{"node", raw})
		}
	}
	if q.NodeUUID != "" {
		filters++
	}
	if scope.portgroup != nil || byPortgroup {
		filters++
	}
	if filters > 1 {
		return newError(fiber.StatusForbidden, "Operation not permitted.")
	}
	if byPortgroup && scope.portgroup == nil {
		g, err := s.loadPortgroup(c, pgIdent)
		if err != nil {
			return err
		}
		q.PortgroupUUID = g.UUID
		args = append(args, [2]string{"portgroup", pgIdent})
	}
	if raw, ok := query(c, "address"); ok {
		q.Address = strings.ToLower(raw)
		args = append(args, [2]string{"address", raw})
	}
	cq, err := parseCollection(s, c, portRes, detailPath)
	if err != nil {
		return err
	}
	if err := cq.returnFields(v, detailPath, []string{"uuid", "address"}); err != nil {
		return err
	}
	if err := portRes.checkSort(cq.sortKey); err != nil {
		return err
	}
	q.Limit, q.SortKey, q.SortDesc = cq.storePage()
	if q.MarkerID, err = markerID(c, "port", s.Store.Port, portNotFound, func(m *store.Port) int64 { return m.ID }); err != nil {
		return err
	}
	ports, err := s.Store.ListPorts(ctx, q)
	if err != nil {
		return fmt.Errorf("list ports: %w", err)
	}
	return sendList(s, c, portRes, &cq, resource, args, ports, func(g *store.Port) *string { return &g.UUID })
}

// loadPort reads a port by UUID, or past 1.82 (Ironic 29's
// get_rpc_port) by name too when byName.
func (s *Server) loadPort(c *fiber.Ctx, ident string, byName bool) (store.Port, error) {
	var p store.Port
	var err error
	if byName && minor(c) > maxIronic21 && !isUUIDLike(ident) {
		if !isValidLogicalName(ident) {
			return p, badRequest("Expected UUID or name for port_ident: %s", ident)
		}
		p, err = s.Store.PortByName(c.UserContext(), ident)
		if errors.Is(err, store.ErrNotFound) {
			return p, portNotFound(ident)
		} else if err != nil {
			return p, fmt.Errorf("read port %s: %w", ident, err)
		}
	} else if p, err = loadByUUID(c, "port_uuid", ident, s.Store.Port, portNotFound); err != nil {
		return p, err
	}
	if err := s.authorizePort(c, &p, ident); err != nil { // auth.go
		return store.Port{}, err
	}
	return p, nil
}

// getPort answers GET /v1/ports/{uuid}.
func (s *Server) getPort(c *fiber.Ctx) error {
	p, err := s.loadPort(c, param(c, "uuid"), true)
	if err != nil {
		return err
	}
	return getObject(s, c, portRes, &p)
}

// checkLocalLink validates local_link_connection (Ironic's
// LOCAL_LINK_CONN_SCHEMA and switch_id normalization). Past 1.82 it is
// Ironic 29's schema: an OVN VTEP switch (both vtep keys and port_id) is
// valid, and a create body (not a PATCH) naming one needs 1.90.
func checkLocalLink(val any, v int, creating bool) (json.RawMessage, error) {
	if val == nil {
		return json.RawMessage("{}"), nil
	}
	o := val.(*jsonwire.Object)
	notValid := schemaError("local_link_connection", pyRepr(o)+" is not valid under any of the given schemas")
	allowed := []string{"port_id", "switch_id", "hostname", "switch_info", "network_type"}
	if v > maxIronic21 {
		allowed = append(allowed, ovnVTEPKeys...)
	}
	for _, k := range o.Keys() {
		if !contains(allowed, k) {
			return nil, notValid
		}
		if _, ok := o.Value(k).(string); !ok {
			return nil, notValid
		}
	}
	if o.Len() == 0 {
		return json.RawMessage("{}"), nil
	}
	has := func(k string) bool { _, ok := o.Get(k); return ok }
	vtep := has(ovnVTEPKeys[0]) && has(ovnVTEPKeys[1])
	if has(ovnVTEPKeys[0]) != has(ovnVTEPKeys[1]) {
		return nil, notValid // each needs the other (dependentRequired)
	}
	if nt, ok := o.Value("network_type").(string); ok {
		if v < v64LLCNetworkType {
			return nil, notAcceptable("")
		}
		if nt != "managed" && nt != "unmanaged" {
			return nil, notValid
		}
	}
	unmanaged := o.Value("network_type") == "unmanaged"
	if !unmanaged && !(has("port_id") && (has("switch_id") || has("hostname") || vtep)) {
		return nil, notValid
	}
	if creating && has(ovnVTEPKeys[0]) && v < v90OVNVTEP {
		return nil, notAcceptable("")
	}
	if sw, ok := o.Value("switch_id").(string); ok {
		if mac, ok := isValidMAC(sw); ok {
			o.Set("switch_id", mac)
		} else if !isDatapathID(sw) {
			return nil, badRequest("Expected a MAC address or OpenFlow datapath ID but received %s.", sw)
		}
	}
	return encodeValue(o), nil
}

// isDatapathID accepts an OpenFlow datapath ID (16 hex digits).
func isDatapathID(s string) bool {
	s = strings.TrimPrefix(strings.ToLower(s), "0x")
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// createPort answers POST /v1/ports: Ironic's API checks, then its
// conductor's create_port under the node lock.
func (s *Server) createPort(c *fiber.Ctx) error {
	v := minor(c)
	var p store.Port
	body, err := decodeObjectBody(c, "port")
	if err != nil {
		return err
	}
	if v > maxIronic21 {
		if err := s.portNodeIdent(c, body); err != nil {
			return err
		}
	}
	if err := portRes.decodeCreateObject(body, "port", &p, &input{c: c, s: s, v: v, creating: true}); err != nil {
		return err
	}
	if err := checkSmartNIC(&p, "port"); err != nil {
		return err
	}
	if err := s.authorizePortCreate(c, p.NodeUUID); err != nil { // auth.go
		return err
	}
	if p.PhysicalNetwork != nil && *p.PhysicalNetwork == "" {
		return badRequest("A non-empty value is required when setting physical_network")
	}
	pxeAsked := false
	if b, _ := argBool("pxe_enabled", body.Value("pxe_enabled")); b != nil {
		pxeAsked = *b
	}
	if p.UUID == "" {
		p.UUID = uuid.NewString()
	}
	var created store.Port
	err = s.lockedWrite(c, []string{p.NodeUUID}, func(q store.Queries, _ map[string]store.Node) error {
		if p.PortgroupUUID != nil {
			g, err := portPortgroup(c, q, &p)
			if err != nil {
				return err
			}
			if pxeAsked && !g.StandalonePortsSupported {
				return conflict("Port group %s doesn't support standalone ports. This port cannot be created as a member of that portgroup as the port's 'pxe_enabled' field was set to True.", g.UUID)
			}
			if err := checkPortPhysnet(c, q, &p, nil); err != nil {
				return err
			}
		}
		var err error
		created, err = q.CreatePort(c.UserContext(), p)
		return err
	})
	switch {
	case errors.Is(err, store.ErrExists):
		// Ironic's create_port: a duplicate address is named, any other
		// duplicate (UUID, or past 1.82 a name) is told as the UUID.
		if _, err := s.Store.Port(c.UserContext(), p.UUID); err == nil {
			return conflict("A port with UUID %s already exists.", p.UUID)
		}
		if _, err := s.Store.PortByAddress(c.UserContext(), p.Address); err == nil {
			return conflict("A port with MAC address %s already exists.", p.Address)
		}
		return conflict("A port with UUID %s already exists.", p.UUID)
	case errors.Is(err, store.ErrNotFound):
		return badRequest("Node %s could not be found.", p.NodeUUID)
	case err != nil:
		return err
	}
	c.Location(s.publicURL(c) + "/v1/ports/" + created.UUID)
	return sendObject(s, c, fiber.StatusCreated, portRes, &created, nil)
}

// portNodeIdent applies Ironic 29's port schema to a create body: exactly
// one of node_uuid and node_ident (API 1.94: the node by UUID or name),
// then replaces node_ident with the node's UUID.
func (s *Server) portNodeIdent(c *fiber.Ctx, body *jsonwire.Object) error {
	ident, hasIdent := body.Get("node_ident")
	_, hasUUID := body.Get("node_uuid")
	switch {
	case hasIdent && hasUUID:
		return schemaError("port", pyRepr(body)+
			" is valid under each of {'required': ['node_uuid']}, {'required': ['node_ident']}")
	case !hasIdent && !hasUUID:
		return schemaError("port", pyRepr(body)+
			" is not valid under any of the given schemas. Possible root cause: 'node_ident' is a required property")
	case !hasUUID:
		name, ok := ident.(string)
		if !ok {
			return schemaError("port", pyRepr(ident)+" is not of type 'string'")
		}
		if minor(c) < v94PortNodeName {
			return notAcceptable("")
		}
		n, err := s.Store.Node(c.UserContext(), name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && s.authorizeNode(c, &n, name) != nil) {
			return badRequest("Node None could not be found.") // Ironic names the node_uuid not given
		} else if err != nil {
			return fmt.Errorf("read node %s: %w", name, err)
		}
		body.Delete("node_ident")
		body.Set("node_uuid", n.UUID)
	}
	return nil
}

// checkPortPhysnet is Ironic's validate_port_physnet: a member of a port
// group has the physical network of the group's other members (old is the
// port before the change, nil on create).
func checkPortPhysnet(c *fiber.Ctx, q store.Queries, p, old *store.Port) error {
	if p.PortgroupUUID == nil {
		return nil
	}
	if old != nil && equalPtr(old.PortgroupUUID, p.PortgroupUUID) && equalPtr(old.PhysicalNetwork, p.PhysicalNetwork) {
		return nil
	}
	members, err := q.ListPorts(c.UserContext(), store.ListPorts{PortgroupUUID: *p.PortgroupUUID})
	if err != nil {
		return err
	}
	var groupNet *string
	found := false
	for i := range members {
		if members[i].UUID == p.UUID {
			continue
		}
		if found && !equalPtr(groupNet, members[i].PhysicalNetwork) {
			// Ironic's PortgroupPhysnetInconsistent ("shouldn't ever happen":
			// every write checks this rule).
			return conflict("Port group %s has member ports with inconsistent physical networks (%s, %s). All ports in a port group must have the same physical network.",
				*p.PortgroupUUID, pyPtr(groupNet), pyPtr(members[i].PhysicalNetwork))
		}
		groupNet, found = members[i].PhysicalNetwork, true
	}
	if found && !equalPtr(groupNet, p.PhysicalNetwork) {
		return conflict("Port with physical network %s cannot become a member of port group %s which has ports in physical network %s.",
			pyPtr(p.PhysicalNetwork), *p.PortgroupUUID, pyPtr(groupNet))
	}
	return nil
}

// pyPtr is Python's str() of an optional string.
func pyPtr(s *string) string {
	if s == nil {
		return "None"
	}
	return *s
}

// portConnectivityText is the list of connectivity attributes in Ironic's
// message (a Python set, in the order Ironic 21.4 printed it).
const portConnectivityText = "pxe_enabled, local_link_connection, physical_network, portgroup_id"

// patchPort answers PATCH /v1/ports/{uuid}: Ironic's API checks, then its
// conductor's update_port under the lock of the port's node (both nodes
// when it moves).
func (s *Server) patchPort(c *fiber.Ctx) error {
	v := minor(c)
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	if err := portRes.checkPatch(v, ops); err != nil {
		return err
	}
	p, err := s.loadPort(c, param(c, "uuid"), true)
	if err != nil {
		return err
	}
	var updated, patched store.Port
	target := p.NodeUUID
	err = rewriteLocked(s, c, &p, portNode, func(ctx context.Context, q store.Queries) (store.Port, error) {
		return q.Port(ctx, p.UUID)
	}, func() ([]string, error) {
		patched = p
		if err := portRes.patchObject(&patched, ops, &input{c: c, s: s, v: v}); err != nil {
			return nil, err
		}
		target = patched.NodeUUID
		return []string{p.NodeUUID, patched.NodeUUID}, nil
	}, func(q store.Queries, nodes map[string]store.Node, cur store.Port) error {
		patched = cur
		if err := portRes.patchObject(&patched, ops, &input{c: c, s: s, v: v}); err != nil {
			return err
		}
		if err := checkSmartNIC(&patched, "patch"); err != nil {
			return err
		}
		n := nodes[patched.NodeUUID]
		if n.ProvisionState == node.Inspecting && v >= v39InspectWait {
			return conflict("Cannot update port \"%s\" on \"%s\" while it is in state \"%s\".", cur.UUID, n.UUID, node.Inspecting)
		}
		if patched.PhysicalNetwork != nil && *patched.PhysicalNetwork == "" &&
			!equalPtr(cur.PhysicalNetwork, patched.PhysicalNetwork) {
			return badRequest("A non-empty value is required when setting physical_network")
		}
		if err := s.portRules(c, q, &n, &cur, &patched); err != nil {
			return err
		}
		var err error
		updated, err = q.UpdatePort(c.UserContext(), patched)
		return err
	})
	switch {
	case errors.Is(err, store.ErrExists):
		if patched.Name != nil && !equalPtr(patched.Name, p.Name) {
			if other, gerr := s.Store.PortByName(c.UserContext(), *patched.Name); gerr == nil && other.UUID != p.UUID {
				return conflict("A port with name %s already exists.", *patched.Name)
			}
		}
		return conflict("A port with MAC address %s already exists.", patched.Address)
	case errors.Is(err, store.ErrNotFound):
		if _, gerr := s.Store.Port(c.UserContext(), p.UUID); errors.Is(gerr, store.ErrNotFound) {
			return portNotFound(p.UUID)
		}
		return badRequest("Node %s could not be found.", target)
	case err != nil:
		return err
	}
	return sendObject(s, c, fiber.StatusOK, portRes, &updated, nil)
}

// portRules are the checks of Ironic's update_port on a port changed from
// old to p on node n: the address of a deployed node's port is fixed, its
// connectivity changes only in Ironic's connectivity states or maintenance,
// its port group is on its node, with its physical network, and the network
// interface's own rules.
func (s *Server) portRules(c *fiber.Ctx, q store.Queries, n *store.Node, old, p *store.Port) error {
	if (n.ProvisionState == node.Active || n.InstanceUUID != nil) && p.Address != old.Address && !n.Maintenance {
		return conflict("Cannot update hardware address for port %s as node %s is active or has instance UUID assigned",
			p.UUID, n.UUID)
	}
	connectivity := !equalPtr(old.PortgroupUUID, p.PortgroupUUID) || old.PXEEnabled != p.PXEEnabled ||
		!sameJSON(old.LocalLinkConnection, p.LocalLinkConnection) || !equalPtr(old.PhysicalNetwork, p.PhysicalNetwork)
	if connectivity && !mayChangeConnectivity(n) {
		return conflict("Port %s can not have any connectivity attributes (%s) updated unless node %s is in a %s state or in maintenance mode. The current state is %s.",
			p.UUID, portConnectivityText, n.UUID, connectivityStatesText(), n.ProvisionState)
	}
	if p.PortgroupUUID != nil {
		g, err := portPortgroup(c, q, p)
		if err != nil {
			return err
		}
		if err := checkPortPhysnet(c, q, p, old); err != nil {
			return err
		}
		return s.portChanged(n, old, p, &g)
	}
	return nil
}

// portPortgroup reads the port group p names (p.PortgroupUUID is set),
// which must be on p's node.
func portPortgroup(c *fiber.Ctx, q store.Queries, p *store.Port) (store.Portgroup, error) {
	g, err := q.Portgroup(c.UserContext(), *p.PortgroupUUID)
	if errors.Is(err, store.ErrNotFound) {
		return g, badRequest("Portgroup %s could not be found.", *p.PortgroupUUID)
	} else if err != nil {
		return g, err
	}
	if g.NodeUUID != p.NodeUUID {
		return g, badRequest("Port can not be added to a portgroup belonging to a different node.")
	}
	return g, nil
}

// sameJSON compares two stored JSON objects by value (member order aside).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

// portNode is the node a port is on.
func portNode(p *store.Port) string { return p.NodeUUID }

// deletePort answers DELETE /v1/ports/{uuid}: Ironic's destroy_port under
// the node lock; a port bound to a VIF stays unless the node is in
// maintenance.
func (s *Server) deletePort(c *fiber.Ctx) error {
	p, err := s.loadPort(c, param(c, "uuid"), false)
	if err != nil {
		return err
	}
	err = rewriteLocked(s, c, &p, portNode, func(ctx context.Context, q store.Queries) (store.Port, error) {
		return q.Port(ctx, p.UUID)
	}, nil, func(q store.Queries, nodes map[string]store.Node, cur store.Port) error {
		n := nodes[cur.NodeUUID]
		if vif, use := attachedVIF(cur.InternalInfo); vif != "" && !n.Maintenance {
			return conflict("Cannot delete the port %s as it is bound to VIF %s for %s use.", cur.UUID, vif, use)
		}
		return q.DeletePort(c.UserContext(), cur.UUID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return portNotFound(p.UUID)
	} else if err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}
