package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/api/jsonwire"
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
			input(tStringNull, both).setBy(func(p *p, val any, _ *input) error {
			u, err := argUUID("portgroup_uuid", val)
			if err != nil {
				return err
			}
			if u != nil { // ferric has no port groups
				return badRequest("Portgroup %s could not be found.", *u)
			}
			p.PortgroupUUID = nil
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
	return func(c *fiber.Ctx) error { return s.portCollection(c, detailPath, "", resource) }
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
		return s.portCollection(c, detailPath, n.UUID, resource)
	}
}

// portCollection serves a port list; nodeUUID is set for a node's ports.
func (s *Server) portCollection(c *fiber.Ctx, detailPath bool, nodeUUID, resource string) error {
	ctx := c.UserContext()
	v := minor(c)
	q := store.ListPorts{NodeUUID: nodeUUID, Project: listProject(c)} // listProject: auth.go
	var args [][2]string
	if nodeUUID == "" {
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

// createPort answers POST /v1/ports.
func (s *Server) createPort(c *fiber.Ctx) error {
	v := minor(c)
	var p store.Port
	if err := portRes.decodeCreate(c, "port", &p, &input{c: c, s: s, v: v}); err != nil {
		return err
	}
	if err := checkSmartNIC(&p, "port"); err != nil {
		return err
	}
	if err := s.authorizePortCreate(c, p.NodeUUID); err != nil { // auth.go
		return err
	}
	if p.UUID == "" {
		p.UUID = uuid.NewString()
	}
	created, err := s.Store.CreatePort(c.UserContext(), p)
	switch {
	case errors.Is(err, store.ErrExists):
		if _, err := s.Store.Port(c.UserContext(), p.UUID); err == nil {
			return conflict("A port with UUID %s already exists.", p.UUID)
		}
		return conflict("A port with MAC address %s already exists.", p.Address)
	case errors.Is(err, store.ErrNotFound):
		return badRequest("Node %s could not be found.", p.NodeUUID)
	case err != nil:
		return fmt.Errorf("create port %s: %w", p.Address, err)
	}
	c.Location(s.publicURL(c) + "/v1/ports/" + created.UUID)
	return sendObject(s, c, fiber.StatusCreated, portRes, &created, nil)
}

// patchPort answers PATCH /v1/ports/{uuid}.
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
	if err := portRes.patchObject(&p, ops, &input{c: c, s: s, v: v}); err != nil {
		return err
	}
	if err := checkSmartNIC(&p, "patch"); err != nil {
		return err
	}
	updated, err := s.Store.UpdatePort(c.UserContext(), p)
	switch {
	case errors.Is(err, store.ErrExists):
		return conflict("A port with MAC address %s already exists.", p.Address)
	case errors.Is(err, store.ErrNotFound):
		return portNotFound(p.UUID)
	case err != nil:
		return fmt.Errorf("update port %s: %w", p.UUID, err)
	}
	return sendObject(s, c, fiber.StatusOK, portRes, &updated, nil)
}

// deletePort answers DELETE /v1/ports/{uuid}.
func (s *Server) deletePort(c *fiber.Ctx) error {
	p, err := s.loadPort(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	if err := s.Store.DeletePort(c.UserContext(), p.UUID); errors.Is(err, store.ErrNotFound) {
		return portNotFound(p.UUID)
	} else if err != nil {
		return fmt.Errorf("delete port %s: %w", p.UUID, err)
	}
	return empty(c, fiber.StatusNoContent)
}
