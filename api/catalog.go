package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// A catalog is one of the API's stored collections of definitions: deploy
// templates (1.55), runbooks (1.92), inspection rules (1.96). They are
// gated, routed, listed, shown, created, saved and deleted alike; what
// differs is here, and each validates and patches in its own way.
type catalog[T any] struct {
	// res is the resource; its member is also the collection's path.
	res *resource[T]
	// since is the microversion that added the catalog; plural names it
	// in the refusal of an older one.
	since  int
	plural string
	// noun names one object in messages and wrapped errors ("deploy
	// template": "Deploy template x could not be found.").
	noun string
	// param is the path parameter that names one object; arg, Ironic's
	// name for it.
	param, arg string
	// body names a create body in messages; check validates it (name
	// body) or a patched document (name "patch"), after schema's check
	// that it is an object at all. emptyBody: an absent or null body is
	// checked as {}.
	body      string
	schema    *jschema
	check     func(name string, doc *jsonwire.Object) *apiError
	emptyBody bool
	// defaults are Ironic's DEFAULT_RETURN_FIELDS; unsortable, the fields
	// beyond checkSort's that its get_all refuses to sort by; listArgs,
	// when set, the only query arguments a list accepts.
	defaults, unsortable, listArgs []string
	// skipEmptyMarker: an empty ?marker= lists from the start instead of
	// naming no object. (Ironic 29 answers 400 "Expected name for marker: "
	// for all three catalogs.)
	skipEmptyMarker bool
	// goneByUUID: a delete that loses to another names the object by its
	// UUID rather than as the path did.
	goneByUUID bool
	// get reads an object by UUID; byName, when set, by name: a path may
	// then name an object either way (badIdent is the message for
	// neither), else by UUID only.
	get, byName func(st Store, ctx context.Context, ident string) (T, error)
	badIdent    string
	// ids are an object's database id, UUID and name ("" when it has none).
	ids func(t *T) (id int64, uuid, name string)
	// find reads a page of the collection, sorted by key ("": by id).
	find           func(s *Server, c *fiber.Ctx, limit int, markerID int64, key string, desc bool) ([]T, error)
	create, update func(st Store, ctx context.Context, t T) (T, error)
	remove         func(st Store, ctx context.Context, uuid string) error
	// nextLink, when set, replaces the usual next link of a full page.
	nextLink func(c *fiber.Ctx, base string, cq *collectionQuery, last string) string
	// authorize, when set, checks a rule against one object: getRule to
	// show it, deleteRule to delete it.
	authorize           func(s *Server, c *fiber.Ctx, t *T, rule auth.Rule) error
	getRule, deleteRule auth.Rule
	// A step catalog's PATCH: the members a patch may touch, the steps'
	// schema, the object as a document and back; vet, when set, checks
	// the patch against the object (and may adjust it) before it applies.
	patchable  []string
	stepSchema *jschema
	toDoc      func(t *T) (*jsonwire.Object, error)
	fromDoc    func(doc *jsonwire.Object, t *T)
	vet        func(s *Server, c *fiber.Ctx, ops []patchOp, t *T) error
}

// register adds the catalog's routes to v1, behind its version gate, with
// its own create and patch.
func (k *catalog[T]) register(s *Server, v1 fiber.Router, create, patch fiber.Handler) {
	addCRUD(v1.Group("/"+k.res.member, k.gate), "", crudRoutes{create: create, patch: patch, param: k.param,
		missing: k.arg,
		list:    func(c *fiber.Ctx) error { return k.list(s, c) },
		get:     func(c *fiber.Ctx) error { return k.show(s, c) },
		del:     func(c *fiber.Ctx) error { return k.delete(s, c) }})
}

// gate refuses requests below the catalog's microversion as Ironic's
// controller does: 404 for GET, 405 for the other methods.
func (k *catalog[T]) gate(c *fiber.Ctx) error {
	if minor(c) >= k.since {
		return c.Next()
	}
	status := fiber.StatusMethodNotAllowed
	if c.Method() == fiber.MethodGet {
		status = fiber.StatusNotFound
	}
	return &apiError{status: status, shape: shapeWebob, bare: true, msg: "The API version does not allow " + k.plural}
}

// notFound is Ironic's answer for an object ident names that is not there.
func (k *catalog[T]) notFound(ident string) *apiError {
	return notFound("%s%s %s could not be found.", strings.ToUpper(k.noun[:1]), k.noun[1:], ident)
}

// load reads the object ident (a path parameter) names: a UUID, or a name
// (escaped as a path gives it) when the catalog's objects have one.
func (k *catalog[T]) load(s *Server, c *fiber.Ctx, ident string) (T, error) {
	get := func(ctx context.Context, id string) (T, error) { return k.get(s.Store, ctx, id) }
	if k.byName == nil {
		return loadByUUID(c, k.arg, ident, get, k.notFound)
	}
	var (
		t   T
		err error
	)
	if u, uerr := url.PathUnescape(ident); uerr == nil {
		ident = u
	}
	switch {
	case isUUIDLike(ident):
		t, err = get(c.UserContext(), ident)
	case isValidLogicalName(ident):
		t, err = k.byName(s.Store, c.UserContext(), ident)
	default:
		return t, badRequest(k.badIdent, ident)
	}
	if errors.Is(err, store.ErrNotFound) {
		return t, k.notFound(ident)
	}
	if err != nil {
		return t, fmt.Errorf("read %s %s: %w", k.noun, ident, err)
	}
	return t, nil
}

// list answers GET on the collection.
func (k *catalog[T]) list(s *Server, c *fiber.Ctx) error {
	if k.listArgs != nil {
		if err := unexpectedArgs(c, k.listArgs...); err != nil {
			return err
		}
	}
	v := minor(c)
	cq, err := parseCollection(s, c, k.res, false)
	if err != nil {
		return err
	}
	if err := cq.returnFields(v, false, k.defaults); err != nil {
		return err
	}
	if slices.Contains(k.unsortable, cq.sortKey) {
		return badRequest("The sort_key value %s is an invalid field for sorting", cq.sortKey)
	}
	if err := k.res.checkSort(cq.sortKey); err != nil {
		return err
	}
	var markerID int64
	if marker, ok := query(c, "marker"); ok && (marker != "" || !k.skipEmptyMarker) {
		get := func(ctx context.Context, id string) (T, error) { return k.get(s.Store, ctx, id) }
		id := func(t *T) int64 { n, _, _ := k.ids(t); return n }
		if markerID, err = readMarker(c.UserContext(), marker, k.noun, get, k.notFound, id); err != nil {
			return err
		}
	}
	key := cq.sortKey
	if key == "id" {
		key = ""
	}
	list, err := k.find(s, c, cq.limit, markerID, key, cq.sortDir == "desc")
	if err != nil {
		return fmt.Errorf("list %s: %w", k.res.member, err)
	}
	vw := s.view(c)
	var next string
	if n := len(list); n > 0 && n == cq.limit {
		_, last, _ := k.ids(&list[n-1])
		if k.nextLink != nil {
			next = k.nextLink(c, vw.base, &cq, last)
		} else {
			next = cq.next(vw.base, k.res.member, nil, nil, n, last)
		}
	}
	p := k.res.plan(v, cq.fields)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return k.res.appendList(b, vw, list, p, next) })
}

// show answers GET on one object.
func (k *catalog[T]) show(s *Server, c *fiber.Ctx) error {
	t, err := k.loadFor(s, c, k.getRule)
	if err != nil {
		return err
	}
	return getObject(s, c, k.res, &t)
}

// loadFor reads the object the path names, and checks rule against it
// when the catalog authorizes per object.
func (k *catalog[T]) loadFor(s *Server, c *fiber.Ctx, rule auth.Rule) (T, error) {
	t, err := k.load(s, c, param(c, k.param))
	if err != nil {
		return t, err
	}
	if k.authorize != nil {
		if err := k.authorize(s, c, &t, rule); err != nil {
			var zero T
			return zero, err
		}
	}
	return t, nil
}

// createDoc reads a create body: the JSON object check accepts, and the
// UUID it asks for or a new one.
func (k *catalog[T]) createDoc(c *fiber.Ctx) (*jsonwire.Object, string, error) {
	v, ok, err := decodeBody(c)
	if err != nil {
		return nil, "", err
	}
	switch {
	case k.emptyBody && (!ok || v == nil):
		v = jsonwire.NewObject()
	case !ok:
		return nil, "", badRequest("Missing mandatory parameter: %s", k.body)
	}
	doc, isObj := v.(*jsonwire.Object)
	if !isObj {
		return nil, "", schemaFailure(k.body, k.schema, v)
	}
	if err := k.check(k.body, doc); err != nil {
		return nil, "", err
	}
	id, _ := doc.Value("uuid").(string)
	if id == "" {
		id = uuid.NewString()
	}
	return doc, id, nil
}

// created stores t and answers 201 with it and its Location, or 409 with
// which of its unique members another object holds.
func (k *catalog[T]) created(s *Server, c *fiber.Ctx, t T) error {
	_, id, name := k.ids(&t)
	created, err := k.create(s.Store, c.UserContext(), t)
	if errors.Is(err, store.ErrExists) {
		if k.byName != nil {
			if other, err := k.byName(s.Store, c.UserContext(), name); err == nil {
				if _, otherID, _ := k.ids(&other); otherID != id {
					return conflict("A %s with name %s already exists.", k.noun, name)
				}
			}
		}
		return conflict("A %s with UUID %s already exists.", k.noun, id)
	} else if err != nil {
		return fmt.Errorf("create %s %s: %w", k.noun, id, err)
	}
	_, id, _ = k.ids(&created)
	c.Location(s.publicURL(c) + "/v1/" + k.res.member + "/" + id)
	return sendObject(s, c, fiber.StatusCreated, k.res, &created, nil)
}

// saved stores t, patched, and answers 200 with it.
func (k *catalog[T]) saved(s *Server, c *fiber.Ctx, t T) error {
	_, id, name := k.ids(&t)
	updated, err := k.update(s.Store, c.UserContext(), t)
	switch {
	case errors.Is(err, store.ErrExists):
		return conflict("A %s with name %s already exists.", k.noun, name)
	case errors.Is(err, store.ErrNotFound):
		return k.notFound(id)
	case err != nil:
		return fmt.Errorf("update %s %s: %w", k.noun, id, err)
	}
	return sendObject(s, c, fiber.StatusOK, k.res, &updated, nil)
}

// patchSteps answers PATCH on a step catalog's object: the patch applies
// to its document; Ironic then prunes each step of what the step schema
// does not know and checks it, then checks the document.
func (k *catalog[T]) patchSteps(s *Server, c *fiber.Ctx) error {
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	if err := checkAllowed(ops, k.patchable); err != nil {
		return err
	}
	t, err := k.load(s, c, param(c, k.param))
	if err != nil {
		return err
	}
	if k.vet != nil {
		if err := k.vet(s, c, ops, &t); err != nil {
			return err
		}
	}
	doc, err := k.toDoc(&t)
	if err != nil {
		_, id, _ := k.ids(&t)
		return fmt.Errorf("%s %s: %w", k.noun, id, err)
	}
	if err := applyPatch(doc, ops); err != nil {
		return err
	}
	if err := pruneSteps(doc, k.stepSchema); err != nil {
		return err
	}
	if err := k.check("patch", doc); err != nil {
		return err
	}
	k.fromDoc(doc, &t)
	return k.saved(s, c, t)
}

// delete answers DELETE on one object.
func (k *catalog[T]) delete(s *Server, c *fiber.Ctx) error {
	t, err := k.loadFor(s, c, k.deleteRule)
	if err != nil {
		return err
	}
	_, id, _ := k.ids(&t)
	if err := k.remove(s.Store, c.UserContext(), id); errors.Is(err, store.ErrNotFound) {
		if k.goneByUUID {
			return k.notFound(id)
		}
		return k.notFound(param(c, k.param))
	} else if err != nil {
		return fmt.Errorf("delete %s %s: %w", k.noun, id, err)
	}
	return empty(c, fiber.StatusNoContent)
}

// A step catalog (deploy templates, runbooks) holds named lists of steps.

// stepCore is what every stored step holds, in its stored and shown order.
type stepCore struct {
	Interface string          `json:"interface"`
	Step      string          `json:"step"`
	Args      json.RawMessage `json:"args"`
}

func (st stepCore) core() stepCore { return st }

// storedStep is a step catalog's step: its core and the member that places
// it among the others (a template's priority, a runbook's order).
type storedStep interface {
	core() stepCore
	// place is the member's name and value as a patch document holds it.
	place() (string, any, error)
	// appendPlace renders the member, after the core's.
	appendPlace(b []byte) []byte
}

// stepSchema is a step catalog's step schema: the interfaces a step may
// name, the member that places it and the members it requires.
func stepSchema(interfaces []string, place string, required ...string) *jschema {
	args := js()
	args.types = []string{"object"}
	iface := js()
	iface.types, iface.enum = []string{"string"}, make([]any, len(interfaces))
	for i, k := range interfaces {
		iface.enum[i] = k
	}
	zero := int64(0)
	placeInt := js()
	placeInt.types, placeInt.minimum = []string{"integer"}, &zero
	placeStr := js()
	placeStr.types, placeStr.minLength, placeStr.pattern = []string{"string"}, 1, regexp.MustCompile(`^[0-9]+$`)
	placing := js()
	placing.anyOf = []*jschema{placeInt, placeStr}
	step := js()
	step.types, step.minLength = []string{"string"}, 1
	s := js()
	s.types = []string{"object"}
	s.props = []jprop{{"args", args}, {"interface", iface}, {place, placing}, {"step", step}}
	s.required = required
	s.closed = true
	return s
}

// stepCatalogSchema is a step catalog's document schema: a name (a trait),
// one or more steps, a description, extra, a UUID, and the catalog's more
// members; all in the order of their names.
func stepCatalogSchema(step *jschema, more ...jprop) *jschema {
	desc := js()
	desc.types, desc.maxLength = []string{"string", "null"}, 255
	extra := js()
	extra.types = []string{"object", "null"}
	steps := js()
	steps.types, steps.items, steps.minItems = []string{"array"}, step, 1
	id := js()
	id.types = []string{"string", "null"}
	s := js()
	s.types = []string{"object"}
	s.props = append([]jprop{{"description", desc}, {"extra", extra}, {"name", traitSchema()}, {"steps", steps},
		{"uuid", id}}, more...)
	slices.SortFunc(s.props, func(a, b jprop) int { return strings.Compare(a.name, b.name) })
	s.required = []string{"steps", "name"}
	s.closed = true
	return s
}

// checkStepCatalog is Ironic's TEMPLATE_VALIDATOR and RUNBOOK_VALIDATOR
// (the schema, duplicate steps, the UUID) for a create body or a patched
// document (name "patch"); what and article name the object in the
// duplicate steps' message.
func checkStepCatalog(name string, schema *jschema, what, article string, doc *jsonwire.Object) *apiError {
	if err := schemaFailure(name, schema, doc); err != nil {
		return err
	}
	if err := duplicateSteps(what, article, doc); err != nil {
		return err
	}
	if id, ok := doc.Get("uuid"); ok {
		if _, err := argUUID("uuid", id); err != nil {
			return err
		}
	}
	return nil
}

// duplicateSteps is Ironic's duplicate_steps validator for a checked
// document's steps (deploy templates, runbooks): what names the object in
// its message.
func duplicateSteps(what, article string, doc *jsonwire.Object) *apiError {
	steps, _ := doc.Value("steps").([]any)
	count := map[string]int{}
	var dups []string
	for _, st := range steps {
		o := st.(*jsonwire.Object) // the schema made sure
		key := fmt.Sprintf("interface: %s, step: %s", o.Value("interface"), o.Value("step"))
		if count[key]++; count[key] == 2 {
			dups = append(dups, key)
		}
	}
	if len(dups) > 0 {
		return badRequest("%s invalid: Duplicate deploy steps. A %s cannot have multiple "+
			"deploy steps with the same interface and step. Duplicates: %s.", what, article, strings.Join(dups, "; "))
	}
	return nil
}

// decodeSteps reads stored steps (a JSON array; none when empty).
func decodeSteps[S storedStep](raw json.RawMessage) ([]S, error) {
	var steps []S
	if len(raw) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(raw, &steps); err != nil {
		return nil, fmt.Errorf("stored steps: %w", err)
	}
	return steps, nil
}

// appendSteps renders stored steps in Ironic's member order (Ironic's
// convert_steps), with the secrets of their arguments masked
// (step_sanitize).
func appendSteps[S storedStep](b []byte, raw json.RawMessage) []byte {
	steps, err := decodeSteps[S](raw)
	if err != nil {
		return append(b, `[]`...)
	}
	b = append(b, '[')
	for i, st := range steps {
		if i > 0 {
			b = append(b, ',')
		}
		c := st.core()
		b = append(b, `{"interface":`...)
		b = jsonwire.AppendString(b, c.Interface)
		b = append(b, `,"step":`...)
		b = jsonwire.AppendString(b, c.Step)
		b = append(b, `,"args":`...)
		b = appendMasked(b, c.Args, false)
		b = st.appendPlace(b)
		b = append(b, '}')
	}
	return append(b, ']')
}

// stepObject is a stored step as a document holds it.
func stepObject(st storedStep) (*jsonwire.Object, error) {
	c := st.core()
	o := jsonwire.NewObject()
	o.Set("interface", c.Interface)
	o.Set("step", c.Step)
	args, err := jsonwire.DecodeStored(c.Args)
	if err != nil {
		return nil, fmt.Errorf("stored step arguments: %w", err)
	}
	o.Set("args", args)
	name, v, err := st.place()
	if err != nil {
		return nil, fmt.Errorf("stored step %s: %w", name, err)
	}
	o.Set(name, v)
	return o, nil
}

// stepCatalogDoc is a step catalog's object as a JSON document to patch
// (Ironic's as_dict, without what no patch may touch): its UUID, name,
// steps and extra; the caller sets the catalog's more members.
func stepCatalogDoc[S storedStep](id, name string, raw, extra json.RawMessage) (*jsonwire.Object, error) {
	steps, err := decodeSteps[S](raw)
	if err != nil {
		return nil, err
	}
	list := make([]any, len(steps))
	for i, st := range steps {
		if list[i], err = stepObject(st); err != nil {
			return nil, err
		}
	}
	doc := jsonwire.NewObject()
	doc.Set("uuid", id)
	doc.Set("name", name)
	doc.Set("steps", list)
	doc.Set("extra", decodeObject(extra))
	return doc, nil
}

// stepsFromDoc reads a checked document's name, extra and steps: each
// step's core (arguments {} when absent) and placing member, which step
// makes one stored step of.
func stepsFromDoc[S storedStep](doc *jsonwire.Object, place string,
	step func(stepCore, any) S) (name string, extra, steps json.RawMessage) {
	name, _ = doc.Value("name").(string)
	extra = json.RawMessage(`{}`)
	if e, ok := doc.Value("extra").(*jsonwire.Object); ok {
		extra = encodeValue(e)
	}
	list, _ := doc.Value("steps").([]any)
	out := make([]S, len(list))
	for i, st := range list {
		o := st.(*jsonwire.Object) // the schema made sure
		args := any(jsonwire.NewObject())
		if a, ok := o.Get("args"); ok {
			args = a
		}
		out[i] = step(stepCore{Interface: o.Value("interface").(string), Step: o.Value("step").(string),
			Args: encodeValue(args)}, o.Value(place))
	}
	steps, _ = json.Marshal(out) // strings, raw JSON and numbers: cannot fail
	return name, extra, steps
}

// pruneSteps is what Ironic does to a patched document's steps: each loses
// what schema does not know, then schema checks it.
func pruneSteps(doc *jsonwire.Object, schema *jschema) *apiError {
	steps, _ := doc.Value("steps").([]any)
	for _, st := range steps {
		if o, isObj := st.(*jsonwire.Object); isObj {
			pruneObject(o, schema)
		}
		if err := schemaFailure("patch", schema, st); err != nil {
			return err
		}
	}
	return nil
}

// pruneObject deletes o's members that schema does not know.
func pruneObject(o *jsonwire.Object, schema *jschema) {
	for _, k := range slices.Clone(o.Keys()) {
		if !slices.ContainsFunc(schema.props, func(p jprop) bool { return p.name == k }) {
			o.Delete(k)
		}
	}
}
