package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Allocations (API 1.52; PATCH 1.57, backfill 1.58, owner 1.60).

// Allocation microversions.
const (
	v57AllocationUpdate   = 57
	v58AllocationBackfill = 58
	v60AllocationOwner    = 60
)

// allocationFields is Ironic 21.4's allocation representation, in its order
// (testdata/ironic-wire/alloc_get.txt); see fields.go. Create bodies are
// read by createAllocation (they hold "node", which is not shown); PATCH
// takes name and extra.
func allocationFields() []field[store.Allocation] {
	type a = store.Allocation
	uuidOf := func(a *a) *string { return &a.UUID }
	return []field[a]{
		uuidField(uuidOf),
		timeField("created_at", func(a *a) *time.Time { return &a.CreatedAt }),
		timePtrField("updated_at", 1, func(a *a) **time.Time { return &a.UpdatedAt }),
		stringsField("candidate_nodes", 1, func(a *a) *[]string { return &a.CandidateNodes }),
		objectField("extra", 1, func(a *a) *json.RawMessage { return &a.Extra }).input(tObjectNull, inPatch),
		strPtrField("last_error", 1, func(a *a) **string { return &a.LastError }),
		strPtrField("name", 1, func(a *a) **string { return &a.Name }).input(tStringNull, inPatch),
		strPtrField("owner", v60AllocationOwner, func(a *a) **string { return &a.Owner }),
		strPtrField("resource_class", 1, func(a *a) **string { return &a.ResourceClass }),
		strField("state", 1, func(a *a) *string { return (*string)(&a.State) }),
		stringsField("traits", 1, func(a *a) *[]string { return &a.Traits }),
		linkField("links", 1, "allocations/", uuidOf, ""),
		strPtrField("node_uuid", 1, func(a *a) **string { return &a.NodeUUID }),
	}
}

// allocationRes is the allocation resource.
var allocationRes = newResource("allocations", allocationFields(), false, store.AllocationSortKeys(), fieldsNotValid)

// allocationPatchable are Ironic's PATCH_ALLOWED_FIELDS, in its order (the
// order its message lists them in).
var allocationPatchable = []string{"name", "extra"}

// allocationSchema is Ironic's ALLOCATION_SCHEMA (items checked apart).
var allocationSchema = &schema{props: map[string]prop{
	"candidate_nodes": {types: []string{"array", "null"}},
	"extra":           tObjectNull,
	"name":            tStringNull,
	"node":            tStringNull,
	"owner":           tStringNull,
	"resource_class":  tResourceClass,
	"traits":          {types: []string{"array", "null"}},
	"uuid":            tStringNull,
}}

// allocationsGate answers for /v1/allocations below API 1.52 as Ironic's
// router does: 404 for GET, 405 for the other methods.
func allocationsGate(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if minor(c) >= v52Allocations {
			return h(c)
		}
		status := fiber.StatusMethodNotAllowed
		if c.Method() == fiber.MethodGet {
			status = fiber.StatusNotFound
		}
		return &apiError{status: status, shape: shapeWebob, bare: true,
			msg: "The API version does not allow allocations"}
	}
}

// nodeAllocationGate hides /v1/nodes/{id}/allocation below API 1.52.
func nodeAllocationGate(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if minor(c) < v52Allocations {
			return webobNotFound()
		}
		return h(c)
	}
}

func allocationNotFound(ident string) *apiError {
	return notFound("Allocation %s could not be found.", ident)
}

// loadAllocation reads the allocation a path names (UUID or name).
func (s *Server) loadAllocation(c *fiber.Ctx, ident string) (store.Allocation, error) {
	if !isUUIDLike(ident) && !isValidLogicalName(ident) {
		return store.Allocation{}, badRequest("Expected UUID or name for allocation_ident: %s", ident)
	}
	a, err := s.Store.Allocation(c.UserContext(), ident)
	if errors.Is(err, store.ErrNotFound) {
		return store.Allocation{}, allocationNotFound(ident)
	}
	if err != nil {
		return store.Allocation{}, fmt.Errorf("read allocation %s: %w", ident, err)
	}
	if err := s.authorizeAllocation(c, &a, ident); err != nil {
		return store.Allocation{}, err
	}
	return a, nil
}

// checkAllocationFields refuses owner in ?fields= below 1.60 (406), then
// unknown names.
func checkAllocationFields(v int, fields []string) error {
	if err := allocationRes.checkFields(v, fields); err != nil {
		return err
	}
	return nil
}

// getAllocation answers GET /v1/allocations/{ident}.
func (s *Server) getAllocation(c *fiber.Ctx) error {
	a, err := s.loadAllocation(c, param(c, "ident"))
	if err != nil {
		return err
	}
	return getObject(s, c, allocationRes, &a)
}

// listAllocations answers GET /v1/allocations.
func (s *Server) listAllocations(c *fiber.Ctx) error {
	ctx := c.UserContext()
	v := minor(c)
	var q store.ListAllocations
	limit, err := s.queryLimit(c)
	if err != nil {
		return err
	}
	sortKey, sortDir, err := querySort(c)
	if err != nil {
		return err
	}
	fields, hasFields := parseFields(c)
	if hasFields {
		if err := checkAllocationFields(v, fields); err != nil {
			return err
		}
	}
	if raw, ok := query(c, "owner"); ok {
		if v < v60AllocationOwner {
			return notAcceptable("")
		}
		q.Owner = &raw
	}
	if p := listProject(c); p != "" {
		q.Owner = &p // a project-scoped caller sees its project's (checked in authenticate)
	}
	if err := allocationRes.gateSort(v, sortKey); err != nil {
		return err
	}
	if err := allocationRes.checkSort(sortKey); err != nil {
		return err
	}
	if raw, ok := query(c, "node"); ok {
		if !isUUIDLike(raw) && !isValidLogicalName(raw) {
			return badRequest("Expected UUID or name for node: %s", raw)
		}
		n, err := s.loadNode(c, raw)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.status == fiber.StatusNotFound {
				ae.status = fiber.StatusBadRequest // Ironic's NodeNotFound with code 400
			}
			return err
		}
		q.NodeUUID = n.UUID
	}
	if raw, ok := query(c, "resource_class"); ok {
		q.ResourceClass = &raw
	}
	if raw, ok := query(c, "state"); ok {
		q.State = &raw
	}
	q.Limit = limit
	if sortKey != "id" {
		q.SortKey = sortKey
	}
	q.SortDesc = sortDir == "desc"
	if q.MarkerID, err = markerID(c, "allocation", s.Store.Allocation, allocationNotFound,
		func(m *store.Allocation) int64 { return m.ID }); err != nil {
		return err
	}
	list, err := s.Store.ListAllocations(ctx, q)
	if err != nil {
		return fmt.Errorf("list allocations: %w", err)
	}
	// Ironic's next link carries the sort and the fields, not the filters.
	cq := collectionQuery{limit: limit, sortKey: sortKey, sortDir: sortDir, fields: fields}
	return sendList(s, c, allocationRes, &cq, "allocations", nil, list, func(a *store.Allocation) *string { return &a.UUID })
}

// allocationTraitError is jsonschema's message for a trait that is not one
// (Ironic's TRAITS_SCHEMA, with its best match).
func allocationTraitError(v any) *apiError {
	if _, ok := v.(string); !ok {
		return schemaError("allocation", pyRepr(v)+" is not of type 'string'")
	}
	return schemaError("allocation", pyRepr(v)+" is not valid under any of the given schemas. Possible root cause: "+
		pyRepr(v)+" does not match '^CUSTOM_[A-Z0-9_]+$'")
}

// allocationRequest is a create body, checked.
type allocationRequest struct {
	a    store.Allocation
	node string // "node": backfill the allocation for this node
}

// decodeAllocation reads and checks a create body (Ironic's
// ALLOCATION_VALIDATOR, then its version checks).
func decodeAllocation(c *fiber.Ctx) (allocationRequest, error) {
	var r allocationRequest
	v := minor(c)
	body, err := decodeObjectBody(c, "allocation")
	if err != nil {
		return r, err
	}
	if err := allocationSchema.check("allocation", body); err != nil {
		return r, err
	}
	str := func(k string) *string {
		if s, ok := body.Value(k).(string); ok {
			return &s
		}
		return nil
	}
	strs := func(k string, check func(any) *apiError) ([]string, error) {
		arr, _ := body.Value(k).([]any)
		out := []string{}
		for _, item := range arr {
			if err := check(item); err != nil {
				return nil, err
			}
			out = append(out, item.(string))
		}
		return out, nil
	}
	if r.a.Traits, err = strs("traits", func(item any) *apiError {
		if t, ok := item.(string); !ok || len(t) > 255 || !customTraitRE.MatchString(t) && !standardTraitRE.MatchString(t) {
			return allocationTraitError(item)
		}
		return nil
	}); err != nil {
		return r, err
	}
	if r.a.CandidateNodes, err = strs("candidate_nodes", func(item any) *apiError {
		if _, ok := item.(string); !ok {
			return schemaError("allocation", pyRepr(item)+" is not of type 'string'")
		}
		return nil
	}); err != nil {
		return r, err
	}
	if id := str("uuid"); id != nil {
		if _, err := argUUID("uuid", *id); err != nil {
			return r, err
		}
		r.a.UUID = *id
	}
	if _, ok := body.Get("owner"); ok && v < v60AllocationOwner {
		return r, notAcceptable("")
	}
	r.a.Name, r.a.Owner, r.a.ResourceClass = str("name"), str("owner"), str("resource_class")
	if r.a.ResourceClass != nil && *r.a.ResourceClass == "" {
		r.a.ResourceClass = nil
	}
	if o, ok := body.Value("extra").(*jsonwire.Object); ok {
		r.a.Extra = encodeValue(o)
	}
	if n := str("node"); n != nil {
		r.node = *n
	}
	return r, nil
}

// createAllocation answers POST /v1/allocations: it records the allocation
// and starts allocate-node (201, allocating), or backfills it for a
// deployed node at once (API 1.58).
func (s *Server) createAllocation(c *fiber.Ctx) error {
	ctx := c.UserContext()
	v := minor(c)
	r, err := decodeAllocation(c)
	if err != nil {
		return err
	}
	a := r.a
	if a.Name != nil && *a.Name != "" && !isValidLogicalName(*a.Name) {
		return badRequest("Cannot create allocation with invalid name '%s'", *a.Name)
	}
	var target *store.Node
	if r.node != "" {
		if v < v58AllocationBackfill {
			return badRequest("Cannot set node when creating an allocation in this API version")
		}
		n, err := s.loadNode(c, r.node)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.status == fiber.StatusNotFound {
				ae.status = fiber.StatusBadRequest
			}
			return err
		}
		target = &n
	}
	if a.ResourceClass == nil {
		if target == nil {
			return badRequest("The resource_class field is mandatory when not backfilling")
		}
		a.ResourceClass = target.ResourceClass
	}
	project, err := s.allocationScope(c, &a)
	if err != nil {
		return err
	}
	if len(a.CandidateNodes) > 0 {
		if a.CandidateNodes, err = s.candidateUUIDs(ctx, a.CandidateNodes, project); err != nil {
			return err
		}
	}
	if a.UUID == "" {
		if target != nil && target.InstanceUUID != nil {
			a.UUID = *target.InstanceUUID // backfilling: the instance's UUID, as Ironic assumes
		} else {
			a.UUID = uuid.NewString()
		}
	}
	if target != nil {
		return s.backfillAllocation(c, a, target)
	}
	created, err := s.Store.CreateAllocation(ctx, a)
	if err != nil {
		return allocationWriteError(err, a)
	}
	run := contract.AllocateInput{AllocationUUID: created.UUID, Revision: contract.CurrentRevision}
	_, err = s.Workflows.ExecuteWorkflow(ctx, s.startOptions(contract.AllocationWorkflowID(created.UUID), ""),
		contract.AllocateName, run)
	if err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		// Nothing will process it: take it back (the client may retry).
		_ = s.Store.DeleteAllocation(context.WithoutCancel(ctx), created.UUID,
			func(*store.Node, *store.Allocation) error { return nil })
		return fmt.Errorf("start %s for allocation %s: %w", contract.AllocateName, created.UUID, err)
	}
	c.Location(s.publicURL(c) + "/v1/allocations/" + created.UUID)
	return sendObject(s, c, fiber.StatusCreated, allocationRes, &created, nil)
}

// allocationWriteError maps a failed create or update to Ironic's error.
func allocationWriteError(err error, a store.Allocation) error {
	switch {
	case errors.Is(err, store.ErrDuplicateName):
		return conflict("An allocation with name %s already exists.", deref(a.Name))
	case errors.Is(err, store.ErrExists):
		return conflict("An allocation with UUID %s already exists.", a.UUID)
	case errors.Is(err, store.ErrNotFound):
		return allocationNotFound(a.UUID)
	case errors.Is(err, store.ErrInvalidArgument):
		return badRequest("Invalid allocation: %s", err)
	}
	return fmt.Errorf("write allocation %s: %w", a.UUID, err)
}

func deref(s *string) string {
	if s == nil {
		return "None"
	}
	return *s
}

// candidateUUIDs resolves candidate node names and UUIDs to UUIDs, in the
// request's order (Ironic's check_node_list); with project set, only the
// nodes it owns or leases are found.
func (s *Server) candidateUUIDs(ctx context.Context, idents []string, project string) ([]string, error) {
	out := make([]string, 0, len(idents))
	var missing []string
	for _, ident := range idents {
		if !isUUIDLike(ident) && !isValidLogicalName(ident) {
			missing = append(missing, ident)
			continue
		}
		n, err := s.Store.Node(ctx, ident)
		if errors.Is(err, store.ErrNotFound) || (err == nil && project != "" && !ownsOrLeases(&n, project)) {
			missing = append(missing, ident)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read candidate node %s: %w", ident, err)
		}
		if !contains(out, n.UUID) {
			out = append(out, n.UUID)
		}
	}
	if len(missing) > 0 {
		return nil, badRequest("Nodes cannot be found: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// backfillFailure is a backfill the node's state refuses (Ironic's
// AllocationFailed), shown with the allocation's UUID.
type backfillFailure struct{ msg string }

func (f *backfillFailure) Error() string { return f.msg }

// backfillAllocation creates allocation a holding the deployed node n at
// once (Ironic's backfill_allocation): the node must be active and match
// the allocation's resource class, traits and candidates. A refusal is
// recorded on the allocation (kept, in state error) and answered 400
// (Ironic answers 500 for its AllocationFailed; ferric never answers a 5xx
// for a client's mistake), a node held by another instance 409.
func (s *Server) backfillAllocation(c *fiber.Ctx, a store.Allocation, n *store.Node) error {
	check := func(n *store.Node, al *store.Allocation) error {
		// Ironic backfills under the node's exclusive lock.
		if operationHolds(n) {
			return s.nodeLocked(n.UUID)
		}
		var errs []string
		if n.ProvisionState != node.Active {
			errs = append(errs, fmt.Sprintf("Node must be in the \"active\" state, but the current state is \"%s\"",
				n.ProvisionState))
		}
		if al.ResourceClass != nil && (n.ResourceClass == nil || *n.ResourceClass != *al.ResourceClass) {
			errs = append(errs, fmt.Sprintf("Resource class %s does not match the requested resource class %s",
				deref(n.ResourceClass), *al.ResourceClass))
		}
		if len(al.Traits) > 0 && !hasAll(n.Traits, al.Traits) {
			errs = append(errs, fmt.Sprintf("List of traits %s does not match the requested traits %s",
				pyList(n.Traits), pyList(al.Traits)))
		}
		if len(al.CandidateNodes) > 0 && !contains(al.CandidateNodes, n.UUID) {
			errs = append(errs, fmt.Sprintf("Candidate nodes must be empty or contain the target node, but got %s",
				pyList(al.CandidateNodes)))
		}
		if len(errs) > 0 {
			return &backfillFailure{fmt.Sprintf("Failed to process allocation %s: Cannot backfill an allocation for node %s: %s.",
				al.UUID, n.UUID, strings.Join(errs, "; "))}
		}
		return nil
	}
	msgOf := func(err error) string {
		var (
			f  *backfillFailure
			ae *apiError
		)
		switch {
		case errors.As(err, &f):
			return f.msg
		case errors.As(err, &ae): // NodeLocked, as Ironic records it
			return "Unexpected exception during allocation: " + ae.msg
		case errors.Is(err, store.ErrConflict):
			return fmt.Sprintf("Node %s is associated with instance %s.", n.UUID, deref(n.InstanceUUID))
		case errors.Is(err, store.ErrInstanceTaken):
			return fmt.Sprintf("Instance %s is already associated with a node, it cannot be associated with this other node %s",
				a.UUID, n.UUID)
		case errors.Is(err, store.ErrNotFound):
			return fmt.Sprintf("Node %s could not be found.", n.UUID)
		}
		return "Unexpected exception during allocation: " + err.Error()
	}
	created, err := s.Store.BackfillAllocation(c.UserContext(), a, n.UUID, check, msgOf)
	var (
		f  *backfillFailure
		ae *apiError
	)
	switch {
	case err == nil:
		c.Location(s.publicURL(c) + "/v1/allocations/" + created.UUID)
		return sendObject(s, c, fiber.StatusCreated, allocationRes, &created, nil)
	case errors.As(err, &f):
		return badRequest("%s", f.msg)
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInstanceTaken):
		return conflict("%s", msgOf(err))
	case errors.Is(err, store.ErrNotFound):
		return badRequest("%s", msgOf(err))
	}
	return allocationWriteError(err, a)
}

// hasAll reports whether have holds every one of want.
func hasAll(have, want []string) bool {
	for _, w := range want {
		if !contains(have, w) {
			return false
		}
	}
	return true
}

// patchAllocation answers PATCH /v1/allocations/{ident} (API 1.57).
func (s *Server) patchAllocation(c *fiber.Ctx) error {
	v := minor(c)
	if v < v57AllocationUpdate {
		return newError(fiber.StatusMethodNotAllowed, "The API version does not allow updating allocations")
	}
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	a, err := s.loadAllocation(c, param(c, "ident"))
	if err != nil {
		return err
	}
	if err := checkAllowed(ops, allocationPatchable); err != nil {
		return err
	}
	if err := allocationRes.checkPatch(v, ops); err != nil {
		return err
	}
	for _, nv := range patchValues(ops, "/name") {
		if name, ok := nv.(string); ok && name != "" && !isValidLogicalName(name) {
			return badRequest("Cannot update allocation with invalid name '%s'", name)
		}
	}
	if err := allocationRes.patchObject(&a, ops, &input{c: c, s: s, v: v}); err != nil {
		return err
	}
	updated, err := s.Store.UpdateAllocation(c.UserContext(), a)
	if err != nil {
		return allocationWriteError(err, a)
	}
	return sendObject(s, c, fiber.StatusOK, allocationRes, &updated, nil)
}

// releaseCheck is Ironic's destroy_allocation: under the node's exclusive
// lock (an operation holding the node answers NodeLocked, maintenance or
// not), verify_node_for_deallocation: an allocation may go unless its node
// is being worked on or is active (maintenance aside).
func (s *Server) releaseCheck(n *store.Node, a *store.Allocation) error {
	switch {
	case operationHolds(n):
		return s.nodeLocked(n.UUID)
	case n.Maintenance:
		return nil
	case n.TargetProvisionState != node.NoState && !n.ProvisionState.UpdateAllowed():
		return conflict("Cannot remove allocation %s for node %s, because the node is in state %s where updates are "+
			"not allowed (and maintenance mode is off)", a.UUID, n.UUID, n.ProvisionState)
	case n.ProvisionState == node.Active:
		return conflict("Cannot remove allocation %s for node %s, because the node is active (and maintenance mode is off)",
			a.UUID, n.UUID)
	}
	return nil
}

// deleteAllocation answers DELETE /v1/allocations/{ident}.
func (s *Server) deleteAllocation(c *fiber.Ctx) error {
	ident := param(c, "ident")
	a, err := s.loadAllocation(c, ident)
	if err != nil {
		return err
	}
	return s.releaseAllocation(c, a.UUID, ident)
}

// releaseAllocation deletes the allocation allocUUID (ident as the client
// named it), releasing its node under releaseCheck.
func (s *Server) releaseAllocation(c *fiber.Ctx, allocUUID, ident string) error {
	err := s.Store.DeleteAllocation(c.UserContext(), allocUUID, s.releaseCheck)
	var ae *apiError
	switch {
	case err == nil:
		return empty(c, fiber.StatusNoContent)
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return allocationNotFound(ident)
	case errors.Is(err, store.ErrConflict):
		return conflict("Allocation %s changed while it was being deleted; retry.", ident)
	}
	return fmt.Errorf("delete allocation %s: %w", ident, err)
}

// nodeAllocationMissing is Ironic's answer for a node without one.
func nodeAllocationMissing(ident string) *apiError {
	return notFound("Allocation for node %s was not found", ident)
}

// nodeAllocation reads the allocation of the node nodeUUID, which the
// request names ident.
func (s *Server) nodeAllocation(ctx context.Context, nodeUUID, ident string) (store.Allocation, error) {
	a, err := s.Store.AllocationOfNode(ctx, nodeUUID)
	if errors.Is(err, store.ErrNotFound) {
		return a, nodeAllocationMissing(ident)
	} else if err != nil {
		return a, fmt.Errorf("read allocation of node %s: %w", nodeUUID, err)
	}
	return a, nil
}

// getNodeAllocation answers GET /v1/nodes/{ident}/allocation.
func (s *Server) getNodeAllocation(c *fiber.Ctx) error {
	ident := param(c, "ident")
	v := minor(c)
	fields, hasFields := parseFields(c)
	if hasFields {
		if err := checkAllocationFields(v, fields); err != nil {
			return err
		}
	}
	n, err := s.loadNode(c, ident)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == fiber.StatusNotFound {
			ae.status = fiber.StatusBadRequest // Ironic looks the node up as a filter here
		}
		return err
	}
	a, err := s.nodeAllocation(c.UserContext(), n.UUID, ident)
	if err != nil {
		return err
	}
	return sendObject(s, c, fiber.StatusOK, allocationRes, &a, allocationRes.plan(v, fields))
}

// deleteNodeAllocation answers DELETE /v1/nodes/{ident}/allocation.
func (s *Server) deleteNodeAllocation(c *fiber.Ctx) error {
	ident := param(c, "ident")
	n, err := s.loadNode(c, ident)
	if err != nil {
		return err
	}
	a, err := s.nodeAllocation(c.UserContext(), n.UUID, ident)
	if err != nil {
		return err
	}
	if err := s.authorizeNodeAllocation(c, &a); err != nil {
		return err
	}
	if err := s.releaseAllocation(c, a.UUID, a.UUID); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == fiber.StatusNotFound {
			return nodeAllocationMissing(ident)
		}
		return err
	}
	return nil
}

// ownsOrLeases reports whether project owns or leases n.
func ownsOrLeases(n *store.Node, project string) bool {
	return (n.Owner != nil && *n.Owner == project) || (n.Lessee != nil && *n.Lessee == project)
}
