package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/gofiber/fiber/v2"
	"go.temporal.io/api/serviceerror"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// conflictRetries bounds how often an update re-reads and re-applies after
// losing an optimistic-lock race (workflows bump node versions as they run).
const conflictRetries = 5

// updateNode reads the node, applies mutate and writes it with the store's
// optimistic lock, re-reading and re-applying on a conflict. mutate must be
// deterministic given the node it is handed; it runs once per attempt.
func (s *Server) updateNode(c *fiber.Ctx, ident string, mutate func(n *store.Node) error) (store.Node, error) {
	for attempt := 1; ; attempt++ {
		n, err := s.loadNode(c, ident)
		if err != nil {
			return store.Node{}, err
		}
		if err := mutate(&n); err != nil {
			return store.Node{}, err
		}
		updated, err := s.Store.UpdateNode(c.UserContext(), n)
		switch {
		case err == nil:
			return updated, nil
		case errors.Is(err, store.ErrConflict):
			if attempt < conflictRetries {
				continue
			}
			return store.Node{}, s.nodeLocked(n.UUID)
		case errors.Is(err, store.ErrNotFound):
			return store.Node{}, nodeNotFound(ident)
		case errors.Is(err, store.ErrExists):
			name := ""
			if n.Name != nil {
				name = *n.Name
			}
			return store.Node{}, conflict("A node with name %s already exists.", name)
		default:
			return store.Node{}, fmt.Errorf("update node %s: %w", n.UUID, err)
		}
	}
}

// updateLockedNode is updateNode for a change Ironic's conductor makes
// under the node's exclusive lock (update_node, traits, RAID): after mutate
// accepted the change (the API's own checks come first, as in Ironic), a
// node that an operation holds (operationHolds: a busy provision state or a
// power change under way) answers NodeLocked and nothing is written. The
// write is conditional on the version read, and every recorded state change
// of an operation bumps it: an operation whose first state change lands
// between the read and the write makes the write lose, read again and
// answer NodeLocked. An operation started but not yet in its first state
// (the moments before the API answers its request) does not show yet; the
// change goes through then, as in Ironic before its conductor takes the
// lock.
func (s *Server) updateLockedNode(c *fiber.Ctx, ident string, mutate func(n *store.Node) error) (store.Node, error) {
	return s.updateNode(c, ident, func(n *store.Node) error {
		held := operationHolds(n)
		if err := mutate(n); err != nil {
			return err
		}
		if held {
			return s.nodeLocked(n.UUID)
		}
		return nil
	})
}

// equalPtr compares two optional values.
func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// decodeObject decodes a stored JSON object (an empty one when unset).
func decodeObject(raw json.RawMessage) *jsonwire.Object {
	if len(raw) == 0 {
		return jsonwire.NewObject()
	}
	v, err := jsonwire.DecodeStored(raw)
	if o, ok := v.(*jsonwire.Object); ok && err == nil {
		return o
	}
	return jsonwire.NewObject()
}

// patchNode answers PATCH /v1/nodes/{ident}.
func (s *Server) patchNode(c *fiber.Ctx) error {
	v := minor(c)
	ident := param(c, "ident")
	var reset bool
	if raw, ok := query(c, "reset_interfaces"); ok {
		if v < v45ResetInterfaces {
			return notAcceptable("")
		}
		b, err := argBool("reset_interfaces", raw)
		if err != nil {
			return err
		}
		reset = *b
	}
	ops, err := parsePatch(c)
	if err != nil {
		return err
	}
	if err := nodeRes.checkPatch(v, ops); err != nil {
		return err
	}
	driverChange := len(patchValues(ops, "/driver")) > 0
	if reset && !driverChange {
		return badRequest("The reset_interfaces parameter can only be used when changing the node's driver.")
	}
	if d := patchValues(ops, "/description"); len(d) > 0 {
		if s, ok := d[0].(string); ok && utf8.RuneCountInString(s) > maxDescription {
			return badRequest("Cannot update node with description exceeding %d characters", maxDescription)
		}
	}
	nameErr := "Node " + strings.ReplaceAll(ident, "%", "%%") + ": Cannot change name to invalid name '%s'"
	for _, nv := range patchValues(ops, "/name") {
		if name, ok := nv.(string); ok {
			if err := checkNodeName(name, v, nameErr); err != nil {
				return err
			}
		}
	}

	var before store.Node
	updated, err := s.updateLockedNode(c, ident, func(n *store.Node) error {
		before = *n
		return s.applyNodePatch(c, n, ops, reset, nameErr)
	})
	if err != nil {
		return err
	}
	if before.Maintenance != updated.Maintenance {
		s.maintenanceEvent(c, &updated)
	}
	s.redactNode(c, &updated) // auth.go
	return sendObject(s, c, fiber.StatusOK, nodeRes, &updated, nil)
}

// applyNodePatch applies a validated patch to n (in place), with the checks
// Ironic's API and conductor make on node updates.
func (s *Server) applyNodePatch(c *fiber.Ctx, n *store.Node, ops []patchOp, reset bool, nameErr string) error {
	v := minor(c)
	old := *n
	// parent_node: what a PATCH sets (null included) must name a node,
	// stored by its UUID (Ironic's authorize_node_link_patch; Ironic 29.0
	// also sets a node's own UUID on any other PATCH, a bug ferric leaves
	// out).
	var parent *string
	if vals := patchValues(ops, "/parent_node"); len(vals) > 0 {
		u, err := s.resolveParentNode(c, vals[0], old.Owner)
		if err != nil {
			return err
		}
		parent = &u
	}
	onlyRemoveInstance := len(ops) == 1 && ops[0].op == "remove" && ops[0].path == "/instance_uuid"
	switch {
	case n.Maintenance && onlyRemoveInstance:
	case n.TargetProvisionState != node.NoState && !n.ProvisionState.UpdateAllowed():
		return conflict("Node %s can not be updated while a state transition is in progress.", param(c, "ident"))
	case n.ProvisionState == node.Inspecting && v >= v39InspectWait:
		return conflict("Cannot update node \"%s\" while it is in state \"%s\".", n.UUID, node.Inspecting)
	}

	if err := nodeRes.patchObject(n, ops, &input{c: c, s: s, v: v, nameErr: nameErr}); err != nil {
		return err
	}
	if parent != nil {
		n.ParentNode = parent
	}

	// Conductor-side rules (ironic.conductor.manager.update_node).
	if n.ConductorGroup != old.ConductorGroup {
		if err := s.checkGroupChange(c.UserContext(), &old); err != nil {
			return err
		}
	}
	switch {
	case old.Protected && !n.Protected:
		n.ProtectedReason = nil
	case !equalPtr(old.ProtectedReason, n.ProtectedReason) && !n.Protected:
		return badRequest("Cannot set protected_reason without protected=True")
	}
	if n.Protected && !old.Protected && n.ProvisionState != node.Active && n.ProvisionState != node.Rescue {
		return conflict("Node %s is in state \"%s\": protection can only be set in the active and rescue states.",
			n.UUID, n.ProvisionState)
	}
	switch {
	case old.Retired && !n.Retired:
		n.RetiredReason = nil
	case !equalPtr(old.RetiredReason, n.RetiredReason) && !n.Retired:
		return badRequest("Cannot set retired_reason without retired=True")
	}
	if n.Retired && !old.Retired && n.ProvisionState == node.Available {
		// A retired node must never be available (allocations and deploys
		// would take it); it is retired in manageable, or when active and
		// undeployed later (cleaning then ends in manageable).
		return conflict("Node %s can not have 'retired' set in provision state 'available', the current state is '%s'",
			n.UUID, n.ProvisionState)
	}
	if old.Maintenance && !n.Maintenance {
		n.MaintenanceReason = nil
		n.Fault = nil
	}
	if old.InstanceUUID != nil && n.InstanceUUID != nil && *old.InstanceUUID != *n.InstanceUUID {
		return conflict("Node %s is associated with instance %s.", n.UUID, *old.InstanceUUID)
	}
	if err := s.checkAllocationPatch(c, &old, n); err != nil {
		return err
	}
	if old.ChassisUUID != nil && n.ChassisUUID == nil && v < v25UnsetChassis {
		return notAcceptable("")
	}
	if n.ChassisUUID != nil && (old.ChassisUUID == nil || *old.ChassisUUID != *n.ChassisUUID) {
		if _, err := s.Store.Chassis(c.UserContext(), *n.ChassisUUID); errors.Is(err, store.ErrNotFound) {
			return badRequest("Chassis %s could not be found.", *n.ChassisUUID)
		} else if err != nil {
			return fmt.Errorf("read chassis %s: %w", *n.ChassisUUID, err)
		}
	}
	if n.Driver != old.Driver {
		if n.ConsoleEnabled {
			return conflict("Node %s can not update the driver while the console is enabled. Please stop the console first.",
				param(c, "ident"))
		}
		if reset { // interfaces the patch does not set go back to the defaults
			for _, name := range nodeRes.patchable {
				if f := &nodeRes.fields[nodeRes.index[name]]; strings.HasSuffix(name, "_interface") &&
					len(patchValues(ops, "/"+name)) == 0 {
					*f.str(n) = ""
				}
			}
		}
	}
	if err := s.resolveInterfaces(n); err != nil {
		return err
	}
	return nil
}

// checkGroupChange refuses to move node n to another conductor group while
// an operation runs on it (NodeLocked): its workflow runs on the old group's
// task queue. An operation is seen in the node's row (a target state: busy or
// waiting) or, before its workflow first wrote (no worker of the group has
// picked it up yet), as the running workflow on the node's lock.
func (s *Server) checkGroupChange(ctx context.Context, n *store.Node) error {
	if operationHolds(n) || n.TargetProvisionState != node.NoState {
		return s.nodeLocked(n.UUID)
	}
	d, ok := s.Workflows.(WorkflowDescriber)
	if !ok {
		return nil
	}
	desc, err := d.DescribeWorkflowExecution(ctx, contract.WorkflowID(n.UUID), "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return nil // never operated on
	case err != nil:
		return fmt.Errorf("describe the operation of node %s: %w", n.UUID, err)
	}
	if desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return s.nodeLocked(n.UUID)
	}
	return nil
}

// allocationReleaseStates are the states in which a node's allocation may
// go with its instance_uuid outside maintenance (the conductor's
// allowed_update_states).
func allocationReleaseStates() []node.ProvisionState {
	return []node.ProvisionState{node.Enroll, node.Inspecting, node.InspectWait, node.Manageable, node.Available}
}

// checkAllocationPatch is the conductor's rule for a node an allocation
// holds: removing its instance_uuid (which releases the allocation, see
// store.UpdateNode) needs an allowed state or maintenance, and its owner
// may not change while the allocation has one.
func (s *Server) checkAllocationPatch(c *fiber.Ctx, old, n *store.Node) error {
	if old.AllocationUUID == nil {
		return nil
	}
	if old.InstanceUUID != nil && n.InstanceUUID == nil && !old.Maintenance &&
		!slices.Contains(allocationReleaseStates(), old.ProvisionState) {
		names := make([]string, 0, 5)
		for _, st := range allocationReleaseStates() {
			names = append(names, string(st))
		}
		return conflict("Node %s with an allocation can not have instance_uuid removed unless it is in one of "+
			"allowed (%s) states or in maintenance mode.", n.UUID, strings.Join(names, ", "))
	}
	if !equalPtr(old.Owner, n.Owner) {
		a, err := s.Store.AllocationOfNode(c.UserContext(), n.UUID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read allocation of node %s: %w", n.UUID, err)
		}
		if err == nil && a.Owner != nil {
			return conflict("Cannot update owner of node \"%s\" while it is allocated to an allocation with an  owner.",
				n.UUID)
		}
	}
	return nil
}

// setMaintenance answers PUT (on=true) and DELETE (on=false)
// /v1/nodes/{ident}/maintenance.
func (s *Server) setMaintenance(on bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var reason *string
		if on {
			if v, ok, err := decodeBody(c); err != nil {
				return err
			} else if ok && v != nil {
				o, isObj := v.(*jsonwire.Object)
				if !isObj {
					return badRequest("Invalid request body: expected a JSON object")
				}
				for _, k := range o.Keys() {
					if k != "reason" {
						return badRequest("Unexpected arguments: %s", k)
					}
				}
				switch r := o.Value("reason").(type) {
				case nil:
				case string:
					if utf8.RuneCountInString(r) > maxReason {
						return badRequest("Cannot set maintenance reason exceeding %d characters", maxReason)
					}
					reason = &r
				default:
					return badRequest("Expected string for reason: %s", pyDisplay(r))
				}
			}
		}
		// Not under the node lock, unlike Ironic: ferric keeps a node in its
		// busy state (deploying, cleaning) for the whole of an agent's step
		// (an image write, a disk erase), where Ironic's node waits in
		// wait call-back or clean wait without a lock; maintenance is how
		// an operator stops such a node, and stays allowed throughout.
		updated, err := s.updateNode(c, param(c, "ident"), func(n *store.Node) error {
			n.Maintenance = on
			n.MaintenanceReason = reason
			if !on {
				n.Fault = nil
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.maintenanceEvent(c, &updated)
		return empty(c, fiber.StatusAccepted)
	}
}

// maintenanceEvent records a maintenance change in the node's history; a
// failure to record it does not fail the request.
func (s *Server) maintenanceEvent(c *fiber.Ctx, n *store.Node) {
	text := "Node taken out of maintenance"
	if n.Maintenance {
		text = "Node put in maintenance"
		if n.MaintenanceReason != nil && *n.MaintenanceReason != "" {
			text += ": " + *n.MaintenanceReason
		}
	}
	e := store.Event{NodeUUID: n.UUID, Severity: "INFO", EventType: "maintenance", Event: text,
		Conductor: s.conductor()}
	e.User, e.Project = eventBy(c.UserContext()) // auth.go
	if err := s.Store.AddEvent(c.UserContext(), e); err != nil {
		s.log().WarnContext(c.UserContext(), "record maintenance event", "node", n.UUID, "err", err)
	}
}

// Traits (API 1.37).

// customTraitRE is os_traits' CUSTOM_ pattern; standardTraitRE approximates
// the standard trait names (ferric does not ship the os-traits catalogue).
var (
	customTraitRE   = regexp.MustCompile(`^CUSTOM_[A-Z0-9_]+$`)
	standardTraitRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
)

const maxTraitsPerNode = 50

func checkTrait(name string, v any) *apiError {
	t, ok := v.(string)
	if !ok {
		return schemaError(name, pyRepr(v)+" is not of type 'string'")
	}
	if len(t) == 0 || len(t) > 255 || !(customTraitRE.MatchString(t) || standardTraitRE.MatchString(t)) {
		return schemaError(name, pyRepr(v)+" is not valid under any of the given schemas")
	}
	return nil
}

// getTraits answers GET /v1/nodes/{ident}/traits.
func (s *Server) getTraits(c *fiber.Ctx) error {
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	if minor(c) < v37Traits {
		// Ironic looks the node up before it checks the version.
		return notAcceptable("")
	}
	traits := slices.Clone(n.Traits)
	slices.Sort(traits)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"traits":`...)
		if traits == nil {
			traits = []string{}
		}
		b = jsonwire.AppendStrings(b, traits)
		return append(b, '}')
	})
}

// setTraits answers PUT /v1/nodes/{ident}/traits {"traits": [...]}.
func (s *Server) setTraits(c *fiber.Ctx) error {
	if minor(c) < v37Traits {
		return traitsPutBefore37(c)
	}
	body, err := decodeObjectBody(c, "body")
	if err != nil {
		return err
	}
	for _, k := range body.Keys() {
		if k != "traits" {
			return schemaError("body", fmt.Sprintf("Additional properties are not allowed (%s was unexpected)", pyStr(k)))
		}
	}
	arr, ok := body.Value("traits").([]any)
	if !ok {
		if _, present := body.Get("traits"); present {
			return schemaError("body", pyRepr(body.Value("traits"))+" is not of type 'array'")
		}
		return badRequest("A single node trait may be added via PUT /v1/nodes/<node identifier>/traits/<trait> with no body, " +
			"or all node traits may be replaced via PUT /v1/nodes/<node identifier>/traits with the list of traits specified in the request body.")
	}
	var traits []string
	for _, t := range arr {
		if err := checkTrait("body", t); err != nil {
			return err
		}
		if s := t.(string); !contains(traits, s) {
			traits = append(traits, s)
		}
	}
	if len(traits) > maxTraitsPerNode {
		return badRequest("Could not modify traits for node %s: would exceed the maximum of %d traits per node.",
			param(c, "ident"), maxTraitsPerNode)
	}
	slices.Sort(traits)
	if traits == nil {
		traits = []string{}
	}
	if _, err := s.updateLockedNode(c, param(c, "ident"), func(n *store.Node) error {
		n.Traits = traits
		return nil
	}); err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}

// addTrait answers PUT /v1/nodes/{ident}/traits/{trait}.
func (s *Server) addTrait(c *fiber.Ctx) error {
	if minor(c) < v37Traits {
		return traitsPutBefore37(c)
	}
	ident, trait := param(c, "ident"), param(c, "trait")
	if err := checkTrait("trait", trait); err != nil {
		return err
	}
	if !emptyBody(c.Body()) {
		return badRequest("No body should be provided when adding a trait")
	}
	if _, err := s.updateLockedNode(c, ident, func(n *store.Node) error {
		if contains(n.Traits, trait) {
			return nil
		}
		if len(n.Traits) >= maxTraitsPerNode {
			return badRequest("Could not modify traits for node %s: would exceed the maximum of %d traits per node.",
				ident, maxTraitsPerNode)
		}
		n.Traits = append(slices.Clone(n.Traits), trait)
		slices.Sort(n.Traits)
		return nil
	}); err != nil {
		return err
	}
	c.Location(s.publicURL(c) + "/v1/nodes/" + ident + "/traits/" + trait)
	return empty(c, fiber.StatusNoContent)
}

// emptyBody tells whether body says nothing: no bytes, or an empty JSON
// object, both of which Ironic accepts when a single trait is added.
func emptyBody(body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return true
	}
	if body[0] != '{' || body[len(body)-1] != '}' {
		return false
	}
	return len(bytes.TrimSpace(body[1:len(body)-1])) == 0
}

// traitsPutBefore37 is Ironic's answer to a PUT on the traits below 1.37:
// its router takes "traits" for a node and refuses the method there (405,
// no version headers, Allow listing the node resource's methods).
func traitsPutBefore37(c *fiber.Ctx) error {
	c.Set(fiber.HeaderAllow, "DELETE, GET, PATCH, POST")
	return &apiError{status: fiber.StatusMethodNotAllowed, shape: shapeWebob, bare: true}
}

// deleteTraits answers DELETE /v1/nodes/{ident}/traits[/{trait}].
func (s *Server) deleteTraits(c *fiber.Ctx) error {
	if minor(c) < v37Traits {
		return notFound("Resource could not be found.")
	}
	ident, trait := param(c, "ident"), param(c, "trait")
	if _, err := s.updateLockedNode(c, ident, func(n *store.Node) error {
		if trait == "" {
			n.Traits = []string{}
			return nil
		}
		i := slices.Index(n.Traits, trait)
		if i < 0 {
			return notFound("Node %s doesn't have a trait '%s'", n.UUID, trait)
		}
		n.Traits = slices.Delete(slices.Clone(n.Traits), i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}
