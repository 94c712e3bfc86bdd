package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// Port groups (API 1.23; /v1/nodes/{id}/portgroups and
// /v1/portgroups/{id}/ports from 1.24; mode and properties from 1.26).

// defaultPortgroupMode is Ironic's [DEFAULT]default_portgroup_mode.
const defaultPortgroupMode = "active-backup"

// portgroupFields is Ironic 21.4's portgroup representation, in its order
// (testdata/ironic-wire/pg_create_latest.txt); see fields.go. Ironic shows
// mode and properties at every version that has port groups; only asking
// for them (?fields, sort_key, create, PATCH) needs 1.26.
func portgroupFields() []field[store.Portgroup] {
	type g = store.Portgroup
	uuidOf := func(g *g) *string { return &g.UUID }
	both := inCreate | inPatch
	ports := linkField("ports", 1, "portgroups/", uuidOf, "/ports")
	ports.hidden = false // ?fields=ports is valid: Ironic checks fields against the document
	return []field[g]{
		uuidField(uuidOf),
		timeField("created_at", func(g *g) *time.Time { return &g.CreatedAt }),
		timePtrField("updated_at", 1, func(g *g) **time.Time { return &g.UpdatedAt }),
		strPtrField("address", 1, func(g *g) **string { return &g.Address }).input(tStringNull, both).
			checked(checkAddress),
		objectField("extra", 1, func(g *g) *json.RawMessage { return &g.Extra }).input(tObjectNull, both),
		objectField("internal_info", 1, func(g *g) *json.RawMessage { return &g.InternalInfo }),
		strPtrField("mode", 1, func(g *g) **string { return &g.Mode }).input(tColumnNull, both).unremovable(),
		strPtrField("name", 1, func(g *g) **string { return &g.Name }).input(tColumnNull, both),
		objectField("properties", 1, func(g *g) *json.RawMessage { return &g.Properties }).input(tObjectNull, both),
		boolField("standalone_ports_supported", 1, func(g *g) *bool { return &g.StandalonePortsSupported }).
			input(tBoolish, both).defaultTrue(),
		strField("node_uuid", 1, func(g *g) *string { return &g.NodeUUID }).input(tString, both|inRequired).
			setBy(func(g *g, val any, in *input) error {
				n, err := nodeByUUIDArg(in, val)
				if err != nil {
					return err
				}
				g.NodeUUID = n
				return nil
			}),
		linkField("links", 1, "portgroups/", uuidOf, ""),
		ports,
	}
}

// portgroupRes is the port group resource.
var portgroupRes = newResource("portgroups", portgroupFields(), false, store.PortgroupSortKeys(), fieldsNotValid)

// nodeByUUIDArg resolves a node_uuid value: Ironic's "Expected UUID" for
// anything but a UUID, 400 NodeNotFound for a UUID no node has. It returns
// the node's canonical UUID.
func nodeByUUIDArg(in *input, val any) (string, error) {
	u, err := argUUID("node_uuid", val)
	if err != nil {
		return "", err
	}
	n, rerr := in.s.Store.Node(in.c.UserContext(), *u)
	if errors.Is(rerr, store.ErrNotFound) {
		return "", badRequest("Node %s could not be found.", *u)
	} else if rerr != nil {
		return "", fmt.Errorf("read node %s: %w", *u, rerr)
	}
	return n.UUID, nil
}

func portgroupNotFound(ident string) *apiError {
	return notFound("Portgroup %s could not be found.", ident)
}

// operationNotPermitted is Ironic's OperationNotPermitted (403): a write or
// a single object asked for through a parent resource.
func operationNotPermitted(*fiber.Ctx) error {
	return newError(fiber.StatusForbidden, "Operation not permitted.")
}

// gatePortgroups answers Ironic's 404 below 1.23: the controller's
// NotFound on the collection, the router's on a member (webob).
func gatePortgroups(c *fiber.Ctx, member bool) error {
	if minor(c) >= v23Portgroups {
		return nil
	}
	if member {
		return webobNotFound()
	}
	return notFound("Resource could not be found.")
}

// portgroupIdent checks a port group identifier in a path: a UUID or a
// logical name (a webob 400 as Ironic's router answers).
func portgroupIdent(ident string) error {
	if isUUIDLike(ident) || isValidLogicalName(ident) {
		return nil
	}
	return &apiError{status: fiber.StatusBadRequest, shape: shapeWebob, bare: true,
		msg: "Expected UUID or name for portgroup: " + ident}
}

// loadPortgroup reads the port group a path names (UUID or name).
func (s *Server) loadPortgroup(c *fiber.Ctx, ident string) (store.Portgroup, error) {
	if err := portgroupIdent(ident); err != nil {
		return store.Portgroup{}, err
	}
	g, err := s.Store.Portgroup(c.UserContext(), ident)
	if errors.Is(err, store.ErrNotFound) {
		return g, portgroupNotFound(ident)
	} else if err != nil {
		return g, fmt.Errorf("read portgroup %s: %w", ident, err)
	}
	return g, s.authorizeObject(c, g.NodeUUID, portgroupNotFound(ident)) // auth.go
}

// gateModeProperties is Ironic's check_allowed_portgroup_fields: naming
// mode or properties needs 1.26.
func gateModeProperties(v int, names ...string) error {
	if v < 26 && (slices.Contains(names, "mode") || slices.Contains(names, "properties")) {
		return notAcceptable("")
	}
	return nil
}

// listPortgroups answers GET /v1/portgroups and /v1/portgroups/detail.
func (s *Server) listPortgroups(detailPath bool) fiber.Handler {
	resource := listResource("portgroups", detailPath)
	return func(c *fiber.Ctx) error {
		if err := gatePortgroups(c, false); err != nil {
			return err
		}
		return s.portgroupCollection(c, detailPath, "", resource)
	}
}

// nodePortgroups answers GET /v1/nodes/{ident}/portgroups[/detail].
func (s *Server) nodePortgroups(detailPath bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if minor(c) < v24PortgroupSubctl {
			return webobNotFound()
		}
		ident := param(c, "ident")
		n, err := s.loadNode(c, ident)
		if err != nil {
			return err
		}
		resource := listResource("nodes/"+ident+"/portgroups", detailPath)
		return s.portgroupCollection(c, detailPath, n.UUID, resource)
	}
}

// portgroupCollection serves a port group list; nodeUUID is set for a
// node's port groups.
func (s *Server) portgroupCollection(c *fiber.Ctx, detailPath bool, nodeUUID, resource string) error {
	ctx := c.UserContext()
	v := minor(c)
	q := store.ListPortgroups{NodeUUID: nodeUUID, Project: listProject(c)} // listProject: auth.go
	var args [][2]string
	if raw, ok := query(c, "address"); ok {
		mac, err := checkAddress(raw, nil)
		if err != nil {
			return err
		}
		q.Address = mac
		args = append(args, [2]string{"address", raw})
	}
	nodeIdent, byNode := query(c, "node")
	if byNode && nodeUUID == "" {
		if !isUUIDLike(nodeIdent) && !isValidLogicalName(nodeIdent) {
			return badRequest("Expected UUID or name for node: %s", nodeIdent)
		}
	}
	if fields, ok := parseFields(c); ok && !detailPath {
		if err := gateModeProperties(v, fields...); err != nil {
			return err
		}
	}
	cq, err := parseCollection(s, c, portgroupRes, detailPath)
	if err != nil {
		return err
	}
	if err := gateModeProperties(v, cq.sortKey); err != nil {
		return err
	}
	if err := cq.returnFields(v, detailPath, []string{"uuid", "address", "name"}); err != nil {
		return err
	}
	q.Limit, q.SortKey, q.SortDesc = cq.storePage()
	if q.MarkerID, err = markerID(c, "portgroup", s.Store.Portgroup, portgroupNotFound, func(m *store.Portgroup) int64 { return m.ID }); err != nil {
		return err
	}
	if err := portgroupRes.checkSort(cq.sortKey); err != nil {
		return err
	}
	if byNode && nodeUUID == "" {
		n, err := s.loadNode(c, nodeIdent)
		if err != nil {
			return err
		}
		q.NodeUUID = n.UUID
		args = append([][2]string{{"node", nodeIdent}}, args...)
	}
	list, err := s.Store.ListPortgroups(ctx, q)
	if err != nil {
		return fmt.Errorf("list portgroups: %w", err)
	}
	return sendList(s, c, portgroupRes, &cq, resource, args, list, func(g *store.Portgroup) *string { return &g.UUID })
}

// getPortgroup answers GET /v1/portgroups/{ident}.
func (s *Server) getPortgroup(c *fiber.Ctx) error {
	if err := gatePortgroups(c, true); err != nil {
		return err
	}
	g, err := s.loadPortgroup(c, param(c, "ident"))
	if err != nil {
		return err
	}
	if fields, ok := parseFields(c); ok {
		if err := gateModeProperties(minor(c), fields...); err != nil {
			return err
		}
	}
	return getObject(s, c, portgroupRes, &g)
}

// checkPortgroupName is Ironic's logical-name rule for port group names;
// errFmt has one %s, the name.
func checkPortgroupName(name *string, errFmt string) error {
	if name != nil && *name != "" && !isValidLogicalName(*name) {
		return badRequest(errFmt, *name)
	}
	return nil
}

// portgroupExists answers a duplicate port group as Ironic does: its name,
// else its MAC address, else its UUID.
func (s *Server) portgroupExists(c *fiber.Ctx, g *store.Portgroup) error {
	ctx := c.UserContext()
	if g.Name != nil && *g.Name != "" {
		if other, err := s.Store.Portgroup(ctx, *g.Name); err == nil && other.UUID != g.UUID && !isUUIDLike(*g.Name) {
			return conflict("A portgroup with name %s already exists.", *g.Name)
		}
	}
	if g.Address != nil {
		if l, err := s.Store.ListPortgroups(ctx, store.ListPortgroups{Address: *g.Address}); err == nil &&
			len(l) > 0 && l[0].UUID != g.UUID {
			return conflict("A portgroup with MAC address %s already exists.", *g.Address)
		}
	}
	return conflict("A portgroup with UUID %s already exists.", g.UUID)
}

// createPortgroup answers POST /v1/portgroups. As in Ironic, the API
// creates it without the node's lock.
func (s *Server) createPortgroup(c *fiber.Ctx) error {
	if err := gatePortgroups(c, false); err != nil {
		return err
	}
	v := minor(c)
	body, err := decodeObjectBody(c, "portgroup")
	if err != nil {
		return err
	}
	if err := portgroupRes.create.check("portgroup", body); err != nil {
		return err
	}
	g := store.Portgroup{StandalonePortsSupported: true}
	for _, k := range body.Keys() {
		if err := portgroupRes.fields[portgroupRes.index[k]].write(&g, body.Value(k), &input{c: c, s: s, v: v}); err != nil {
			return err
		}
	}
	if v < 26 && (jsonwire.Truthy(body.Value("mode")) || jsonwire.Truthy(body.Value("properties"))) {
		return notAcceptable("")
	}
	if err := s.authorizeObjectCreate(c, g.NodeUUID); err != nil { // auth.go
		return err
	}
	if err := checkPortgroupName(g.Name, "Cannot create portgroup with invalid name '%s'"); err != nil {
		return err
	}
	if g.Mode == nil || *g.Mode == "" {
		m := defaultPortgroupMode
		g.Mode = &m
	}
	if g.UUID == "" {
		g.UUID = uuid.NewString()
	}
	created, err := s.Store.CreatePortgroup(c.UserContext(), g)
	switch {
	case errors.Is(err, store.ErrExists):
		return s.portgroupExists(c, &g)
	case errors.Is(err, store.ErrNotFound):
		return badRequest("Node %s could not be found.", g.NodeUUID)
	case err != nil:
		return fmt.Errorf("create portgroup %s: %w", g.UUID, err)
	}
	c.Location(s.publicURL(c) + "/v1/portgroups/" + created.UUID)
	return sendObject(s, c, fiber.StatusCreated, portgroupRes, &created, nil)
}

// Ironic's states in which a port's connectivity and a port group's node may
// change (outside maintenance), and their names in its messages.
func connectivityStates() []node.ProvisionState {
	return []node.ProvisionState{node.Enroll, node.Inspecting, node.InspectWait, node.Manageable}
}

func connectivityStatesText() string {
	st := connectivityStates()
	names := make([]string, len(st))
	for i, s := range st {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// mayChangeConnectivity reports whether n's ports may change their
// connectivity (or port groups their node) now.
func mayChangeConnectivity(n *store.Node) bool {
	return n.Maintenance || slices.Contains(connectivityStates(), n.ProvisionState)
}

// patchPortgroup answers PATCH /v1/portgroups/{ident}: Ironic's API checks,
// then its conductor's update_portgroup under the node lock.
func (s *Server) patchPortgroup(c *fiber.Ctx) error {
	if err := gatePortgroups(c, true); err != nil {
		return err
	}
	v := minor(c)
	ident := param(c, "ident")
	if err := portgroupIdent(ident); err != nil {
		return err
	}
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	g, err := s.loadPortgroup(c, ident)
	if err != nil {
		return err
	}
	if v < 26 && slices.ContainsFunc(ops, func(p patchOp) bool {
		r := p.rootField()
		return r == "mode" || r == "properties"
	}) {
		return notAcceptable("")
	}
	if err := portgroupRes.checkPatch(v, ops); err != nil {
		return err
	}
	nameErr := "Portgroup " + strings.ReplaceAll(ident, "%", "%%") + ": Cannot change name to invalid name '%s'"
	for _, nv := range patchValues(ops, "/name") {
		if name, ok := nv.(string); ok {
			if err := checkPortgroupName(&name, nameErr); err != nil {
				return err
			}
		}
	}
	var updated store.Portgroup
	target := g.NodeUUID // the node the group ends on
	err = rewriteLocked(s, c, &g, portgroupNode, func(ctx context.Context, q store.Queries) (store.Portgroup, error) {
		return q.Portgroup(ctx, g.UUID)
	}, func() ([]string, error) {
		patched := g
		if err := portgroupRes.patchObject(&patched, ops, &input{c: c, s: s, v: v}); err != nil {
			return nil, err
		}
		target = patched.NodeUUID
		return []string{g.NodeUUID, patched.NodeUUID}, nil
	}, func(q store.Queries, nodes map[string]store.Node, cur store.Portgroup) error {
		patched := cur
		if err := portgroupRes.patchObject(&patched, ops, &input{c: c, s: s, v: v}); err != nil {
			return err
		}
		n := nodes[patched.NodeUUID]
		if n.ProvisionState == node.Inspecting && v >= v39InspectWait {
			return conflict("Cannot update portgroup \"%s\" on node \"%s\" while it is in state \"%s\".",
				cur.UUID, n.UUID, node.Inspecting)
		}
		if patched.NodeUUID != cur.NodeUUID {
			if !mayChangeConnectivity(&n) {
				return conflict("Portgroup %s can not be associated to node %s unless the node is in a %s state or in maintenance mode.",
					cur.UUID, n.UUID, connectivityStatesText())
			}
			members, err := q.ListPorts(c.UserContext(), store.ListPorts{PortgroupUUID: cur.UUID, Limit: 1})
			if err != nil {
				return err
			}
			if len(members) > 0 {
				return badRequest("Portgroup %s can not be associated with node %s because there are ports associated with this portgroup.",
					cur.UUID, n.UUID)
			}
		}
		if err := s.portgroupChanged(c, q, &n, &cur, &patched); err != nil {
			return err
		}
		var err error
		updated, err = q.UpdatePortgroup(c.UserContext(), patched)
		if errors.Is(err, store.ErrExists) {
			return s.portgroupExists(c, &patched)
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, gerr := s.Store.Portgroup(c.UserContext(), g.UUID); errors.Is(gerr, store.ErrNotFound) {
			return portgroupNotFound(ident)
		}
		return badRequest("Node %s could not be found.", target)
	case err != nil:
		return err
	}
	return sendObject(s, c, fiber.StatusOK, portgroupRes, &updated, nil)
}

// portgroupNode is the node a port group is on.
func portgroupNode(g *store.Portgroup) string { return g.NodeUUID }

// deletePortgroup answers DELETE /v1/portgroups/{ident}: Ironic's
// destroy_portgroup under the node lock; a group with member ports stays.
func (s *Server) deletePortgroup(c *fiber.Ctx) error {
	if err := gatePortgroups(c, true); err != nil {
		return err
	}
	ident := param(c, "ident")
	g, err := s.loadPortgroup(c, ident)
	if err != nil {
		return err
	}
	err = rewriteLocked(s, c, &g, portgroupNode, func(ctx context.Context, q store.Queries) (store.Portgroup, error) {
		return q.Portgroup(ctx, g.UUID)
	}, nil, func(q store.Queries, _ map[string]store.Node, cur store.Portgroup) error {
		members, err := q.ListPorts(c.UserContext(), store.ListPorts{PortgroupUUID: cur.UUID, Limit: 1})
		if err != nil {
			return err
		}
		if len(members) > 0 {
			return badRequest("Cannot complete the requested action because portgroup %s contains ports.", cur.UUID)
		}
		return q.DeletePortgroup(c.UserContext(), cur.UUID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return portgroupNotFound(ident)
	} else if err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}

// portgroupPorts answers GET /v1/portgroups/{ident}/ports[/detail].
func (s *Server) portgroupPorts(detailPath bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if minor(c) < v24PortgroupSubctl {
			return webobNotFound()
		}
		ident := param(c, "ident")
		g, err := s.loadPortgroup(c, ident)
		if err != nil {
			return err
		}
		resource := listResource("portgroups/"+ident+"/ports", detailPath)
		return s.portCollection(c, detailPath, portScope{portgroup: &g}, resource)
	}
}

// subresourceForbidden answers a single object or a write asked for through
// a parent resource (a node's port groups, a port group's ports): Ironic's
// OperationNotPermitted, from the version the path exists at.
func subresourceForbidden(minVersion int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if minor(c) < minVersion {
			return webobNotFound()
		}
		return operationNotPermitted(c)
	}
}
