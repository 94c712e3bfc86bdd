package api

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Vendor passthru: named driver methods with opaque JSON in and out.

// nodeVendor builds the node's vendor interface (pure; no I/O) to list its
// methods.
func (s *Server) nodeVendor(n *store.Node) (drivers.Vendor, error) {
	if s.Drivers == nil {
		return nil, badRequest("Driver %s does not support vendor interface (disabled or not implemented).", n.Driver)
	}
	vd, err := s.Drivers.Vendor(interfacesMap(&n.Interfaces)[drivers.KindVendor], n.DriverNode())
	switch {
	case err == nil:
		return vd, nil
	case errors.Is(err, drivers.ErrBadConfig):
		return nil, badRequest("%s", driverMessage(err))
	default:
		return nil, badRequest("Driver %s does not support vendor interface (disabled or not implemented).", n.Driver)
	}
}

// loadNodeVendor reads the node the path names (if the caller may see it)
// and its vendor interface.
func (s *Server) loadNodeVendor(c *fiber.Ctx) (store.Node, drivers.Vendor, error) {
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return n, nil, err
	}
	vd, err := s.nodeVendor(&n)
	return n, vd, err
}

// appendVendorMethods renders methods sorted by name, in Ironic's shape.
func appendVendorMethods(b []byte, methods map[string]drivers.VendorMethod) []byte {
	names := make([]string, 0, len(methods))
	for name := range methods {
		names = append(names, name)
	}
	sort.Strings(names)
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		m := methods[name]
		b = jsonwire.AppendString(b, name)
		b = append(b, `:{"http_methods":`...)
		hm := m.HTTPMethods
		if hm == nil {
			hm = []string{}
		}
		b = jsonwire.AppendStrings(b, hm)
		b = append(b, `,"async":`...)
		b = jsonwire.AppendBool(b, m.Async)
		b = append(b, `,"description":`...)
		b = jsonwire.AppendString(b, m.Description)
		b = append(b, `,"attach":`...)
		b = jsonwire.AppendBool(b, m.Attach)
		b = append(b, `,"require_exclusive_lock":`...)
		b = jsonwire.AppendBool(b, m.RequireExclusiveLock)
		b = append(b, '}')
	}
	return append(b, '}')
}

// nodeVendorMethods answers GET /v1/nodes/{ident}/vendor_passthru/methods.
func (s *Server) nodeVendorMethods(c *fiber.Ctx) error {
	_, vd, err := s.loadNodeVendor(c)
	if err != nil {
		return err
	}
	methods := vd.VendorMethods()
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return appendVendorMethods(b, methods) })
}

// passthruMethod reads the method name from the path
// (.../vendor_passthru/NAME, as python-ironicclient sends it) or ?method=.
func passthruMethod(c *fiber.Ctx) (string, error) {
	if m := param(c, "method"); m != "" {
		return m, nil
	}
	m, ok := query(c, "method")
	if !ok {
		return "", badRequest("Missing mandatory parameter: method")
	}
	if m == "" {
		return "", badRequest("Method not specified")
	}
	return m, nil
}

// nodeVendorPassthru answers {GET,POST,PUT,PATCH,DELETE}
// /v1/nodes/{ident}/vendor_passthru?method=NAME (or .../vendor_passthru/NAME). Asynchronous methods are
// started and answered 202; synchronous ones are awaited and their return
// value is the body of a 200. Methods that need the exclusive lock run
// under the node lock.
func (s *Server) nodeVendorPassthru(c *fiber.Ctx) error {
	method, err := passthruMethod(c)
	if err != nil {
		return err
	}
	n, vd, err := s.loadNodeVendor(c)
	if err != nil {
		return err
	}
	meta, ok := vd.VendorMethods()[method]
	if !ok {
		return badRequest("No handler for method %s", method)
	}
	httpMethod := strings.Clone(c.Method()) // escapes into the workflow input
	if !slices.Contains(meta.HTTPMethods, httpMethod) {
		return badRequest("The method %s does not support HTTP %s", method, httpMethod)
	}
	args := json.RawMessage("{}")
	if v, ok, err := decodeBody(c); err != nil {
		return err
	} else if ok && v != nil {
		args = encodeValue(v)
	}
	in := contract.PassthruInput{NodeUUID: n.UUID, Method: method, HTTPMethod: httpMethod, Args: args}
	id := contract.ReadWorkflowID(n.UUID, uuid.NewString())
	if meta.RequireExclusiveLock {
		id = contract.WorkflowID(n.UUID)
	}
	if meta.Async {
		if _, err := s.start(c.UserContext(), n.UUID, n.ConductorGroup, id, contract.PassthruName, in); err != nil {
			return err
		}
		return empty(c, fiber.StatusAccepted)
	}
	var res contract.PassthruResult
	if err := s.runSync(c, n.UUID, n.ConductorGroup, id, contract.PassthruName, in, &res); err != nil {
		return err
	}
	ret := res.Return
	if len(ret) == 0 {
		ret = json.RawMessage("null")
	}
	if meta.Attach {
		var raw string
		if json.Unmarshal(ret, &raw) == nil {
			c.Status(fiber.StatusOK)
			c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
			return c.SendString(raw)
		}
	}
	status := fiber.StatusOK
	if res.Async {
		status = fiber.StatusAccepted
	}
	return s.sendJSON(c, status, func(b []byte) []byte { return append(b, ret...) })
}

// driverNotFound is Ironic's DriverNotFound.
func driverNotFound(name string) *apiError {
	return notFound("Could not find the following driver(s) or hardware type(s): %s.", name)
}

// driverVendorMethods answers GET /v1/drivers/{name}/vendor_passthru/methods.
// ferric's vendor methods are all node methods; no driver-level method
// exists, so the answer is an empty object.
func (s *Server) driverVendorMethods(c *fiber.Ctx) error {
	name := param(c, "name")
	if _, err := s.hardwareType(name); err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return append(b, '{', '}') })
}

// driverVendorPassthru answers calls of driver-level vendor methods (none).
func (s *Server) driverVendorPassthru(c *fiber.Ctx) error {
	name := param(c, "name")
	if _, err := s.hardwareType(name); err != nil {
		return err
	}
	method, err := passthruMethod(c)
	if err != nil {
		return err
	}
	return badRequest("No handler for method %s", method)
}
