package api

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// Child nodes (API 1.83): a node's parent_node names the node it is part
// of (a DPU in a server, say). Ironic stores the parent's UUID whichever
// identifier the client gave, leaves child nodes out of node lists unless
// asked for, and lists a node's children at /v1/nodes/{ident}/children.

// resolveParentNode is Ironic's authorize_node_link for parent_node: the
// value (a UUID or a name) must name a node the caller may see with the
// same owner as the child (owner); one message refuses all else, so as
// not to tell whether the node exists.
func (s *Server) resolveParentNode(c *fiber.Ctx, val any, owner *string) (string, error) {
	refuse := badRequest("Unable to apply the requested parent_node '%s'. Requested value was invalid.",
		pyDisplay(val))
	ident, ok := val.(string)
	if !ok || ident == "" {
		return "", refuse
	}
	parent, err := s.Store.Node(c.UserContext(), ident)
	if errors.Is(err, store.ErrNotFound) {
		return "", refuse
	} else if err != nil {
		return "", fmt.Errorf("read parent node %s: %w", ident, err)
	}
	if s.authorizeNode(c, &parent, ident) != nil || !equalPtr(parent.Owner, owner) {
		return "", refuse
	}
	return parent.UUID, nil
}

// nodeChildren answers GET /v1/nodes/{ident}/children: the UUIDs of the
// node's children (of the caller's project, for a project-scoped caller)
// and a link to the node list that shows them. Ironic's controller takes
// no query arguments (it fails with a 500 on any); ferric refuses them
// with a 400.
func (s *Server) nodeChildren(c *fiber.Ctx) error {
	if err := routedFrom(c, v83ParentNode); err != nil {
		return err
	}
	ident := param(c, "ident")
	if err := unexpectedArgs(c); err != nil {
		return err
	}
	n, err := s.loadNode(c, ident)
	if err != nil {
		return err
	}
	children, err := s.Store.ListNodes(c.UserContext(), store.ListNodes{ParentNode: n.UUID, Project: listProject(c)})
	if err != nil {
		return fmt.Errorf("list children of node %s: %w", n.UUID, err)
	}
	base := s.view(c).base
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"children":[`...)
		for i := range children {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonwire.AppendString(b, children[i].UUID)
		}
		b = append(b, `],"links":{"href":`...)
		b = jsonwire.AppendString(b, base+"/v1/nodes?parent_node="+n.UUID)
		return append(b, `,"rel":"children"}}`...)
	})
}
