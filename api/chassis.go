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

// Chassis.

// chassisFieldNames are the members of a chassis in Ironic's order.
var chassisFieldNames = []string{"uuid", "created_at", "updated_at", "description", "extra", "links", "nodes"}

func appendChassis(b []byte, ch *store.Chassis, fields []string, base string) []byte {
	keep := func(name string) bool {
		if fields == nil {
			return true
		}
		return name == "links" || contains(fields, name)
	}
	first := true
	b = append(b, '{')
	for _, name := range chassisFieldNames {
		if !keep(name) || (name == "nodes" && fields != nil) {
			continue
		}
		b = jsonwire.AppendKey(b, name, first)
		first = false
		switch name {
		case "uuid":
			b = jsonwire.AppendString(b, ch.UUID)
		case "created_at":
			if ch.CreatedAt.IsZero() {
				b = append(b, "null"...)
			} else {
				b = jsonwire.AppendTime(b, ch.CreatedAt)
			}
		case "updated_at":
			b = jsonwire.AppendTimePtr(b, ch.UpdatedAt)
		case "description":
			b = jsonwire.AppendStringPtr(b, ch.Description)
		case "extra":
			b = jsonwire.AppendRawObject(b, ch.Extra)
		case "links":
			b = appendLinks(b, base, "chassis/"+ch.UUID)
		case "nodes":
			b = appendLinks(b, base, "chassis/"+ch.UUID+"/nodes")
		}
	}
	return append(b, '}')
}

func checkChassisFields(v int, fields []string) *apiError {
	if v < v8Fields {
		return notAcceptable("")
	}
	var bad []string
	for _, f := range fields {
		if !contains(chassisFieldNames[:6], f) {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		return badRequest("Field(s) \"%s\" are not valid", strings.Join(bad, ", "))
	}
	return nil
}

// loadChassis reads a chassis by UUID.
func (s *Server) loadChassis(c *fiber.Ctx, ident string) (store.Chassis, error) {
	if !isUUIDLike(ident) {
		return store.Chassis{}, badRequest("Expected UUID for chassis_uuid: %s", ident)
	}
	ch, err := s.Store.Chassis(c.UserContext(), ident)
	if errors.Is(err, store.ErrNotFound) {
		return store.Chassis{}, chassisNotFound(ident)
	}
	if err != nil {
		return store.Chassis{}, fmt.Errorf("read chassis %s: %w", ident, err)
	}
	return ch, nil
}

var chassisSortKeys = []string{"id", "uuid", "description", "created_at", "updated_at"}

// listChassis answers GET /v1/chassis and GET /v1/chassis/detail.
func (s *Server) listChassis(detailPath bool) fiber.Handler {
	resource := "chassis"
	if detailPath {
		resource = "chassis/detail"
	}
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		cq, err := s.parseCollectionQuery(c, detailPath, checkChassisFields, []string{"uuid", "description"})
		if err != nil {
			return err
		}
		limit, sortKey, sortDir, fields, detail := cq.limit, cq.sortKey, cq.sortDir, cq.fields, cq.detail
		if sortKey == "extra" {
			return badRequest("The sort_key value %s is an invalid field for sorting", sortKey)
		}
		if !contains(chassisSortKeys, sortKey) {
			return badRequest("The sort_key value \"%s\" is an invalid field for sorting", sortKey)
		}
		var markerID int64
		if marker, ok := query(c, "marker"); ok {
			m, err := s.loadChassis(c, marker)
			if err != nil {
				return err
			}
			markerID = m.ID
		}
		key := sortKey
		if key == "id" {
			key = ""
		}
		list, err := s.Store.ListChassis(ctx, limit, markerID, key, sortDir == "desc")
		if err != nil {
			return fmt.Errorf("list chassis: %w", err)
		}
		base := s.publicURL(c)
		var next string
		if len(list) > 0 && len(list) == limit {
			args := [][2]string{{"sort_key", sortKey}, {"sort_dir", sortDir}}
			if detail != nil {
				args = append(args, [2]string{"detail", pyBool(*detail)})
			}
			if fields != nil {
				args = append(args, [2]string{"fields", strings.Join(fields, ",")})
			}
			next = nextLink(base, resource, args, limit, list[len(list)-1].UUID)
		}
		return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
			b = append(b, `{"chassis":[`...)
			for i := range list {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendChassis(b, &list[i], fields, base)
			}
			b = append(b, ']')
			if next != "" {
				b = append(b, `,"next":`...)
				b = jsonwire.AppendString(b, next)
			}
			return append(b, '}')
		})
	}
}

// getChassis answers GET /v1/chassis/{uuid}.
func (s *Server) getChassis(c *fiber.Ctx) error {
	ch, err := s.loadChassis(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	var fields []string
	if f, ok := parseFields(c); ok {
		if err := checkChassisFields(minor(c), f); err != nil {
			return err
		}
		fields = f
	}
	base := s.publicURL(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return appendChassis(b, &ch, fields, base) })
}

var chassisSchema = &schema{props: map[string]prop{
	"description": {types: []string{"string", "null"}, maxLen: 255},
	"extra":       tObjectNull,
	"uuid":        tStringNull,
}}

func setChassisFields(ch *store.Chassis, o *jsonwire.Object) *apiError {
	for _, k := range o.Keys() {
		val := o.Value(k)
		switch k {
		case "uuid":
			u, err := argUUID("uuid", val)
			if err != nil {
				return err
			}
			if u != nil {
				ch.UUID = *u
			}
		case "description":
			if val == nil {
				ch.Description = nil
			} else {
				d := val.(string)
				ch.Description = &d
			}
		case "extra":
			ch.Extra = json.RawMessage("{}")
			if val != nil {
				ch.Extra = encodeValue(val)
			}
		}
	}
	return nil
}

// createChassis answers POST /v1/chassis.
func (s *Server) createChassis(c *fiber.Ctx) error {
	body, err := decodeObjectBody(c, "chassis")
	if err != nil {
		return err
	}
	if err := chassisSchema.check("chassis", body); err != nil {
		return err
	}
	ch := store.Chassis{Extra: json.RawMessage("{}")}
	if err := setChassisFields(&ch, body); err != nil {
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
	base := s.publicURL(c)
	c.Location(base + "/v1/chassis/" + created.UUID)
	return s.sendJSON(c, fiber.StatusCreated, func(b []byte) []byte { return appendChassis(b, &created, nil, base) })
}

// patchChassis answers PATCH /v1/chassis/{uuid}.
func (s *Server) patchChassis(c *fiber.Ctx) error {
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	if _, err := checkAllowed(ops, []string{"description", "extra"}); err != nil {
		return err
	}
	ch, err := s.loadChassis(c, param(c, "uuid"))
	if err != nil {
		return err
	}
	doc := jsonwire.NewObject()
	if ch.Description != nil {
		doc.Set("description", *ch.Description)
	} else {
		doc.Set("description", nil)
	}
	doc.Set("extra", decodeObject(ch.Extra))
	if err := applyPatch(doc, ops); err != nil {
		return err
	}
	if err := chassisSchema.check("patch", doc); err != nil {
		return err
	}
	for _, k := range []string{"description", "extra"} {
		if _, ok := doc.Get(k); !ok {
			doc.Set(k, nil)
		}
	}
	if err := setChassisFields(&ch, doc); err != nil {
		return err
	}
	updated, err := s.Store.UpdateChassis(c.UserContext(), ch)
	if errors.Is(err, store.ErrNotFound) {
		return chassisNotFound(ch.UUID)
	} else if err != nil {
		return fmt.Errorf("update chassis %s: %w", ch.UUID, err)
	}
	base := s.publicURL(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return appendChassis(b, &updated, nil, base) })
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
		resource := "chassis/" + ch.UUID + "/nodes"
		if detailPath {
			resource += "/detail"
		}
		return s.nodeCollection(c, r, resource)
	}
}
