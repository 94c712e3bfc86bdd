package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/api/jsonwire"
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
			checked(func(s string, _ *input) (string, error) {
				mac, ok := isValidMAC(s)
				if !ok {
					return "", badRequest("Expected valid MAC address for address: %s", s)
				}
				return mac, nil
			}),
		objectField("extra", 1, func(p *p) *json.RawMessage { return &p.Extra }).input(tObjectNull, both),
		objectField("internal_info", v18PortInternalInfo, func(p *p) *json.RawMessage { return &p.InternalInfo }),
		boolField("is_smartnic", v53SmartNIC, func(p *p) *bool { return &p.IsSmartNIC }).input(tBoolish, both),
		objectField("local_link_connection", v19PortNetFields, func(p *p) *json.RawMessage { return &p.LocalLinkConnection }).
			input(tObjectNull, both).setBy(func(p *p, val any, in *input) error {
			llc, err := checkLocalLink(val, in.v)
			if err != nil {
				return err
			}
			p.LocalLinkConnection = llc
			return nil
		}),
		strPtrField("physical_network", v34PhysicalNetwork, func(p *p) **string { return &p.PhysicalNetwork }).
			input(prop{types: []string{"string", "null"}, maxLen: 64}, both),
		boolField("pxe_enabled", v19PortNetFields, func(p *p) *bool { return &p.PXEEnabled }).input(tBoolish, both).
			setBy(func(p *p, val any, _ *input) error {
				b, err := argBool("pxe_enabled", val)
				if err != nil {
					return err
				}
				p.PXEEnabled = b == nil || *b // default True
				return nil
			}),
		strNullField("node_uuid", 1, func(p *p) *string { return &p.NodeUUID }).input(tString, both|inRequired).
			setBy(setPortNode),
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

// listPorts answers GET /v1/ports and GET /v1/ports/detail.
func (s *Server) listPorts(detailPath bool) fiber.Handler {
	resource := "ports"
	if detailPath {
		resource = "ports/detail"
	}
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
		resource := "nodes/" + ident + "/ports"
		if detailPath {
			resource += "/detail"
		}
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
	q.Limit = cq.limit
	if cq.sortKey != "id" {
		q.SortKey = cq.sortKey
	}
	q.SortDesc = cq.sortDir == "desc"
	if marker, ok := query(c, "marker"); ok {
		if _, err := argUUID("marker", marker); err != nil {
			return err
		}
		m, err := s.Store.Port(ctx, marker)
		if errors.Is(err, store.ErrNotFound) {
			return portNotFound(marker)
		} else if err != nil {
			return fmt.Errorf("read marker port %s: %w", marker, err)
		}
		q.MarkerID = m.ID
	}
	ports, err := s.Store.ListPorts(ctx, q)
	if err != nil {
		return fmt.Errorf("list ports: %w", err)
	}
	vw := s.view(c)
	var next string
	if len(ports) > 0 {
		next = cq.next(vw.base, resource, nil, args, len(ports), ports[len(ports)-1].UUID)
	}
	p := portRes.plan(v, cq.fields)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return portRes.appendList(b, vw, ports, p, next) })
}

// loadPort reads a port by UUID.
func (s *Server) loadPort(c *fiber.Ctx, ident string) (store.Port, error) {
	p, err := loadByUUID(c, "port_uuid", ident, s.Store.Port, portNotFound)
	if err != nil {
		return p, err
	}
	if err := s.authorizePort(c, &p, ident); err != nil { // auth.go
		return store.Port{}, err
	}
	return p, nil
}

// getPort answers GET /v1/ports/{uuid}.
func (s *Server) getPort(c *fiber.Ctx) error {
	p, err := s.loadPort(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	return getObject(s, c, portRes, &p)
}

// checkLocalLink validates local_link_connection (Ironic's
// LOCAL_LINK_CONN_SCHEMA and switch_id normalization).
func checkLocalLink(val any, v int) (json.RawMessage, error) {
	if val == nil {
		return json.RawMessage("{}"), nil
	}
	o := val.(*jsonwire.Object)
	notValid := schemaError("local_link_connection", pyRepr(o)+" is not valid under any of the given schemas")
	allowed := []string{"port_id", "switch_id", "hostname", "switch_info", "network_type"}
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
	if nt, ok := o.Value("network_type").(string); ok {
		if v < v64LLCNetworkType {
			return nil, notAcceptable("")
		}
		if nt != "managed" && nt != "unmanaged" {
			return nil, notValid
		}
	}
	unmanaged := o.Value("network_type") == "unmanaged"
	if !unmanaged && !(has("port_id") && (has("switch_id") || has("hostname"))) {
		return nil, notValid
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
	body, err := portRes.decodeCreateBody(c, "port", &p, &input{c: c, s: s, v: v})
	if err != nil {
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
	err = s.lockedWrite(c, []string{p.NodeUUID}, func(q store.Queries, nodes map[string]store.Node) error {
		n := nodes[p.NodeUUID]
		if p.PortgroupUUID != nil {
			g, err := q.Portgroup(c.UserContext(), *p.PortgroupUUID)
			if errors.Is(err, store.ErrNotFound) {
				return badRequest("Portgroup %s could not be found.", *p.PortgroupUUID)
			} else if err != nil {
				return err
			}
			if g.NodeUUID != n.UUID {
				return badRequest("Port can not be added to a portgroup belonging to a different node.")
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
		if _, err := s.Store.Port(c.UserContext(), p.UUID); err == nil {
			return conflict("A port with UUID %s already exists.", p.UUID)
		}
		return conflict("A port with MAC address %s already exists.", p.Address)
	case errors.Is(err, store.ErrNotFound):
		return badRequest("Node %s could not be found.", p.NodeUUID)
	case err != nil:
		return err
	}
	c.Location(s.publicURL(c) + "/v1/ports/" + created.UUID)
	return sendObject(s, c, fiber.StatusCreated, portRes, &created, nil)
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
	p, err := s.loadPort(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	var updated, patched store.Port
	target := p.NodeUUID
	err = retryStale(func() error {
		patched = p
		if err := portRes.patchObject(&patched, ops, &input{c: c, s: s, v: v}); err != nil {
			return err
		}
		target = patched.NodeUUID
		return s.lockedWrite(c, []string{p.NodeUUID, patched.NodeUUID}, func(q store.Queries, nodes map[string]store.Node) error {
			cur, err := q.Port(c.UserContext(), p.UUID)
			if err != nil {
				return err
			}
			if cur.NodeUUID != p.NodeUUID {
				p = cur
				return errStale
			}
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
			updated, err = q.UpdatePort(c.UserContext(), patched)
			return err
		})
	})
	switch {
	case errors.Is(err, store.ErrExists):
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
		g, err := q.Portgroup(c.UserContext(), *p.PortgroupUUID)
		if errors.Is(err, store.ErrNotFound) {
			return badRequest("Portgroup %s could not be found.", *p.PortgroupUUID)
		} else if err != nil {
			return err
		}
		if g.NodeUUID != p.NodeUUID {
			return badRequest("Port can not be added to a portgroup belonging to a different node.")
		}
		if err := checkPortPhysnet(c, q, p, old); err != nil {
			return err
		}
		return s.portChanged(n, old, p, &g)
	}
	return nil
}

// sameJSON compares two stored JSON objects by value (member order aside).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

// deletePort answers DELETE /v1/ports/{uuid}: Ironic's destroy_port under
// the node lock; a port bound to a VIF stays unless the node is in
// maintenance.
func (s *Server) deletePort(c *fiber.Ctx) error {
	p, err := s.loadPort(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	err = retryStale(func() error {
		return s.lockedWrite(c, []string{p.NodeUUID}, func(q store.Queries, nodes map[string]store.Node) error {
			cur, err := q.Port(c.UserContext(), p.UUID)
			if err != nil {
				return err
			}
			if cur.NodeUUID != p.NodeUUID {
				p = cur
				return errStale
			}
			n := nodes[cur.NodeUUID]
			if vif, use := attachedVIF(cur.InternalInfo); vif != "" && !n.Maintenance {
				return conflict("Cannot delete the port %s as it is bound to VIF %s for %s use.", cur.UUID, vif, use)
			}
			return q.DeletePort(c.UserContext(), cur.UUID)
		})
	})
	if errors.Is(err, store.ErrNotFound) {
		return portNotFound(p.UUID)
	} else if err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}
