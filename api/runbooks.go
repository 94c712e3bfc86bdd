package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// Runbooks (API 1.92): named lists of clean or service steps that a clean
// or service request runs instead of its own steps, on a node whose traits
// name the runbook.

// Runbook schemas, built once (read-only): Ironic's RUNBOOK_STEP_SCHEMA
// and RUNBOOK_SCHEMA.
var (
	runbookStepSchemaV = stepSchema(serviceStepInterfaces, "order", "interface", "step", "order")
	runbookSchemaV     = runbookSchema()
)

// runbookSchema is Ironic's RUNBOOK_SCHEMA: a deploy template's, with an
// owner, public and disable_ramdisk.
func runbookSchema() *jschema {
	owner := js()
	owner.types, owner.maxLength = []string{"string", "null"}, 255
	boolean := func() *jschema {
		j := js()
		j.types = []string{"boolean", "null"}
		return j
	}
	return stepCatalogSchema(runbookStepSchemaV, jprop{"disable_ramdisk", boolean()}, jprop{"owner", owner},
		jprop{"public", boolean()})
}

// runbookPatchFields are Ironic's PATCH_ALLOWED_FIELDS for runbooks.
var runbookPatchFields = []string{"extra", "name", "steps", "description", "public", "owner"}

// runbookFields is Ironic's runbook representation, in its order.
func runbookFields() []field[store.Runbook] {
	type rb = store.Runbook
	uuidOf := func(r *rb) *string { return &r.UUID }
	return []field[rb]{
		strField("uuid", 1, uuidOf),
		timeField("created_at", func(r *rb) *time.Time { return &r.CreatedAt }),
		timePtrField("updated_at", 1, func(r *rb) **time.Time { return &r.UpdatedAt }),
		strField("name", 1, func(r *rb) *string { return &r.Name }),
		objectField("extra", 1, func(r *rb) *json.RawMessage { return &r.Extra }),
		boolField("public", 1, func(r *rb) *bool { return &r.Public }),
		strPtrField("owner", 1, func(r *rb) **string { return &r.Owner }),
		boolField("disable_ramdisk", 1, func(r *rb) *bool { return &r.DisableRamdisk }),
		linkField("links", 1, "runbooks/", uuidOf, ""),
		computedField("steps", 1, func(b []byte, _ *view, r *rb) []byte { return appendSteps[runbookStep](b, r.Steps) }),
	}
}

// runbookRes is the runbook resource.
var runbookRes = newResource("runbooks", runbookFields(), false, store.RunbookSortKeys(), fieldsNotValid)

// authorizeRunbook is Ironic's check_runbook_policy_and_retrieve: rule
// against the runbook's owner; a public runbook may be read by anyone
// (check_and_retrieve_public_runbook).
func (s *Server) authorizeRunbook(c *fiber.Ctx, r *store.Runbook, rule auth.Rule) error {
	st := restricted(c)
	if st == nil {
		return nil
	}
	var t auth.Target
	if r.Owner != nil {
		t.Owner = *r.Owner
	}
	if s.Policy.Allowed(rule, st.creds, t) || (rule == auth.RunbookGet && r.Public) {
		return nil
	}
	return forbidden(rule)
}

// runbookCatalog is the runbooks' catalog (API 1.92): GET /v1/runbooks
// lists them (for a caller restricted to a project, its project's and the
// public ones); GET and DELETE /v1/runbooks/{ident} show and delete one,
// under the policy of the runbook's owner.
var runbookCatalog = &catalog[store.Runbook]{res: runbookRes, since: v92Runbooks, plural: "runbooks",
	noun: "runbook", param: "ident", arg: "runbook_ident", body: "runbook", schema: runbookSchemaV,
	check: checkRunbook, defaults: []string{"uuid", "name"}, unsortable: []string{"steps"},
	get: Store.Runbook, byName: Store.RunbookByName, badIdent: "Expected a logical name or UUID but received %s.",
	ids: func(r *store.Runbook) (int64, string, string) { return r.ID, r.UUID, r.Name },
	find: func(s *Server, c *fiber.Ctx, limit int, markerID int64, key string, desc bool) ([]store.Runbook, error) {
		var f store.RunbookFilter
		if p := listProject(c); p != "" {
			f.Owner, f.OrPublic = &p, true
		}
		return s.Store.ListRunbooks(c.UserContext(), f, limit, markerID, key, desc)
	},
	create: Store.CreateRunbook, update: Store.UpdateRunbook, remove: Store.DeleteRunbook,
	authorize: (*Server).authorizeRunbook, getRule: auth.RunbookGet, deleteRule: auth.RunbookDelete,
	patchable: runbookPatchFields, stepSchema: runbookStepSchemaV, toDoc: runbookDoc, fromDoc: runbookFromDoc,
	vet: (*Server).vetRunbookPatch}

// checkRunbook is Ironic's RUNBOOK_VALIDATOR (the schema, duplicate steps,
// the UUID) for a create body (name "runbook") or a patched runbook.
func checkRunbook(name string, doc *jsonwire.Object) *apiError {
	// Ironic 29 checks a runbook's steps with the deploy templates' validator.
	return checkStepCatalog(name, runbookSchemaV, "Deploy template", "template", doc)
}

// runbookFromDoc writes a checked runbook document to r.
func runbookFromDoc(doc *jsonwire.Object, r *store.Runbook) {
	r.Name, r.Extra, r.Steps = stepsFromDoc(doc, "order", func(c stepCore, order any) runbookStep {
		return runbookStep{stepCore: c, Order: encodeValue(order)}
	})
	r.Public, _ = doc.Value("public").(bool)
	r.DisableRamdisk, _ = doc.Value("disable_ramdisk").(bool)
	r.Owner = nil
	if o, ok := doc.Value("owner").(string); ok {
		r.Owner = &o
	}
}

// createRunbook answers POST /v1/runbooks. A project-scoped caller's
// runbook is its project's, and never public (Ironic's post).
func (s *Server) createRunbook(c *fiber.Ctx) error {
	doc, id, err := runbookCatalog.createDoc(c)
	if err != nil {
		return err
	}
	r := store.Runbook{UUID: id}
	runbookFromDoc(doc, &r)
	if st := restricted(c); st != nil && !st.creds.SystemScoped() {
		project := st.creds.ProjectID
		if r.Owner != nil && *r.Owner != project {
			return badRequest("Cannot create a runbook as a project scoped admin with an owner other than your own project.")
		}
		if project != "" && r.Public {
			return badRequest("Cannot create a public runbook as a project scoped admin.")
		}
		r.Owner = nil
		if project != "" {
			r.Owner = &project
		}
	}
	return runbookCatalog.created(s, c, r)
}

// runbookDoc is a runbook as a JSON document to patch (Ironic's as_dict,
// without what no patch may touch).
func runbookDoc(r *store.Runbook) (*jsonwire.Object, error) {
	doc, err := stepCatalogDoc[runbookStep](r.UUID, r.Name, r.Steps, r.Extra)
	if err != nil {
		return nil, err
	}
	doc.Set("public", r.Public)
	doc.Set("disable_ramdisk", r.DisableRamdisk)
	if r.Owner != nil {
		doc.Set("owner", *r.Owner)
	} else {
		doc.Set("owner", nil)
	}
	return doc, nil
}

// patchRunbook answers PATCH /v1/runbooks/{ident}: /public and /owner
// need their own rules; an owner and public cannot go together.
func (s *Server) patchRunbook(c *fiber.Ctx) error {
	return runbookCatalog.patchSteps(s, c)
}

// vetRunbookPatch checks each rule a runbook patch needs against r, and
// that it leaves no owner on a public runbook; a patch of /public starts
// from no owner.
func (s *Server) vetRunbookPatch(c *fiber.Ctx, ops []patchOp, r *store.Runbook) error {
	var rules []auth.Rule
	generic := false
	var owner, public []any
	for _, op := range ops {
		switch {
		case strings.HasPrefix(op.path, "/owner"):
			rules = append(rules, auth.RunbookUpdateOwner)
			if op.hasValue {
				owner = append(owner, op.value)
			}
		case strings.HasPrefix(op.path, "/public"):
			rules = append(rules, auth.RunbookUpdatePublic)
			if op.hasValue {
				public = append(public, op.value)
			}
		default:
			generic = true
		}
	}
	if generic || len(rules) == 0 {
		rules = append(rules, auth.RunbookUpdate)
	}
	for _, rule := range rules {
		if err := s.authorizeRunbook(c, r, rule); err != nil {
			return err
		}
	}
	if len(owner) > 0 && jsonwire.Truthy(owner[0]) {
		publicValue := len(public) > 0 && jsonwire.Truthy(public[0])
		if (r.Public && len(public) == 0) || publicValue {
			return badRequest("Couldn't apply patch '%s'. Reason: There cannot be an owner for a public runbook",
				patchRepr(ops))
		}
	}
	if len(public) > 0 {
		r.Owner = nil
	}
	return nil
}

// runbookStep is a step as a runbook stores it.
type runbookStep struct {
	stepCore
	Order json.RawMessage `json:"order"`
}

func (st runbookStep) place() (string, any, error) {
	order, err := jsonwire.DecodeStored(st.Order)
	return "order", order, err
}

func (st runbookStep) appendPlace(b []byte) []byte {
	return append(append(b, `,"order":`...), st.Order...)
}

// runbookSteps is Ironic's _handle_runbook for the clean and service
// verbs: the runbook (1.92) must be one of the node's traits, and replaces
// the request's clean_steps or service_steps, which may not be given too.
// The steps come in the runbook's order (by their "order", stable), as
// clean or service steps (without "order").
func (s *Server) runbookSteps(c *fiber.Ctx, n *store.Node, target, ident string, cleanSteps,
	serviceSteps []any) ([]any, []any, bool, error) {
	if minor(c) < v92Runbooks {
		return nil, nil, false, notAcceptable("")
	}
	rb, err := runbookCatalog.load(s, c, ident)
	if err != nil {
		return nil, nil, false, err
	}
	if err := s.authorizeRunbook(c, &rb, auth.RunbookUse); err != nil {
		return nil, nil, false, err
	}
	if !slices.Contains(n.Traits, rb.Name) {
		return nil, nil, false, badRequest("This runbook has not been approved for use on this node %s. Please ask an "+
			"administrator to add it to your node traits.", n.UUID)
	}
	var stored []runbookStep
	if err := json.Unmarshal(rb.Steps, &stored); err != nil {
		return nil, nil, false, fmt.Errorf("runbook %s: stored steps: %w", rb.UUID, err)
	}
	order := func(st runbookStep) int {
		i, _ := strconv.Atoi(string(bytesTrim(st.Order)))
		return i
	}
	slices.SortStableFunc(stored, func(a, b runbookStep) int { return cmp.Compare(order(a), order(b)) })
	steps := make([]any, 0, len(stored))
	for _, st := range stored {
		args := any(jsonwire.NewObject())
		if len(st.Args) > 0 {
			if args, err = jsonwire.DecodeStored(st.Args); err != nil {
				return nil, nil, false, fmt.Errorf("runbook %s: stored step arguments: %w", rb.UUID, err)
			}
		}
		steps = append(steps, jsonwire.ObjectOf("interface", st.Interface, "step", st.Step, "args", args))
	}
	switch target {
	case "clean":
		if len(cleanSteps) > 0 {
			return nil, nil, false, badRequest("Please provide either \"clean_steps\" or a runbook, but not both.")
		}
		return steps, serviceSteps, rb.DisableRamdisk, nil
	case "service":
		if len(serviceSteps) > 0 {
			return nil, nil, false, badRequest("Please provide either \"service_steps\" or a runbook, but not both.")
		}
		return cleanSteps, steps, rb.DisableRamdisk, nil
	}
	// Another verb: Ironic's later check refuses the steps a runbook gave
	// (as clean steps it left alone) with its message.
	return steps, serviceSteps, rb.DisableRamdisk, nil
}

// bytesTrim drops the quotes of a numeric string order ("2" or 2).
func bytesTrim(raw json.RawMessage) []byte {
	if len(raw) >= 2 && raw[0] == '"' {
		return raw[1 : len(raw)-1]
	}
	return raw
}
