package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/inspection/rules"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// Inspection rules (API 1.96): conditions and actions the inspection
// pipeline applies to a node's inspection data (inspection/rules runs
// them). The API keeps the stored rules; ferric's built-in rules come from
// a file and, as Ironic's, are not shown here.

// ruleConditionSchema and ruleActionSchema are Ironic's
// conditions_schema() and actions_schema() items.
func ruleStepSchema(ops []string, condition bool) *jschema {
	enum := make([]any, 0, 2*len(ops))
	for _, o := range ops {
		enum = append(enum, o)
	}
	if condition {
		for _, o := range ops {
			enum = append(enum, "!"+o)
		}
	}
	op := js()
	op.enum = enum
	args := js()
	args.types = []string{"array", "object"}
	loop := js()
	loop.types = []string{"array", "object"}
	s := js()
	s.types = []string{"object"}
	s.required = []string{"op", "args"}
	s.props = []jprop{{"op", op}, {"args", args}}
	if condition {
		multiple := js()
		multiple.enum = []any{"any", "all", "first", "last"}
		s.props = append(s.props, jprop{"multiple", multiple})
	}
	s.props = append(s.props, jprop{"loop", loop})
	return s
}

// inspectionRuleSchema is Ironic's inspection_rules.validation.SCHEMA.
func inspectionRuleSchema() *jschema {
	zero := int64(0)
	id := js()
	id.types = []string{"string", "null"}
	prio := js()
	prio.types, prio.minimum = []string{"integer"}, &zero
	desc := js()
	desc.types, desc.maxLength = []string{"string", "null"}, 255
	sens := js()
	sens.types = []string{"boolean", "null"}
	phase := js()
	phase.types, phase.maxLength = []string{"string", "null"}, 16
	conds := js()
	conds.types, conds.minItems, conds.items = []string{"array"}, 0, ruleStepSchema(rules.OperatorNames(), true)
	acts := js()
	acts.types, acts.minItems, acts.items = []string{"array"}, 1, ruleStepSchema(rules.ActionNames(), false)
	s := js()
	s.types = []string{"object"}
	s.props = []jprop{{"uuid", id}, {"priority", prio}, {"description", desc}, {"sensitive", sens},
		{"phase", phase}, {"conditions", conds}, {"actions", acts}}
	s.required = []string{"actions"}
	s.closed = true
	return s
}

var inspectionRuleSchemaV = inspectionRuleSchema()

// ruleDefaultFields are Ironic's DEFAULT_RETURN_FIELDS, in its order (the
// next link's).
var ruleDefaultFields = []string{"uuid", "priority", "phase", "description"}

// appendRuleSteps renders stored conditions or actions as Ironic's
// convert_conditions and convert_actions do: op and args, and loop when
// it is not empty, with multiple (default any) for a condition; a
// sensitive rule's are null.
func appendRuleSteps(b []byte, r *store.InspectionRule, raw json.RawMessage, condition bool) []byte {
	if r.Sensitive {
		return append(b, "null"...)
	}
	v, err := jsonwire.DecodeStored(raw)
	list, ok := v.([]any)
	if err != nil || !ok {
		return append(b, "[]"...)
	}
	b = append(b, '[')
	for i, e := range list {
		if i > 0 {
			b = append(b, ',')
		}
		o, _ := e.(*jsonwire.Object)
		if o == nil {
			o = jsonwire.NewObject()
		}
		out := jsonwire.NewObject()
		out.Set("op", o.Value("op"))
		out.Set("args", o.Value("args"))
		if loop := o.Value("loop"); jsonwire.Truthy(loop) {
			out.Set("loop", loop)
			if condition {
				m, has := o.Get("multiple")
				if !has {
					m = "any"
				}
				out.Set("multiple", m)
			}
		}
		b = append(b, encodeValue(out)...)
	}
	return append(b, ']')
}

// inspectionRuleFields is Ironic's inspection rule representation, in its
// order.
func inspectionRuleFields() []field[store.InspectionRule] {
	type ir = store.InspectionRule
	uuidOf := func(r *ir) *string { return &r.UUID }
	return []field[ir]{
		strField("uuid", 1, uuidOf),
		timeField("created_at", func(r *ir) *time.Time { return &r.CreatedAt }),
		timePtrField("updated_at", 1, func(r *ir) **time.Time { return &r.UpdatedAt }),
		strPtrField("description", 1, func(r *ir) **string { return &r.Description }),
		int32Field("priority", 1, func(r *ir) *int32 { return &r.Priority }),
		boolField("sensitive", 1, func(r *ir) *bool { return &r.Sensitive }),
		strPtrField("phase", 1, func(r *ir) **string { return &r.Phase }),
		computedField("conditions", 1, func(b []byte, _ *view, r *ir) []byte {
			return appendRuleSteps(b, r, r.Conditions, true)
		}),
		computedField("actions", 1, func(b []byte, _ *view, r *ir) []byte {
			return appendRuleSteps(b, r, r.Actions, false)
		}),
		// Ironic links its rules under /v1/inspection/, a path it does not
		// serve.
		linkField("links", 1, "inspection/", uuidOf, ""),
	}
}

// inspectionRuleRes is the inspection rule resource.
var inspectionRuleRes = newResource("inspection_rules", inspectionRuleFields(), false, store.InspectionRuleSortKeys(),
	fieldsNotValid)

// inspectionRuleCatalog is the inspection rules' catalog (API 1.96): GET
// /v1/inspection_rules lists them (of every phase: Ironic reads ?phase
// into the next link's filters only); GET and DELETE
// /v1/inspection_rules/{uuid} show and delete one.
var inspectionRuleCatalog = &catalog[store.InspectionRule]{res: inspectionRuleRes, since: v96InspectionRules,
	plural: "inspection rules", noun: "rule", param: "uuid", arg: "inspection_rule_uuid",
	body: "inspection_rule", schema: inspectionRuleSchemaV, check: validateInspectionRule, emptyBody: true,
	listArgs: []string{"marker", "limit", "sort_key", "sort_dir", "fields", "detail", "phase"},
	defaults: ruleDefaultFields, unsortable: []string{"actions", "conditions"}, skipEmptyMarker: true,
	goneByUUID: true, get: Store.InspectionRule, nextLink: ruleNextLink,
	ids: func(r *store.InspectionRule) (int64, string, string) { return r.ID, r.UUID, "" },
	find: func(s *Server, c *fiber.Ctx, limit int, markerID int64, key string, desc bool) ([]store.InspectionRule,
		error) {
		return s.Store.ListInspectionRules(c.UserContext(), store.ListInspectionRules{SortKey: key, Desc: desc,
			MarkerID: markerID, Limit: limit})
	},
	create: Store.CreateInspectionRule, update: Store.UpdateInspectionRule, remove: Store.DeleteInspectionRule}

// ruleNextLink is Ironic's next link for inspection rules: under
// /v1/inspection, with the filters as a Python dict, unescaped.
func ruleNextLink(c *fiber.Ctx, base string, cq *collectionQuery, last string) string {
	filters := "{}"
	if phase, ok := query(c, "phase"); ok && phase != "" {
		filters = "{'phase': " + pyStr(phase) + "}"
	}
	var sb strings.Builder
	sb.WriteString(base + "/v1/inspection?filters=" + filters)
	sb.WriteString("&sort_key=" + escapeQueryValue(cq.sortKey) + "&sort_dir=" + escapeQueryValue(cq.sortDir))
	if cq.detail != nil {
		sb.WriteString("&detail=" + pyBool(*cq.detail))
	}
	if cq.fields != nil {
		sb.WriteString("&fields=" + escapeQueryValue(strings.Join(cq.fields, ",")))
	}
	sb.WriteString("&limit=" + strconv.Itoa(cq.limit) + "&marker=" + last)
	return sb.String()
}

// validateInspectionRule is Ironic's VALIDATOR (the schema, the UUID)
// then validate_rule: phase and priority, then each condition's and
// action's arguments. name is "inspection_rule" for a create body, "patch"
// for a patched rule. An argument error ends the checks (Ironic raises it
// at once; ferric answers 400 where Ironic answers 500). The plugin data
// actions' arguments are left as Ironic leaves them (an empty plugin_data
// member, or an empty object appended to a list).
func validateInspectionRule(name string, doc *jsonwire.Object) *apiError {
	if err := schemaFailure(name, inspectionRuleSchemaV, doc); err != nil {
		return err
	}
	if id, ok := doc.Get("uuid"); ok {
		if _, err := argUUID("uuid", id); err != nil {
			return err
		}
	}
	var errs []string
	phase, has := doc.Get("phase")
	if !has {
		phase = rules.PhaseMain
	}
	if ps, ok := phase.(string); !ok || !slices.Contains(rules.Phases, ps) {
		errs = append(errs, fmt.Sprintf("Invalid phase: %s. Valid phases are: %s", pyDisplay(phase),
			strings.Join(rules.Phases, ", ")))
	}
	if n, ok := doc.Value("priority").(json.Number); ok {
		if p, err := strconv.ParseFloat(string(n), 64); err == nil && p > rules.MaxPriority {
			errs = append(errs, "Priority must be between 0 and 9999 for user-defined rules.")
		}
	}
	conds, _ := doc.Value("conditions").([]any)
	for _, e := range conds {
		o := e.(*jsonwire.Object) // the schema made sure
		op, _ := o.Value("op").(string)
		if err := rules.ValidateCondition(op, o.Value("args")); err != nil {
			return badRequest("%s", err)
		}
	}
	acts, _ := doc.Value("actions").([]any)
	for _, e := range acts {
		o := e.(*jsonwire.Object)
		op, _ := o.Value("op").(string)
		if err := rules.ValidateAction(op, o.Value("args")); err != nil {
			return badRequest("%s", err)
		}
		if rules.TakesPluginData(op) {
			switch a := o.Value("args").(type) {
			case []any:
				o.Set("args", append(a, jsonwire.NewObject()))
			case *jsonwire.Object:
				a.Set("plugin_data", jsonwire.NewObject())
			}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return badRequest("%s", errs[0])
	}
	return badRequest("Multiple validation errors occurred: %s", strings.Join(errs, "; "))
}

// ruleFromDoc writes a checked rule document to r: absent or null members
// take Ironic's defaults (priority 0, not sensitive, no conditions), a
// removed phase stays null.
func ruleFromDoc(doc *jsonwire.Object, r *store.InspectionRule) {
	r.Priority = 0
	if n, ok := doc.Value("priority").(json.Number); ok {
		p, _ := strconv.ParseInt(string(n), 10, 32) // the schema and the 9999 bound made sure
		r.Priority = int32(p)
	}
	r.Description = nil
	if d, ok := doc.Value("description").(string); ok {
		r.Description = &d
	}
	r.Sensitive, _ = doc.Value("sensitive").(bool)
	r.Phase = nil
	if p, ok := doc.Value("phase").(string); ok {
		r.Phase = &p
	}
	r.Conditions = json.RawMessage("[]")
	if c, ok := doc.Value("conditions").([]any); ok {
		r.Conditions = encodeValue(c)
	}
	r.Actions = encodeValue(doc.Value("actions"))
}

// createInspectionRule answers POST /v1/inspection_rules.
func (s *Server) createInspectionRule(c *fiber.Ctx) error {
	doc, id, err := inspectionRuleCatalog.createDoc(c)
	if err != nil {
		return err
	}
	r := store.InspectionRule{UUID: id}
	phase := rules.PhaseMain
	if _, has := doc.Get("phase"); !has {
		doc.Set("phase", phase)
	}
	ruleFromDoc(doc, &r)
	return inspectionRuleCatalog.created(s, c, r)
}

// pyDatetime renders as Python's repr() of a UTC datetime (as Ironic's
// patch messages show a rule's timestamps).
type pyDatetime time.Time

func (d pyDatetime) String() string {
	t := time.Time(d).UTC()
	s := fmt.Sprintf("datetime.datetime(%d, %d, %d, %d, %d", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute())
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(", %d, %d", t.Second(), us)
	} else if t.Second() != 0 {
		s += fmt.Sprintf(", %d", t.Second())
	}
	return s + ", tzinfo=datetime.timezone.utc)"
}

// inspectionRuleDoc is the rule as Ironic's as_dict gives it to a patch.
func inspectionRuleDoc(r *store.InspectionRule) (*jsonwire.Object, error) {
	decode := func(raw json.RawMessage) (any, error) {
		if len(raw) == 0 {
			return []any{}, nil
		}
		return jsonwire.DecodeStored(raw)
	}
	conds, err := decode(r.Conditions)
	if err != nil {
		return nil, fmt.Errorf("stored conditions: %w", err)
	}
	acts, err := decode(r.Actions)
	if err != nil {
		return nil, fmt.Errorf("stored actions: %w", err)
	}
	doc := jsonwire.NewObject()
	doc.Set("id", json.Number(strconv.FormatInt(r.ID, 10)))
	doc.Set("uuid", r.UUID)
	doc.Set("priority", json.Number(strconv.Itoa(int(r.Priority))))
	doc.Set("description", strPtrValue(r.Description))
	doc.Set("sensitive", r.Sensitive)
	doc.Set("phase", strPtrValue(r.Phase))
	doc.Set("scope", strPtrValue(r.Scope))
	doc.Set("actions", acts)
	doc.Set("conditions", conds)
	doc.Set("created_at", pyDatetime(r.CreatedAt))
	if r.UpdatedAt != nil {
		doc.Set("updated_at", pyDatetime(*r.UpdatedAt))
	} else {
		doc.Set("updated_at", nil)
	}
	return doc, nil
}

func strPtrValue(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// patchInspectionRule answers PATCH /v1/inspection_rules/{uuid}.
func (s *Server) patchInspectionRule(c *fiber.Ctx) error {
	if id := param(c, "uuid"); !isUUIDLike(id) {
		return badRequest("Expected UUID for inspection_rule_uuid: %s", id)
	}
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	r, err := inspectionRuleCatalog.load(s, c, param(c, "uuid"))
	if err != nil {
		return err
	}
	// A sensitive rule stays sensitive. Ironic checks the values set; ferric
	// refuses the removal too (Ironic's would unset the flag and show the
	// rule's secrets).
	if r.Sensitive {
		unset := false
		if vals := patchValues(ops, "/sensitive"); len(vals) > 0 {
			unset = vals[0] != nil && !jsonwire.Truthy(vals[0])
		}
		for _, p := range ops {
			unset = unset || (p.op == "remove" && p.path == "/sensitive")
		}
		if unset {
			return badRequest("Couldn't apply patch '%s'. Reason: Inspection rules cannot have the sensitive flag unset.",
				patchRepr(ops))
		}
	}
	doc, err := inspectionRuleDoc(&r)
	if err != nil {
		return fmt.Errorf("inspection rule %s: %w", r.UUID, err)
	}
	if err := applyPatch(doc, ops); err != nil {
		return err
	}
	pruneObject(doc, inspectionRuleSchemaV)
	if err := validateInspectionRule("patch", doc); err != nil {
		return err
	}
	if id, _ := doc.Value("uuid").(string); id != r.UUID {
		// Ironic saves the rule under the UUID the patch set, which names
		// no rule.
		shown := id
		if shown == "" {
			shown = "None"
		}
		return inspectionRuleCatalog.notFound(shown)
	}
	next := r
	ruleFromDoc(doc, &next)
	if next.Priority == r.Priority && equalPtr(next.Description, r.Description) && next.Sensitive == r.Sensitive &&
		equalPtr(next.Phase, r.Phase) && sameJSON(next.Conditions, r.Conditions) && sameJSON(next.Actions, r.Actions) {
		return sendObject(s, c, fiber.StatusOK, inspectionRuleRes, &r, nil) // nothing changed: not saved
	}
	return inspectionRuleCatalog.saved(s, c, next)
}
