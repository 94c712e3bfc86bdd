package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// Volume connectors and targets (API 1.32), with the storage interface of
// their node (noop or fake: neither attaches anything; they are records a
// storage interface would use). As in Ironic, the API creates them without
// the node's lock, and changes or deletes them under it, only while the
// node is powered off.

// volumeNodeField is the node_uuid of a volume object: after links, as
// Ironic's populate_node_uuid adds it.
func volumeNodeField[T any](p func(*T) *string) field[T] {
	return strField("node_uuid", 1, p).input(tString, inCreate|inPatch|inRequired).
		setBy(func(t *T, val any, in *input) error {
			u, err := argUUID("node_uuid", val)
			if err != nil {
				return err
			}
			n, rerr := in.s.Store.Node(in.c.UserContext(), *u)
			switch {
			case errors.Is(rerr, store.ErrNotFound) && in.creating:
				return badRequest("Invalid input for field/attribute node_uuid. Value: '%s'. ", *u)
			case errors.Is(rerr, store.ErrNotFound):
				return badRequest("Node %s could not be found.", *u)
			case rerr != nil:
				return fmt.Errorf("read node %s: %w", *u, rerr)
			}
			*p(t) = n.UUID
			return nil
		})
}

// volumeConnectorFields is Ironic 21.4's volume connector representation,
// in its order (testdata/ironic-wire/vc_create.txt).
func volumeConnectorFields() []field[store.VolumeConnector] {
	type vc = store.VolumeConnector
	uuidOf := func(v *vc) *string { return &v.UUID }
	both := inCreate | inPatch | inRequired
	return []field[vc]{
		uuidField(uuidOf),
		timeField("created_at", func(v *vc) *time.Time { return &v.CreatedAt }),
		timePtrField("updated_at", 1, func(v *vc) **time.Time { return &v.UpdatedAt }),
		strField("connector_id", 1, func(v *vc) *string { return &v.ConnectorID }).input(tColumn, both),
		objectField("extra", 1, func(v *vc) *json.RawMessage { return &v.Extra }).input(tObjectNull, inCreate|inPatch),
		strField("type", 1, func(v *vc) *string { return &v.Type }).
			input(prop{types: []string{"string"}, maxLen: 32}, both),
		linkField("links", 1, "volume/connectors/", uuidOf, ""),
		volumeNodeField(func(v *vc) *string { return &v.NodeUUID }),
	}
}

// volumeTargetFields is Ironic 21.4's volume target representation, in its
// order (testdata/ironic-wire/vt_create.txt); properties are masked as
// Ironic's target_sanitize masks them.
func volumeTargetFields() []field[store.VolumeTarget] {
	type vt = store.VolumeTarget
	uuidOf := func(v *vt) *string { return &v.UUID }
	both := inCreate | inPatch | inRequired
	return []field[vt]{
		uuidField(uuidOf),
		timeField("created_at", func(v *vt) *time.Time { return &v.CreatedAt }),
		timePtrField("updated_at", 1, func(v *vt) **time.Time { return &v.UpdatedAt }),
		int32Field("boot_index", 1, func(v *vt) *int32 { return &v.BootIndex }).input(tInteger, both),
		objectField("extra", 1, func(v *vt) *json.RawMessage { return &v.Extra }).input(tObjectNull, inCreate|inPatch),
		objectField("properties", 1, func(v *vt) *json.RawMessage { return &v.Properties }).
			input(tObjectNull, inCreate|inPatch).masked(maskSecrets),
		strField("volume_id", 1, func(v *vt) *string { return &v.VolumeID }).
			input(prop{types: []string{"string"}, maxLen: 36}, both),
		strField("volume_type", 1, func(v *vt) *string { return &v.VolumeType }).
			input(prop{types: []string{"string"}, maxLen: 64}, both),
		linkField("links", 1, "volume/targets/", uuidOf, ""),
		volumeNodeField(func(v *vt) *string { return &v.NodeUUID }),
	}
}

var (
	volumeConnectorRes = newResource("connectors", volumeConnectorFields(), false, store.VolumeConnectorSortKeys(),
		fieldsNotValid)
	volumeTargetRes = newResource("targets", volumeTargetFields(), false, store.VolumeTargetSortKeys(),
		fieldsNotValid)
)

// volumeKind is what differs between connectors and targets.
type volumeKind[T any] struct {
	res      *resource[T]
	what     string // "volume connector"
	path     string // "volume/connectors"
	arg      string // the path parameter in messages: "connector_uuid"
	body     string // the create body in messages: "connector"
	defaults []string
	uuid     func(*T) *string
	node     func(*T) *string
	get      func(ctx context.Context, uuid string) (T, error)
	list     func(ctx context.Context, l store.ListVolume) ([]T, error)
	create   func(ctx context.Context, t T) (T, error)
	update   func(q store.Queries, ctx context.Context, t T) (T, error)
	delete   func(q store.Queries, ctx context.Context, uuid string) error
	reread   func(q store.Queries, ctx context.Context, uuid string) (T, error)
	exists   func(t *T) *apiError // the duplicate other than the UUID
	// redact hides what baremetal:volume:view_target_properties guards
	// (nil: nothing).
	redact func(t *T)
}

func (s *Server) connectorKind() *volumeKind[store.VolumeConnector] {
	type vc = store.VolumeConnector
	return &volumeKind[vc]{
		res: volumeConnectorRes, what: "volume connector", path: "volume/connectors", arg: "connector_uuid",
		body: "connector", defaults: []string{"uuid", "node_uuid", "type", "connector_id"},
		uuid:   func(v *vc) *string { return &v.UUID },
		node:   func(v *vc) *string { return &v.NodeUUID },
		get:    s.Store.VolumeConnector,
		list:   s.Store.ListVolumeConnectors,
		create: s.Store.CreateVolumeConnector,
		update: store.Queries.UpdateVolumeConnector,
		delete: store.Queries.DeleteVolumeConnector,
		reread: store.Queries.VolumeConnector,
		exists: func(v *vc) *apiError {
			return conflict("A volume connector with type %s and connector ID %s already exists.", v.Type, v.ConnectorID)
		},
	}
}

func (s *Server) targetKind() *volumeKind[store.VolumeTarget] {
	type vt = store.VolumeTarget
	return &volumeKind[vt]{
		res: volumeTargetRes, what: "volume target", path: "volume/targets", arg: "target_uuid",
		body: "target", defaults: []string{"uuid", "node_uuid", "volume_type", "boot_index", "volume_id"},
		uuid:   func(v *vt) *string { return &v.UUID },
		node:   func(v *vt) *string { return &v.NodeUUID },
		get:    s.Store.VolumeTarget,
		list:   s.Store.ListVolumeTargets,
		create: s.Store.CreateVolumeTarget,
		update: store.Queries.UpdateVolumeTarget,
		delete: store.Queries.DeleteVolumeTarget,
		reread: store.Queries.VolumeTarget,
		exists: func(v *vt) *apiError {
			return conflict("A volume target with boot index '%d' for the same node already exists.", v.BootIndex)
		},
		redact: func(v *vt) { v.Properties = json.RawMessage(redactedTargetProperties) },
	}
}

// redactedTargetProperties replaces a volume target's properties for a
// caller without baremetal:volume:view_target_properties (Ironic's
// _redact_target_properties).
const redactedTargetProperties = `{"redacted_contents": "** Value redacted: Requires permission ` +
	`baremetal:volume:view_target_properties access. Permission denied. **"}`

// show prepares objects about to be rendered for the caller.
func (k *volumeKind[T]) show(s *Server, c *fiber.Ctx, items ...*T) {
	if k.redact == nil || s.mayViewTargetProperties(c) { // auth.go
		return
	}
	for _, t := range items {
		k.redact(t)
	}
}

// nodeOf is the node t is on.
func (k *volumeKind[T]) nodeOf(t *T) string { return *k.node(t) }

// rereadOf reads *t again under the node lock.
func (k *volumeKind[T]) rereadOf(t *T) func(context.Context, store.Queries) (T, error) {
	return func(ctx context.Context, q store.Queries) (T, error) { return k.reread(q, ctx, *k.uuid(t)) }
}

func (k *volumeKind[T]) notFound(ident string) *apiError {
	return notFound("%s %s could not be found.", upperFirst(k.what), ident)
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// load reads the object a path names (a UUID), if the caller may see it.
func (k *volumeKind[T]) load(s *Server, c *fiber.Ctx, ident string) (T, error) {
	t, err := loadByUUID(c, k.arg, ident, k.get, k.notFound)
	if err != nil {
		return t, err
	}
	return t, s.authorizeObject(c, *k.node(&t), k.notFound(ident)) // auth.go
}

// gateVolume answers the 404 below 1.32: the router's (webob) under
// /v1/volume/..., the controller's NotFound for the volume roots.
func gateVolume(c *fiber.Ctx, root bool) error {
	if minor(c) >= v32Volume {
		return nil
	}
	if root {
		return notFound("Resource could not be found.")
	}
	return webobNotFound()
}

// volumeRoot answers GET /v1/volume and GET /v1/nodes/{ident}/volume: links
// to the connectors and targets (Ironic builds them from the identifier as
// given, without looking the node up).
func (s *Server) volumeRoot(c *fiber.Ctx) error {
	if err := gateVolume(c, true); err != nil {
		return err
	}
	prefix := "volume/"
	if ident := param(c, "ident"); ident != "" {
		prefix = "nodes/" + ident + "/volume/"
	}
	esc := s.view(c).escBase
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"links":`...)
		b = appendLinksParts(b, esc, prefix, "", "")
		b = append(b, `,"connectors":`...)
		b = appendLinksParts(b, esc, prefix, "connectors", "")
		b = append(b, `,"targets":`...)
		b = appendLinksParts(b, esc, prefix, "targets", "")
		return append(b, '}')
	})
}

// listVolume answers GET /v1/volume/{connectors,targets} and
// GET /v1/nodes/{ident}/volume/{connectors,targets}.
func listVolume[T any](s *Server, kind func() *volumeKind[T]) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := gateVolume(c, false); err != nil {
			return err
		}
		k := kind()
		ctx := c.UserContext()
		v := minor(c)
		l := store.ListVolume{Project: listProject(c)} // listProject: auth.go
		resource := k.path
		if ident := param(c, "ident"); ident != "" {
			n, err := s.loadNode(c, ident)
			if err != nil {
				return err
			}
			l.NodeUUID = n.UUID
			resource = "nodes/" + ident + "/" + k.path
		}
		nodeIdent, byNode := query(c, "node")
		if byNode && l.NodeUUID == "" && !isUUIDLike(nodeIdent) && !isValidLogicalName(nodeIdent) {
			return badRequest("Expected UUID or name for node: %s", nodeIdent)
		}
		var cq collectionQuery
		var err error
		if cq.limit, err = s.queryLimit(c); err != nil {
			return err
		}
		if cq.sortKey, cq.sortDir, err = querySort(c); err != nil {
			return err
		}
		fields, hasFields := parseFields(c)
		if cq.detail, err = queryBool(c, "detail"); err != nil {
			return err
		}
		detail := cq.detail != nil && *cq.detail
		switch {
		case hasFields && len(fields) > 0 && detail:
			return badRequest("Can't fetch a subset of fields with 'detail' set")
		case hasFields:
			if err := k.res.checkFields(v, fields); err != nil {
				return err
			}
			cq.fields = fields
		case !detail:
			cq.fields = k.defaults
		}
		if !detail {
			cq.detail = nil // Ironic's next link carries detail only when true
		}
		l.Limit, l.SortKey, l.SortDesc = cq.storePage()
		if l.MarkerID, err = markerID(c, k.what, k.get, k.notFound, idOf[T]); err != nil {
			return err
		}
		if err := k.res.checkSort(cq.sortKey); err != nil {
			return err
		}
		var args [][2]string
		if byNode && l.NodeUUID == "" {
			n, err := s.loadNode(c, nodeIdent)
			if err != nil {
				return err
			}
			l.NodeUUID = n.UUID
			args = append(args, [2]string{"node", nodeIdent})
		}
		items, err := k.list(ctx, l)
		if err != nil {
			return fmt.Errorf("list %s: %w", k.path, err)
		}
		for i := range items {
			k.show(s, c, &items[i])
		}
		return sendList(s, c, k.res, &cq, resource, args, items, k.uuid)
	}
}

// idOf is the internal row id of a volume object.
func idOf[T any](t *T) int64 {
	switch v := any(t).(type) {
	case *store.VolumeConnector:
		return v.ID
	case *store.VolumeTarget:
		return v.ID
	}
	return 0
}

// loadVolume reads the object a path /v1/volume/{connectors,targets}/{uuid}
// names, after the version gate.
func loadVolume[T any](s *Server, c *fiber.Ctx, kind func() *volumeKind[T]) (*volumeKind[T], T, error) {
	if err := gateVolume(c, false); err != nil {
		var zero T
		return nil, zero, err
	}
	k := kind()
	t, err := k.load(s, c, param(c, "uuid"))
	return k, t, err
}

// getVolume answers GET /v1/volume/{connectors,targets}/{uuid}.
func getVolume[T any](s *Server, kind func() *volumeKind[T]) fiber.Handler {
	return func(c *fiber.Ctx) error {
		k, t, err := loadVolume(s, c, kind)
		if err != nil {
			return err
		}
		k.show(s, c, &t)
		return getObject(s, c, k.res, &t)
	}
}

// createVolume answers POST /v1/volume/{connectors,targets}.
func createVolume[T any](s *Server, kind func() *volumeKind[T]) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := gateVolume(c, false); err != nil {
			return err
		}
		k := kind()
		var t T
		if err := k.res.decodeCreate(c, k.body, &t, &input{c: c, s: s, v: minor(c), creating: true}); err != nil {
			return err
		}
		if err := s.authorizeObjectCreate(c, *k.node(&t)); err != nil { // auth.go
			return err
		}
		if *k.uuid(&t) == "" {
			*k.uuid(&t) = uuid.NewString()
		}
		created, err := k.create(c.UserContext(), t)
		switch {
		case errors.Is(err, store.ErrExists):
			if _, err := k.get(c.UserContext(), *k.uuid(&t)); err == nil {
				return conflict("A %s with UUID %s already exists.", k.what, *k.uuid(&t))
			}
			return k.exists(&t)
		case errors.Is(err, store.ErrNotFound):
			return badRequest("Invalid input for field/attribute node_uuid. Value: '%s'. ", *k.node(&t))
		case err != nil:
			return fmt.Errorf("create %s: %w", k.what, err)
		}
		c.Location(s.publicURL(c) + "/v1/" + k.path + "/" + *k.uuid(&created))
		return sendObject(s, c, fiber.StatusCreated, k.res, &created, nil)
	}
}

// poweredOff is the rule of Ironic's volume updates and deletions: the node
// (the one the object ends on) must be powered off.
func poweredOff(n *store.Node, action string) error {
	if n.PowerState != node.PowerOff {
		return invalidStateRequested(action, n.UUID, string(n.PowerState))
	}
	return nil
}

// patchVolume answers PATCH /v1/volume/{connectors,targets}/{uuid}: Ironic's
// API checks, then its conductor's update under the lock of the node the
// object ends on (both nodes when it moves).
func patchVolume[T any](s *Server, kind func() *volumeKind[T]) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := gateVolume(c, false); err != nil {
			return err
		}
		k := kind()
		v := minor(c)
		ops, err := parsePatch(c)
		if err != nil {
			return err
		}
		t, err := k.load(s, c, param(c, "uuid"))
		if err != nil {
			return err
		}
		if err := checkAllowed(ops, k.res.patchable); err != nil {
			return err
		}
		for _, val := range patchValues(ops, "/node_uuid") {
			if s, ok := val.(string); !ok || !isUUIDLike(s) {
				return badRequest("Expected a UUID for node_uuid, but received %s.", pyDisplay(val))
			}
		}
		in := &input{c: c, s: s, v: v}
		var updated, patched T
		target := *k.node(&t)
		err = rewriteLocked(s, c, &t, k.nodeOf, k.rereadOf(&t), func() ([]string, error) {
			patched = t
			if err := k.res.patchObject(&patched, ops, in); err != nil {
				return nil, err
			}
			target = *k.node(&patched)
			return []string{*k.node(&t), target}, nil
		}, func(q store.Queries, nodes map[string]store.Node, cur T) error {
			patched = cur
			if err := k.res.patchObject(&patched, ops, in); err != nil {
				return err
			}
			n := nodes[*k.node(&patched)]
			if err := poweredOff(&n, k.what+" update"); err != nil {
				return err
			}
			var err error
			updated, err = k.update(q, c.UserContext(), patched)
			return err
		})
		switch {
		case errors.Is(err, store.ErrExists):
			return k.exists(&patched)
		case errors.Is(err, store.ErrNotFound):
			if _, gerr := k.get(c.UserContext(), *k.uuid(&t)); errors.Is(gerr, store.ErrNotFound) {
				return k.notFound(*k.uuid(&t))
			}
			return badRequest("Node %s could not be found.", target)
		case err != nil:
			return err
		}
		k.show(s, c, &updated)
		return sendObject(s, c, fiber.StatusOK, k.res, &updated, nil)
	}
}

// deleteVolume answers DELETE /v1/volume/{connectors,targets}/{uuid}: under
// the node lock, while the node is powered off.
func deleteVolume[T any](s *Server, kind func() *volumeKind[T]) fiber.Handler {
	return func(c *fiber.Ctx) error {
		k, t, err := loadVolume(s, c, kind)
		if err != nil {
			return err
		}
		err = rewriteLocked(s, c, &t, k.nodeOf, k.rereadOf(&t), nil, func(q store.Queries, nodes map[string]store.Node, cur T) error {
			n := nodes[*k.node(&cur)]
			if err := poweredOff(&n, k.what+" deletion"); err != nil {
				return err
			}
			return k.delete(q, c.UserContext(), *k.uuid(&cur))
		})
		if errors.Is(err, store.ErrNotFound) {
			return k.notFound(*k.uuid(&t))
		} else if err != nil {
			return err
		}
		return empty(c, fiber.StatusNoContent)
	}
}
