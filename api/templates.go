package api

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// Deploy templates (API 1.55): named lists of deploy steps, run by a deploy
// whose instance traits (instance_info.traits) name the template.

// deployStepInterfaces are conductor/steps.py's DEPLOYING_INTERFACE_PRIORITY
// keys, in their order (the enum of Ironic's DEPLOY_STEP_SCHEMA).
var deployStepInterfaces = []string{"power", "management", "deploy", "bios", "raid"}

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

// Schemas, built once (they hold compiled patterns and are read-only):
// Ironic's DEPLOY_STEP_SCHEMA and TEMPLATE_SCHEMA.
var (
	deployStepSchemaV = stepSchema(deployStepInterfaces, "priority", "interface", "step", "args", "priority")
	templateSchemaV   = stepCatalogSchema(deployStepSchemaV)
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
	stepCore
	Priority int `json:"priority"`
}

func (st templateStep) place() (string, any, error) {
	return "priority", json.Number(strconv.Itoa(st.Priority)), nil
}

func (st templateStep) appendPlace(b []byte) []byte {
	return strconv.AppendInt(append(b, `,"priority":`...), int64(st.Priority), 10)
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
		computedField("steps", 1, func(b []byte, _ *view, t *dt) []byte { return appendSteps[templateStep](b, t.Steps) }),
	}
}

// templateRes is the deploy template resource.
var templateRes = newResource("deploy_templates", templateFields(), false, store.DeployTemplateSortKeys(),
	fieldsNotValid)

// templateCatalog is the deploy templates' catalog (API 1.55): GET
// /v1/deploy_templates lists them; GET and DELETE
// /v1/deploy_templates/{ident} show and delete one.
var templateCatalog = &catalog[store.DeployTemplate]{res: templateRes, since: v55DeployTemplates,
	plural: "deploy templates", noun: "deploy template", param: "ident", arg: "template_ident",
	body: "template", schema: templateSchemaV, check: checkTemplate,
	defaults: []string{"uuid", "name"}, unsortable: []string{"steps"},
	get: Store.DeployTemplate, byName: Store.DeployTemplateByName,
	badIdent: "Expected UUID or name for template_ident: %s",
	ids:      func(t *store.DeployTemplate) (int64, string, string) { return t.ID, t.UUID, t.Name },
	find: func(s *Server, c *fiber.Ctx, limit int, markerID int64, key string, desc bool) ([]store.DeployTemplate,
		error) {
		return s.Store.ListDeployTemplates(c.UserContext(), limit, markerID, key, desc)
	},
	create: Store.CreateDeployTemplate, update: Store.UpdateDeployTemplate, remove: Store.DeleteDeployTemplate,
	patchable: templatePatchFields, stepSchema: deployStepSchemaV, toDoc: templateDoc, fromDoc: templateFromDoc}

// checkTemplate is Ironic's TEMPLATE_VALIDATOR (the schema, duplicate
// steps, the UUID) for a create body (name "template") or a patched
// template (name "patch").
func checkTemplate(name string, doc *jsonwire.Object) *apiError {
	return checkStepCatalog(name, templateSchemaV, "Deploy template", "deploy template", doc)
}

// templateFromDoc writes a checked template document's name, extra and
// steps to t: priorities as integers, arguments as given.
func templateFromDoc(doc *jsonwire.Object, t *store.DeployTemplate) {
	t.Name, t.Extra, t.Steps = stepsFromDoc(doc, "priority", func(c stepCore, prio any) templateStep {
		return templateStep{stepCore: c, Priority: stepPriority(prio)}
	})
}

// createTemplate answers POST /v1/deploy_templates.
func (s *Server) createTemplate(c *fiber.Ctx) error {
	doc, id, err := templateCatalog.createDoc(c)
	if err != nil {
		return err
	}
	t := store.DeployTemplate{UUID: id}
	templateFromDoc(doc, &t)
	return templateCatalog.created(s, c, t)
}

// templateDoc is a template as a JSON document to patch (Ironic's
// as_dict, without what no patch may touch).
func templateDoc(t *store.DeployTemplate) (*jsonwire.Object, error) {
	return stepCatalogDoc[templateStep](t.UUID, t.Name, t.Steps, t.Extra)
}

// patchTemplate answers PATCH /v1/deploy_templates/{ident}.
func (s *Server) patchTemplate(c *fiber.Ctx) error {
	return templateCatalog.patchSteps(s, c)
}

// instanceTraits reads instance_info.traits as Ironic's
// validate_instance_info_traits does: nil when unset (or empty), an error
// when it is not a list of strings or names a trait the node lacks.
func instanceTraits(n *store.Node) ([]string, *apiError) {
	info := decodeObject(n.InstanceInfo)
	raw, ok := info.Get("traits")
	if !ok || !jsonwire.Truthy(raw) {
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
