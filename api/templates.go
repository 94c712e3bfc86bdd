package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/api/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// Deploy templates (API 1.55): named lists of deploy steps, run by a deploy
// whose instance traits (instance_info.traits) name the template.

// deployStepInterfaces are conductor/steps.py's DEPLOYING_INTERFACE_PRIORITY
// keys, in their order (the enum of Ironic's DEPLOY_STEP_SCHEMA).
var deployStepInterfaces = []any{"power", "management", "deploy", "bios", "raid"}

// deployStepSchema is Ironic's DEPLOY_STEP_SCHEMA.
func deployStepSchema() *jschema {
	args := js()
	args.types = []string{"object"}
	iface := js()
	iface.types, iface.enum = []string{"string"}, deployStepInterfaces
	zero := int64(0)
	prioInt := js()
	prioInt.types, prioInt.minimum = []string{"integer"}, &zero
	prioStr := js()
	prioStr.types, prioStr.minLength, prioStr.pattern = []string{"string"}, 1, regexp.MustCompile(`^[0-9]+$`)
	prio := js()
	prio.anyOf = []*jschema{prioInt, prioStr}
	step := js()
	step.types, step.minLength = []string{"string"}, 1
	s := js()
	s.types = []string{"object"}
	s.props = []jprop{{"args", args}, {"interface", iface}, {"priority", prio}, {"step", step}}
	s.required = []string{"interface", "step", "args", "priority"}
	s.closed = true
	return s
}

// traitSchema is Ironic's TRAITS_SCHEMA: a CUSTOM_ trait or a standard one
// (ferric approximates os-traits' list of standard traits with a pattern,
// as node traits do).
func traitSchema() *jschema {
	custom := js()
	custom.pattern = customTraitRE
	standard := js()
	standard.pattern = standardTraitRE
	s := js()
	s.types, s.minLength, s.maxLength = []string{"string"}, 1, 255
	s.anyOf = []*jschema{custom, standard}
	return s
}

// templateSchema is Ironic's TEMPLATE_SCHEMA.
func templateSchema() *jschema {
	desc := js()
	desc.types, desc.maxLength = []string{"string", "null"}, 255
	extra := js()
	extra.types = []string{"object", "null"}
	steps := js()
	steps.types, steps.items, steps.minItems = []string{"array"}, deployStepSchema(), 1
	id := js()
	id.types = []string{"string", "null"}
	s := js()
	s.types = []string{"object"}
	s.props = []jprop{{"description", desc}, {"extra", extra}, {"name", traitSchema()}, {"steps", steps}, {"uuid", id}}
	s.required = []string{"steps", "name"}
	s.closed = true
	return s
}

// Schemas, built once (they hold compiled patterns and are read-only).
var (
	templateSchemaV   = templateSchema()
	deployStepSchemaV = deployStepSchema()
)

// schemaFailure is ironic.common.args' schema error: the message and, for
// an anyOf, its possible root cause.
func schemaFailure(name string, s *jschema, v any) *apiError {
	msg, cause := s.validate(v)
	if msg == "" {
		return nil
	}
	if cause != "" {
		return badRequest("Schema error for %s: %s. Possible root cause: %s", name, msg, cause)
	}
	return badRequest("Schema error for %s: %s", name, msg)
}

// templatePatchFields are Ironic's PATCH_ALLOWED_FIELDS for templates, in
// its order.
var templatePatchFields = []string{"extra", "name", "steps", "description"}

// templateStep is a deploy step as a template stores and shows it.
type templateStep struct {
	Interface string          `json:"interface"`
	Step      string          `json:"step"`
	Args      json.RawMessage `json:"args"`
	Priority  int             `json:"priority"`
}

// decodeTemplateSteps reads stored steps (a JSON array).
func decodeTemplateSteps(raw json.RawMessage) ([]templateStep, error) {
	var steps []templateStep
	if len(raw) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(raw, &steps); err != nil {
		return nil, fmt.Errorf("stored deploy steps: %w", err)
	}
	return steps, nil
}

// appendTemplateSteps renders stored steps in Ironic's member order, with
// the secrets of their arguments masked (step_sanitize).
func appendTemplateSteps(b []byte, raw json.RawMessage) []byte {
	steps, err := decodeTemplateSteps(raw)
	if err != nil {
		return append(b, `[]`...)
	}
	b = append(b, '[')
	for i, st := range steps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"interface":`...)
		b = jsonwire.AppendString(b, st.Interface)
		b = append(b, `,"step":`...)
		b = jsonwire.AppendString(b, st.Step)
		b = append(b, `,"args":`...)
		b = appendMasked(b, st.Args, false)
		b = append(b, `,"priority":`...)
		b = strconv.AppendInt(b, int64(st.Priority), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// templateFields is Ironic's deploy template representation, in its order.
func templateFields() []field[store.DeployTemplate] {
	type dt = store.DeployTemplate
	uuidOf := func(t *dt) *string { return &t.UUID }
	return []field[dt]{
		strField("uuid", 1, uuidOf),
		timeField("created_at", func(t *dt) *time.Time { return &t.CreatedAt }),
		timePtrField("updated_at", 1, func(t *dt) **time.Time { return &t.UpdatedAt }),
		strField("name", 1, func(t *dt) *string { return &t.Name }),
		objectField("extra", 1, func(t *dt) *json.RawMessage { return &t.Extra }),
		linkField("links", 1, "deploy_templates/", uuidOf, ""),
		computedField("steps", 1, func(b []byte, _ *view, t *dt) []byte { return appendTemplateSteps(b, t.Steps) }),
	}
}

// templateRes is the deploy template resource.
var templateRes = newResource("deploy_templates", templateFields(), false, store.DeployTemplateSortKeys(),
	fieldsNotValid)

// templatesVersion refuses deploy template requests below API 1.55 as
// Ironic's controller does: 404 for GET, 405 for the other methods.
func templatesVersion(c *fiber.Ctx) error {
	if minor(c) >= v55DeployTemplates {
		return c.Next()
	}
	status := fiber.StatusMethodNotAllowed
	if c.Method() == fiber.MethodGet {
		status = fiber.StatusNotFound
	}
	return &apiError{status: status, shape: shapeWebob, bare: true,
		msg: "The API version does not allow deploy templates"}
}

func templateNotFound(ident string) *apiError {
	return notFound("Deploy template %s could not be found.", ident)
}

// loadTemplate reads the template named by ident (as the path gives it,
// escaped): a UUID or a name.
func (s *Server) loadTemplate(c *fiber.Ctx, ident string) (store.DeployTemplate, error) {
	var (
		t   store.DeployTemplate
		err error
	)
	if u, uerr := url.PathUnescape(ident); uerr == nil {
		ident = u
	}
	switch {
	case isUUIDLike(ident):
		t, err = s.Store.DeployTemplate(c.UserContext(), ident)
	case isValidLogicalName(ident):
		t, err = s.Store.DeployTemplateByName(c.UserContext(), ident)
	default:
		return t, badRequest("Expected UUID or name for template_ident: %s", ident)
	}
	if errors.Is(err, store.ErrNotFound) {
		return t, templateNotFound(ident)
	}
	if err != nil {
		return t, fmt.Errorf("read deploy template %s: %w", ident, err)
	}
	return t, nil
}

// listTemplates answers GET /v1/deploy_templates.
func (s *Server) listTemplates(c *fiber.Ctx) error {
	v := minor(c)
	cq, err := parseCollection(s, c, templateRes, false)
	if err != nil {
		return err
	}
	if err := cq.returnFields(v, false, []string{"uuid", "name"}); err != nil {
		return err
	}
	if cq.sortKey == "steps" {
		return badRequest("The sort_key value %s is an invalid field for sorting", cq.sortKey)
	}
	if err := templateRes.checkSort(cq.sortKey); err != nil {
		return err
	}
	var markerID int64
	if marker, ok := query(c, "marker"); ok {
		m, err := s.Store.DeployTemplate(c.UserContext(), marker)
		if errors.Is(err, store.ErrNotFound) {
			return templateNotFound(marker)
		} else if err != nil {
			return fmt.Errorf("read deploy template %s: %w", marker, err)
		}
		markerID = m.ID
	}
	key := cq.sortKey
	if key == "id" {
		key = ""
	}
	list, err := s.Store.ListDeployTemplates(c.UserContext(), cq.limit, markerID, key, cq.sortDir == "desc")
	if err != nil {
		return fmt.Errorf("list deploy templates: %w", err)
	}
	vw := s.view(c)
	var next string
	if len(list) > 0 {
		next = cq.next(vw.base, "deploy_templates", nil, nil, len(list), list[len(list)-1].UUID)
	}
	p := templateRes.plan(v, cq.fields)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return templateRes.appendList(b, vw, list, p, next) })
}

// getTemplate answers GET /v1/deploy_templates/{ident}.
func (s *Server) getTemplate(c *fiber.Ctx) error {
	t, err := s.loadTemplate(c, param(c, "ident"))
	if err != nil {
		return err
	}
	return getObject(s, c, templateRes, &t)
}

// checkTemplate is Ironic's TEMPLATE_VALIDATOR (the schema, duplicate
// steps, the UUID) for a create body (name "template") or a patched
// template (name "patch").
func checkTemplate(name string, doc *jsonwire.Object) *apiError {
	if err := schemaFailure(name, templateSchemaV, doc); err != nil {
		return err
	}
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
		return badRequest("Deploy template invalid: Duplicate deploy steps. A deploy template cannot have multiple "+
			"deploy steps with the same interface and step. Duplicates: %s.", strings.Join(dups, "; "))
	}
	if id, ok := doc.Get("uuid"); ok {
		if _, err := argUUID("uuid", id); err != nil {
			return err
		}
	}
	return nil
}

// templateFromDoc writes a checked template document's name, extra and
// steps to t: priorities as integers, arguments as given.
func templateFromDoc(doc *jsonwire.Object, t *store.DeployTemplate) {
	t.Name, _ = doc.Value("name").(string)
	t.Extra = json.RawMessage(`{}`)
	if extra, ok := doc.Value("extra").(*jsonwire.Object); ok {
		t.Extra = encodeValue(extra)
	}
	steps, _ := doc.Value("steps").([]any)
	out := make([]templateStep, len(steps))
	for i, st := range steps {
		o := st.(*jsonwire.Object)
		out[i] = templateStep{Interface: o.Value("interface").(string), Step: o.Value("step").(string),
			Args: encodeValue(o.Value("args")), Priority: stepPriority(o.Value("priority"))}
	}
	t.Steps, _ = json.Marshal(out) // strings, raw JSON and ints: cannot fail
}

// createTemplate answers POST /v1/deploy_templates.
func (s *Server) createTemplate(c *fiber.Ctx) error {
	v, ok, err := decodeBody(c)
	if err != nil {
		return err
	}
	if !ok {
		return badRequest("Missing mandatory parameter: template")
	}
	doc, isObj := v.(*jsonwire.Object)
	if !isObj {
		return schemaFailure("template", templateSchemaV, v)
	}
	if err := checkTemplate("template", doc); err != nil {
		return err
	}
	var t store.DeployTemplate
	if id, _ := doc.Value("uuid").(string); id != "" {
		t.UUID = id
	} else {
		t.UUID = uuid.NewString()
	}
	templateFromDoc(doc, &t)
	created, err := s.Store.CreateDeployTemplate(c.UserContext(), t)
	if errors.Is(err, store.ErrExists) {
		return s.templateConflict(c, t)
	} else if err != nil {
		return fmt.Errorf("create deploy template %s: %w", t.Name, err)
	}
	c.Location(s.publicURL(c) + "/v1/deploy_templates/" + created.UUID)
	return sendObject(s, c, fiber.StatusCreated, templateRes, &created, nil)
}

// templateConflict says which of t's unique fields another template holds.
func (s *Server) templateConflict(c *fiber.Ctx, t store.DeployTemplate) error {
	if other, err := s.Store.DeployTemplateByName(c.UserContext(), t.Name); err == nil && other.UUID != t.UUID {
		return conflict("A deploy template with name %s already exists.", t.Name)
	}
	return conflict("A deploy template with UUID %s already exists.", t.UUID)
}

// templateDoc is a template as a JSON document to patch (Ironic's
// as_dict, without what no patch may touch).
func templateDoc(t *store.DeployTemplate) (*jsonwire.Object, error) {
	steps, err := decodeTemplateSteps(t.Steps)
	if err != nil {
		return nil, err
	}
	list := make([]any, len(steps))
	for i, st := range steps {
		o := jsonwire.NewObject()
		o.Set("interface", st.Interface)
		o.Set("step", st.Step)
		args, err := jsonwire.Decode(st.Args)
		if err != nil {
			return nil, fmt.Errorf("stored step arguments: %w", err)
		}
		o.Set("args", args)
		o.Set("priority", json.Number(strconv.Itoa(st.Priority)))
		list[i] = o
	}
	doc := jsonwire.NewObject()
	doc.Set("uuid", t.UUID)
	doc.Set("name", t.Name)
	doc.Set("steps", list)
	doc.Set("extra", decodeObject(t.Extra))
	return doc, nil
}

// patchTemplate answers PATCH /v1/deploy_templates/{ident}.
func (s *Server) patchTemplate(c *fiber.Ctx) error {
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	if err := checkAllowed(ops, templatePatchFields); err != nil {
		return err
	}
	t, err := s.loadTemplate(c, param(c, "ident"))
	if err != nil {
		return err
	}
	doc, err := templateDoc(&t)
	if err != nil {
		return fmt.Errorf("deploy template %s: %w", t.UUID, err)
	}
	if err := applyPatch(doc, ops); err != nil {
		return err
	}
	// Ironic prunes each step of what its schema does not know, then
	// checks it, then the template.
	if steps, ok := doc.Value("steps").([]any); ok {
		for _, st := range steps {
			if o, isObj := st.(*jsonwire.Object); isObj {
				for _, k := range slices.Clone(o.Keys()) {
					if !slices.ContainsFunc(deployStepSchemaV.props, func(p jprop) bool { return p.name == k }) {
						o.Delete(k)
					}
				}
			}
			if err := schemaFailure("patch", deployStepSchemaV, st); err != nil {
				return err
			}
		}
	}
	if err := checkTemplate("patch", doc); err != nil {
		return err
	}
	templateFromDoc(doc, &t)
	updated, err := s.Store.UpdateDeployTemplate(c.UserContext(), t)
	switch {
	case errors.Is(err, store.ErrExists):
		return conflict("A deploy template with name %s already exists.", t.Name)
	case errors.Is(err, store.ErrNotFound):
		return templateNotFound(t.UUID)
	case err != nil:
		return fmt.Errorf("update deploy template %s: %w", t.UUID, err)
	}
	return sendObject(s, c, fiber.StatusOK, templateRes, &updated, nil)
}

// deleteTemplate answers DELETE /v1/deploy_templates/{ident}.
func (s *Server) deleteTemplate(c *fiber.Ctx) error {
	t, err := s.loadTemplate(c, param(c, "ident"))
	if err != nil {
		return err
	}
	if err := s.Store.DeleteDeployTemplate(c.UserContext(), t.UUID); errors.Is(err, store.ErrNotFound) {
		return templateNotFound(param(c, "ident"))
	} else if err != nil {
		return fmt.Errorf("delete deploy template %s: %w", t.UUID, err)
	}
	return empty(c, fiber.StatusNoContent)
}

// instanceTraits reads instance_info.traits as Ironic's
// validate_instance_info_traits does: nil when unset (or empty), an error
// when it is not a list of strings or names a trait the node lacks.
func instanceTraits(n *store.Node) ([]string, *apiError) {
	info := decodeObject(n.InstanceInfo)
	raw, ok := info.Get("traits")
	if !ok || !truthy(raw) {
		return nil, nil
	}
	bad := badRequest("Error parsing traits from Node %s instance_info field. A list of strings is expected.", n.UUID)
	list, isList := raw.([]any)
	if !isList {
		return nil, bad
	}
	traits := make([]string, 0, len(list))
	for _, t := range list {
		s, isStr := t.(string)
		if !isStr {
			return nil, bad
		}
		traits = append(traits, s)
	}
	var missing []string
	for _, t := range traits {
		if !slices.Contains(n.Traits, t) && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, badRequest("Cannot specify instance traits that are not also set on the node. "+
			"Node %s is missing traits %s", n.UUID, strings.Join(missing, ", "))
	}
	return traits, nil
}
