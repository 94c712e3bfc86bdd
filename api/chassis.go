package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/store"
)

// Chassis.

// chassisFields is Ironic's chassis representation, in its order; see
// fields.go.
func chassisFields() []field[store.Chassis] {
	type ch = store.Chassis
	uuidOf := func(c *ch) *string { return &c.UUID }
	return []field[ch]{
		uuidField(uuidOf),
		timeField("created_at", func(c *ch) *time.Time { return &c.CreatedAt }),
		timePtrField("updated_at", 1, func(c *ch) **time.Time { return &c.UpdatedAt }),
		strPtrField("description", 1, func(c *ch) **string { return &c.Description }).
			input(prop{types: []string{"string", "null"}, maxLen: 255}, inCreate|inPatch),
		objectField("extra", 1, func(c *ch) *json.RawMessage { return &c.Extra }).input(tObjectNull, inCreate|inPatch),
		linkField("links", 1, "chassis/", uuidOf, ""),
		linkField("nodes", 1, "chassis/", uuidOf, "/nodes"),
	}
}

// chassisRes is the chassis resource: chassisFields with what they build.
var chassisRes = newResource("chassis", chassisFields(), false, store.ChassisSortKeys(), fieldsNotValid)

// loadChassis reads a chassis by UUID.
func (s *Server) loadChassis(c *fiber.Ctx, ident string) (store.Chassis, error) {
	return loadByUUID(c, "chassis_uuid", ident, s.Store.Chassis, chassisNotFound)
}

// listChassis answers GET /v1/chassis and GET /v1/chassis/detail.
func (s *Server) listChassis(detailPath bool) fiber.Handler {
	resource := listResource("chassis", detailPath)
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		v := minor(c)
		cq, err := parseCollection(s, c, chassisRes, detailPath)
		if err != nil {
			return err
		}
		if err := cq.returnFields(v, detailPath, []string{"uuid", "description"}); err != nil {
			return err
		}
		if err := chassisRes.checkSort(cq.sortKey); err != nil {
			return err
		}
		var markerID int64
		if marker, ok := query(c, "marker"); ok {
			m, err := s.loadChassis(c, marker)
			if err != nil {
				return err
			}
			markerID = m.ID
		}
		key := cq.sortKey
		if key == "id" {
			key = ""
		}
		list, err := s.Store.ListChassis(ctx, cq.limit, markerID, key, cq.sortDir == "desc")
		if err != nil {
			return fmt.Errorf("list chassis: %w", err)
		}
		return sendList(s, c, chassisRes, &cq, resource, nil, list, func(ch *store.Chassis) *string { return &ch.UUID })
	}
}

// getChassis answers GET /v1/chassis/{uuid}.
func (s *Server) getChassis(c *fiber.Ctx) error {
	ch, err := s.loadChassis(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	return getObject(s, c, chassisRes, &ch)
}

// createChassis answers POST /v1/chassis.
func (s *Server) createChassis(c *fiber.Ctx) error {
	var ch store.Chassis
	if err := chassisRes.decodeCreate(c, "chassis", &ch, &input{c: c, s: s, v: minor(c)}); err != nil {
		return err
	}
	if ch.UUID == "" {
		ch.UUID = uuid.NewString()
	}
	created, err := s.Store.CreateChassis(c.UserContext(), ch)
	if errors.Is(err, store.ErrExists) {
		return conflict("A chassis with UUID %s already exists.", ch.UUID)
	} else if err != nil {
		return fmt.Errorf("create chassis %s: %w", ch.UUID, err)
	}
	c.Location(s.publicURL(c) + "/v1/chassis/" + created.UUID)
	return sendObject(s, c, fiber.StatusCreated, chassisRes, &created, nil)
}

// patchChassis answers PATCH /v1/chassis/{uuid}.
func (s *Server) patchChassis(c *fiber.Ctx) error {
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	v := minor(c)
	if err := chassisRes.checkPatch(v, ops); err != nil {
		return err
	}
	ch, err := s.loadChassis(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	if err := chassisRes.patchObject(&ch, ops, &input{c: c, s: s, v: v}); err != nil {
		return err
	}
	updated, err := s.Store.UpdateChassis(c.UserContext(), ch)
	if errors.Is(err, store.ErrNotFound) {
		return chassisNotFound(ch.UUID)
	} else if err != nil {
		return fmt.Errorf("update chassis %s: %w", ch.UUID, err)
	}
	return sendObject(s, c, fiber.StatusOK, chassisRes, &updated, nil)
}

// deleteChassis answers DELETE /v1/chassis/{uuid}.
func (s *Server) deleteChassis(c *fiber.Ctx) error {
	ch, err := s.loadChassis(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	switch err := s.Store.DeleteChassis(c.UserContext(), ch.UUID); {
	case errors.Is(err, store.ErrInUse):
		return badRequest("Cannot complete the requested action because chassis %s contains nodes.", ch.UUID)
	case errors.Is(err, store.ErrNotFound):
		return chassisNotFound(ch.UUID)
	case err != nil:
		return fmt.Errorf("delete chassis %s: %w", ch.UUID, err)
	}
	return empty(c, fiber.StatusNoContent)
}

// chassisNodes answers GET /v1/chassis/{uuid}/nodes[/detail].
func (s *Server) chassisNodes(detailPath bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ch, err := s.loadChassis(c, param(c, "uuid"))
		if err != nil {
			return err
		}
		r, err := s.parseNodeList(c, detailPath)
		if err != nil {
			return err
		}
		r.q.ChassisUUID = ch.UUID
		return s.nodeCollection(c, r, listResource("chassis/"+ch.UUID+"/nodes", detailPath))
	}
}
