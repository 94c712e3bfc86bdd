package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/store"
)

// The node's console (GET/PUT /v1/nodes/{ident}/states/console).
//
// ferric's hardware types offer two console interfaces, as Ironic's
// fake-hardware does: fake, whose console starts and stops without touching
// anything and whose connection information is an empty object, and
// no-console, which refuses to be enabled. Neither reaches a BMC, so the
// change is the node's console_enabled, written under the node lock (an
// operation in flight answers NodeLocked, as the conductor's exclusive
// reservation does) rather than run as a workflow.

// consoleUnsupported is Ironic's UnsupportedDriverExtension for the console.
func consoleUnsupported(n *store.Node) *apiError {
	return badRequest("Driver %s does not support console (disabled or not implemented).", n.Driver)
}

// getConsole answers GET /v1/nodes/{ident}/states/console.
func (s *Server) getConsole(c *fiber.Ctx) error {
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	if !n.ConsoleEnabled {
		return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
			return append(b, `{"console_enabled": false, "console_info": null}`...)
		})
	}
	if n.Interfaces.Console != "fake" {
		return consoleUnsupported(&n)
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		return append(b, `{"console_enabled": true, "console_info": {}}`...)
	})
}

// setConsole answers PUT /v1/nodes/{ident}/states/console {"enabled": bool}.
func (s *Server) setConsole(c *fiber.Ctx) error {
	body, err := decodeObjectBody(c, "body")
	if err != nil {
		return err
	}
	var extra []string
	for _, k := range body.Keys() {
		if k != "enabled" {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		return badRequest("Unexpected arguments: %s", strings.Join(extra, ", "))
	}
	raw, ok := body.Get("enabled")
	if !ok {
		return badRequest("Missing mandatory parameter: enabled")
	}
	enabled, aerr := strictBool("enabled", raw)
	if aerr != nil {
		return aerr
	}
	ident := param(c, "ident")
	if _, err := s.updateNode(c, ident, func(n *store.Node) error {
		if operationHolds(n) {
			return s.nodeLocked(n.UUID)
		}
		if n.Interfaces.Console != "fake" {
			return consoleUnsupported(n)
		}
		n.ConsoleEnabled = enabled
		return nil
	}); err != nil {
		return err
	}
	c.Location(s.publicURL(c) + "/v1/nodes/" + ident + "/states/console")
	return empty(c, fiber.StatusAccepted)
}

// strictBool is Ironic's boolean argument (oslo's bool_from_string, strict): a
// JSON boolean, or one of the words it knows in any case.
func strictBool(name string, v any) (bool, *apiError) {
	var s string
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		s = t
	default:
		s = pyRepr(v)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, nil
	case "0", "f", "false", "off", "n", "no":
		return false, nil
	}
	return false, badRequest("Invalid %s: Unrecognized value %s, acceptable values are: "+
		"'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'", name, pyRepr(s))
}
