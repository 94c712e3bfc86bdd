package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/api/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// Ports.

type portField uint8

// Port fields in the order Ironic 21.4 emits them
// (reference/ironic-api-wire/port_create_latest.txt).
const (
	pfUUID portField = iota
	pfCreatedAt
	pfUpdatedAt
	pfAddress
	pfExtra
	pfInternalInfo
	pfIsSmartNIC
	pfLocalLinkConnection
	pfPhysicalNetwork
	pfPXEEnabled
	pfNodeUUID
	pfLinks
	pfPortgroupUUID
	pfCount
)

var portFields = [pfCount]nodeFieldSpec{
	pfUUID:                {"uuid", 1},
	pfCreatedAt:           {"created_at", 1},
	pfUpdatedAt:           {"updated_at", 1},
	pfAddress:             {"address", 1},
	pfExtra:               {"extra", 1},
	pfInternalInfo:        {"internal_info", v18PortInternalInfo},
	pfIsSmartNIC:          {"is_smartnic", v53SmartNIC},
	pfLocalLinkConnection: {"local_link_connection", v19PortNetFields},
	pfPhysicalNetwork:     {"physical_network", v34PhysicalNetwork},
	pfPXEEnabled:          {"pxe_enabled", v19PortNetFields},
	pfNodeUUID:            {"node_uuid", 1},
	pfLinks:               {"links", 1},
	pfPortgroupUUID:       {"portgroup_uuid", v24PortgroupSubctl},
}

// portPlan selects the fields shown: all (fields nil) or the requested
// ones plus links, always in Ironic's fixed order.
func portPlan(v int, fields []string) []portField {
	var p []portField
	for f := pfUUID; f < pfCount; f++ {
		if v < portFields[f].min {
			continue
		}
		if fields == nil || f == pfLinks || contains(fields, portFields[f].name) {
			p = append(p, f)
		}
	}
	return p
}

func appendPort(b []byte, p *store.Port, plan []portField, escBase string) []byte {
	b = append(b, '{')
	for i, f := range plan {
		b = jsonwire.AppendKey(b, portFields[f].name, i == 0)
		switch f {
		case pfUUID:
			b = jsonwire.AppendString(b, p.UUID)
		case pfCreatedAt:
			if p.CreatedAt.IsZero() {
				b = append(b, "null"...)
			} else {
				b = jsonwire.AppendTime(b, p.CreatedAt)
			}
		case pfUpdatedAt:
			b = jsonwire.AppendTimePtr(b, p.UpdatedAt)
		case pfAddress:
			b = jsonwire.AppendString(b, p.Address)
		case pfExtra:
			b = jsonwire.AppendRawObject(b, p.Extra)
		case pfInternalInfo:
			b = jsonwire.AppendRawObject(b, p.InternalInfo)
		case pfIsSmartNIC:
			b = jsonwire.AppendBool(b, p.IsSmartNIC)
		case pfLocalLinkConnection:
			b = jsonwire.AppendRawObject(b, p.LocalLinkConnection)
		case pfPhysicalNetwork:
			b = jsonwire.AppendStringPtr(b, p.PhysicalNetwork)
		case pfPXEEnabled:
			b = jsonwire.AppendBool(b, p.PXEEnabled)
		case pfNodeUUID:
			b = jsonwire.AppendStringOrNull(b, p.NodeUUID)
		case pfLinks:
			b = appendLinksParts(b, escBase, "ports/", p.UUID, "")
		case pfPortgroupUUID:
			b = jsonwire.AppendStringPtr(b, p.PortgroupUUID)
		}
	}
	return append(b, '}')
}

// checkPortFields applies Ironic's checks on ?fields= for ports.
func checkPortFields(v int, fields []string) *apiError {
	if v < v8Fields {
		return notAcceptable("")
	}
	var bad []string
	for _, name := range fields {
		known := false
		for f := pfUUID; f < pfCount; f++ {
			if portFields[f].name == name {
				known = true
				if v < portFields[f].min {
					return notAcceptable("")
				}
			}
		}
		if !known {
			bad = append(bad, name)
		}
	}
	if len(bad) > 0 {
		return badRequest("Field(s) \"%s\" are not valid", strings.Join(bad, ", "))
	}
	return nil
}

var invalidPortSortKeys = []string{"extra", "internal_info", "local_link_connection"}

func (s *Server) portSortKeys() []string {
	if s.PortSortKeys != nil {
		return s.PortSortKeys
	}
	return DefaultPortSortKeys()
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
	cq, err := s.parseCollectionQuery(c, detailPath, checkPortFields, []string{"uuid", "address"})
	if err != nil {
		return err
	}
	limit, sortKey, sortDir, fields, detail := cq.limit, cq.sortKey, cq.sortDir, cq.fields, cq.detail
	if contains(invalidPortSortKeys, sortKey) {
		return badRequest("The sort_key value %s is an invalid field for sorting", sortKey)
	}
	if !contains(s.portSortKeys(), sortKey) {
		return badRequest("The sort_key value \"%s\" is an invalid field for sorting", sortKey)
	}
	q.Limit = limit
	if sortKey != "id" {
		q.SortKey = sortKey
	}
	q.SortDesc = sortDir == "desc"
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
	base := s.publicURL(c)
	var next string
	if len(ports) > 0 && len(ports) == limit {
		nargs := [][2]string{{"sort_key", sortKey}, {"sort_dir", sortDir}}
		if detail != nil {
			nargs = append(nargs, [2]string{"detail", pyBool(*detail)})
		}
		nargs = append(nargs, args...)
		if fields != nil {
			nargs = append(nargs, [2]string{"fields", strings.Join(fields, ",")})
		}
		next = nextLink(base, resource, nargs, limit, ports[len(ports)-1].UUID)
	}
	plan := portPlan(v, fields)
	escBase := escapeURL(base)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"ports":[`...)
		for i := range ports {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPort(b, &ports[i], plan, escBase)
		}
		b = append(b, ']')
		if next != "" {
			b = append(b, `,"next":`...)
			b = jsonwire.AppendString(b, next)
		}
		return append(b, '}')
	})
}

// loadPort reads a port by UUID.
func (s *Server) loadPort(c *fiber.Ctx, ident string) (store.Port, error) {
	if !isUUIDLike(ident) {
		return store.Port{}, badRequest("Expected UUID for port_uuid: %s", ident)
	}
	p, err := s.Store.Port(c.UserContext(), ident)
	if errors.Is(err, store.ErrNotFound) {
		return store.Port{}, portNotFound(ident)
	}
	if err != nil {
		return store.Port{}, fmt.Errorf("read port %s: %w", ident, err)
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
	v := minor(c)
	var fields []string
	if f, ok := parseFields(c); ok {
		if err := checkPortFields(v, f); err != nil {
			return err
		}
		fields = f
	}
	base := s.publicURL(c)
	plan := portPlan(v, fields)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return appendPort(b, &p, plan, escapeURL(base)) })
}

// portSchema is Ironic's PORT_SCHEMA (2023.1).
var portSchema = &schema{
	props: map[string]prop{
		"address":               tString,
		"extra":                 tObjectNull,
		"is_smartnic":           tBoolish,
		"local_link_connection": tObjectNull,
		"node_uuid":             tString,
		"physical_network":      {types: []string{"string", "null"}, maxLen: 64},
		"portgroup_uuid":        tStringNull,
		"pxe_enabled":           tBoolish,
		"uuid":                  tStringNull,
	},
	required: []string{"address", "node_uuid"},
}

// portPatchAllowed is Ironic's PATCH_ALLOWED_FIELDS for ports.
var portPatchAllowed = []string{"address", "extra", "is_smartnic", "local_link_connection", "node_uuid",
	"physical_network", "portgroup_uuid", "pxe_enabled"}

// portFieldMin is the microversion introducing each writable port field.
var portFieldMin = map[string]int{
	"local_link_connection": v19PortNetFields, "pxe_enabled": v19PortNetFields,
	"portgroup_uuid": v24PortgroupSubctl, "physical_network": v34PhysicalNetwork,
	"is_smartnic": v53SmartNIC,
}

// setPortFields copies a validated create body or patched document into p.
func (s *Server) setPortFields(c *fiber.Ctx, p *store.Port, o *jsonwire.Object, name string) error {
	v := minor(c)
	for _, k := range o.Keys() {
		val := o.Value(k)
		switch k {
		case "uuid":
			u, err := argUUID("uuid", val)
			if err != nil {
				return err
			}
			if u != nil {
				p.UUID = *u
			}
		case "address":
			mac, ok := isValidMAC(val.(string))
			if !ok {
				return badRequest("Expected valid MAC address for address: %s", val)
			}
			p.Address = mac
		case "node_uuid":
			u, err := argUUID("node_uuid", val)
			if err != nil {
				return err
			}
			if *u != p.NodeUUID {
				n, err := s.Store.Node(c.UserContext(), *u)
				if errors.Is(err, store.ErrNotFound) {
					return badRequest("Node %s could not be found.", *u)
				} else if err != nil {
					return fmt.Errorf("read node %s: %w", *u, err)
				}
				p.NodeUUID = n.UUID
			}
		case "extra":
			p.Extra = json.RawMessage("{}")
			if val != nil {
				p.Extra = encodeValue(val)
			}
		case "local_link_connection":
			llc, err := checkLocalLink(val, v)
			if err != nil {
				return err
			}
			p.LocalLinkConnection = llc
		case "physical_network":
			if val == nil {
				p.PhysicalNetwork = nil
			} else {
				s := val.(string)
				p.PhysicalNetwork = &s
			}
		case "portgroup_uuid":
			u, err := argUUID("portgroup_uuid", val)
			if err != nil {
				return err
			}
			if u != nil {
				return badRequest("Portgroup %s could not be found.", *u)
			}
			p.PortgroupUUID = nil
		case "pxe_enabled", "is_smartnic":
			b, err := argBool(k, val)
			if err != nil {
				return err
			}
			if k == "pxe_enabled" {
				p.PXEEnabled = b == nil || *b // default True
			} else {
				p.IsSmartNIC = b != nil && *b
			}
		}
	}
	if p.IsSmartNIC {
		llc := decodeObject(p.LocalLinkConnection)
		_, hasPort := llc.Get("port_id")
		_, hasHost := llc.Get("hostname")
		if !hasPort || !hasHost {
			return badRequest("Invalid %s: Smart NIC port must have port_id and hostname in local_link_connection", name)
		}
	}
	return nil
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
	body, err := decodeObjectBody(c, "port")
	if err != nil {
		return err
	}
	if err := portSchema.check("port", body); err != nil {
		return err
	}
	for _, k := range body.Keys() {
		if m, ok := portFieldMin[k]; ok && v < m && body.Value(k) != nil {
			return notAcceptable("")
		}
	}
	p := store.Port{
		Extra:               json.RawMessage("{}"),
		InternalInfo:        json.RawMessage("{}"),
		LocalLinkConnection: json.RawMessage("{}"),
		PXEEnabled:          true,
	}
	if err := s.setPortFields(c, &p, body, "port"); err != nil {
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
	base := s.publicURL(c)
	c.Location(base + "/v1/ports/" + created.UUID)
	plan := portPlan(v, nil)
	return s.sendJSON(c, fiber.StatusCreated, func(b []byte) []byte { return appendPort(b, &created, plan, escapeURL(base)) })
}

// portDoc is the patchable part of a port as a JSON document.
func portDoc(p *store.Port) *jsonwire.Object {
	o := jsonwire.NewObject()
	o.Set("address", p.Address)
	o.Set("extra", decodeObject(p.Extra))
	o.Set("is_smartnic", p.IsSmartNIC)
	o.Set("local_link_connection", decodeObject(p.LocalLinkConnection))
	o.Set("node_uuid", p.NodeUUID)
	if p.PhysicalNetwork != nil {
		o.Set("physical_network", *p.PhysicalNetwork)
	} else {
		o.Set("physical_network", nil)
	}
	if p.PortgroupUUID != nil {
		o.Set("portgroup_uuid", *p.PortgroupUUID)
	} else {
		o.Set("portgroup_uuid", nil)
	}
	o.Set("pxe_enabled", p.PXEEnabled)
	return o
}

// patchPort answers PATCH /v1/ports/{uuid}.
func (s *Server) patchPort(c *fiber.Ctx) error {
	v := minor(c)
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	if _, err := checkAllowed(ops, portPatchAllowed); err != nil {
		return err
	}
	for k, m := range portFieldMin {
		if v < m && len(patchValues(ops, "/"+k)) > 0 {
			return notAcceptable("")
		}
	}
	p, err := s.loadPort(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	doc := portDoc(&p)
	if err := applyPatch(doc, ops); err != nil {
		return err
	}
	patchSchema := &schema{props: portSchema.props, required: []string{"address", "node_uuid"}}
	if err := patchSchema.check("patch", doc); err != nil {
		return err
	}
	for _, k := range portPatchAllowed {
		if _, ok := doc.Get(k); !ok {
			doc.Set(k, nil)
		}
	}
	// Only what the patch touched is re-validated.
	touched := jsonwire.NewObject()
	for _, k := range doc.Keys() {
		for _, op := range ops {
			if op.rootField() == k {
				touched.Set(k, doc.Value(k))
				break
			}
		}
	}
	if err := s.setPortFields(c, &p, touched, "patch"); err != nil {
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
	base := s.publicURL(c)
	plan := portPlan(v, nil)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return appendPort(b, &updated, plan, escapeURL(base)) })
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
