package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Workflows.

// startOptions are the options of every workflow the API starts. The ID is
// either contract.WorkflowID (the node lock) or a contract.ReadWorkflowID;
// the task queue is that of the node's conductor group (the empty group's
// for workflows of no node): only the workers serving the group run it, and
// with none alive it waits in Temporal until one polls.
func (s *Server) startOptions(id, group string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                contract.GroupTaskQueue(s.taskQueue(), group),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK hands back the *running* workflow instead of
		// an AlreadyStarted error, and a second operation on a locked node
		// would look accepted.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		EnableEagerStart:                         s.EagerStart,
	}
}

// start starts workflow name with id on the queue of conductor group group;
// a running workflow with the same ID (the node lock) is Ironic's
// NodeLocked.
func (s *Server) start(ctx context.Context, nodeUUID, group, id, name string, input any) (client.WorkflowRun, error) {
	return s.startWithin(ctx, 0, nil, nodeUUID, group, id, name, input)
}

// startWithin is start waiting up to lockWait for the node lock when
// another operation holds it, as Ironic's conductor does when it reserves a
// node (task_manager.acquire tries node_locked_retry_attempts times,
// node_locked_retry_interval apart, before NodeLocked): a request that
// follows a short operation, such as a virtual media attach failing at
// once, runs when that operation ends instead of failing. It tries again
// sooner than Ironic (from a few milliseconds, doubling), so the wait ends
// soon after the lock is free. retrying, when not nil, runs before each new
// attempt.
func (s *Server) startWithin(ctx context.Context, lockWait time.Duration, retrying func(context.Context),
	nodeUUID, group, id, name string, input any) (client.WorkflowRun, error) {
	deadline := time.Now().Add(lockWait)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 250*time.Millisecond) {
		run, err := s.Workflows.ExecuteWorkflow(ctx, withRequester(ctx, s.startOptions(id, group)), name, input)
		switch {
		case err == nil:
			s.operationStarted(contract.OperationVerb(name, input))
			return run, nil
		case !temporal.IsWorkflowExecutionAlreadyStartedError(err):
			return nil, fmt.Errorf("start %s for node %s: %w", name, nodeUUID, err)
		case time.Now().Add(delay).After(deadline):
			return nil, s.nodeLocked(nodeUUID)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if retrying != nil {
			retrying(ctx)
		}
	}
}

// begin starts a mutating workflow on the node lock and returns once the
// workflow has persisted its first state change, seen as the node's version
// moving past the one the handler read: like Ironic's conductor, the API
// answers 202 only when the node already shows the operation (provision state
// moved and target set, or target_power_state set), so clients that wait for
// a stable state (baremetal --wait, Metal3) never see the node unchanged.
// With eager start the first workflow task runs on the in-process worker at
// once and the change lands in a few milliseconds.
//
// If nothing changes within BeginWait, the workflow either could not begin
// (the node changed since it was read: Ironic's 400) or no worker has picked
// it up yet (accepted: it runs when one does).
func (s *Server) begin(ctx context.Context, n *store.Node, name string, input any) error {
	return s.beginWithin(ctx, 0, n, name, input)
}

// beginWithin is begin waiting up to lockWait for the node lock (see
// startWithin). The operation that held the lock changed the node: the
// version the new operation's first change is seen against is read again
// before each new attempt.
func (s *Server) beginWithin(ctx context.Context, lockWait time.Duration, n *store.Node, name string, input any) error {
	version := n.Version
	reread := func(ctx context.Context) {
		if cur, err := s.Store.Node(ctx, n.UUID); err == nil {
			version = cur.Version
		} // gone: the workflow reports it
	}
	run, err := s.startWithin(ctx, lockWait, reread, n.UUID, n.ConductorGroup, contract.WorkflowID(n.UUID), name, input)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(s.beginWait())
	for delay := 500 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		cur, err := s.Store.Node(ctx, n.UUID)
		if err != nil || cur.Version != version {
			return nil // moved (or deleted meanwhile: the workflow reports that)
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
	gctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err = run.Get(gctx, nil)
	var appErr *temporal.ApplicationError
	var ended *temporal.WorkflowExecutionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &appErr) && appErr.Type() == contract.ErrTypeInvalidState:
		return badRequest("%s", appErr.Message())
	case errors.As(err, &appErr) && appErr.Type() == contract.ErrTypeNotFound:
		return nodeNotFound(n.UUID)
	case ctx.Err() != nil:
		// The request ended (the client went away): nothing is known of
		// the workflow's progress, and nothing is recorded.
		return ctx.Err()
	case !errors.As(err, &ended) && appErr == nil:
		// Not ended within the wait (the poll's own deadline may answer
		// before gctx's): no worker has taken it yet.
		s.waitingEvent(ctx, n, name)
		return nil
	}
	return nil // it began and failed: the node's state and last_error say how
}

// waitingEvent records in node n's history that operation name was
// accepted but no worker has taken it yet: none of the node's conductor
// group polls its queue (or they are all busy). The workflow runs when one
// does; meanwhile the history (and the Temporal UI) say why nothing moves.
// A failure to record it does not fail the request.
func (s *Server) waitingEvent(ctx context.Context, n *store.Node, name string) {
	queue := contract.GroupTaskQueue(s.taskQueue(), n.ConductorGroup)
	e := store.Event{NodeUUID: n.UUID, Severity: store.SeverityInfo, EventType: "conductor",
		Event: fmt.Sprintf("Waiting for a conductor: no worker of conductor group %q has taken the %s operation "+
			"yet (task queue %s)", n.ConductorGroup, name, queue), Conductor: s.conductor()}
	e.User, e.Project = eventBy(ctx)
	if err := s.Store.AddEvent(ctx, e); err != nil {
		s.log().WarnContext(ctx, "record waiting for a conductor", "node", n.UUID, "err", err)
	}
}

// runSync starts a workflow and waits for its result, bounded by
// SyncTimeout, for operations Ironic answers synchronously.
func (s *Server) runSync(c *fiber.Ctx, nodeUUID, group, id, name string, input, result any) error {
	return s.runSyncWithin(c, 0, nodeUUID, group, id, name, input, result)
}

// runSyncWithin is runSync waiting up to lockWait for the node lock (see
// startWithin).
func (s *Server) runSyncWithin(c *fiber.Ctx, lockWait time.Duration, nodeUUID, group, id, name string,
	input, result any) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), s.syncTimeout())
	defer cancel()
	run, err := s.startWithin(ctx, lockWait, nil, nodeUUID, group, id, name, input)
	if err != nil {
		return err
	}
	if err := run.Get(ctx, result); err != nil {
		// Our bound, however the SDK reports it. The deadline is read from
		// the clock too: ctx.Err() is set by a timer, which a loaded
		// machine may not have run yet when the call returns.
		dl, _ := ctx.Deadline()
		if (ctx.Err() != nil || !time.Now().Before(dl)) && c.UserContext().Err() == nil {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return s.workflowError(c, nodeUUID, name, err)
	}
	return nil
}

// workflowError maps a failed synchronous workflow to an Ironic error. As
// Ironic shows a conductor exception's message, the activity's message is
// shown; anything else is logged and reported without detail.
func (s *Server) workflowError(c *fiber.Ctx, nodeUUID, name string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return newError(fiber.StatusServiceUnavailable,
			"Timed out waiting for %s on node %s; the operation may still complete.", name, nodeUUID)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case contract.ErrTypeUnsupported, contract.ErrTypeBadDriver:
			return badRequest("%s", appErr.Message())
		case contract.ErrTypeNotFound:
			return nodeNotFound(nodeUUID)
		case contract.ErrTypeInvalidState:
			return conflict("%s", appErr.Message())
		case contract.ErrTypeConflict:
			return s.nodeLocked(nodeUUID)
		}
		s.log().WarnContext(c.UserContext(), "workflow failed", "workflow", name, "node", nodeUUID, "err", err)
		return newError(fiber.StatusInternalServerError, "%s", appErr.Message())
	}
	return fmt.Errorf("%s for node %s: %w", name, nodeUUID, err)
}

// statesLocation is the Location of a 202: the node's states resource, named
// as the client named the node.
func (s *Server) statesLocation(c *fiber.Ctx, ident string) string {
	return s.publicURL(c) + "/v1/nodes/" + url.PathEscape(ident) + "/states"
}

// bodyArgs parses a JSON object body whose members are handler arguments
// (Ironic refuses unknown ones).
func bodyArgs(c *fiber.Ctx, allowed ...string) (*jsonwire.Object, error) {
	v, ok, err := decodeBody(c)
	if err != nil {
		return nil, err
	}
	if !ok || v == nil {
		return jsonwire.NewObject(), nil
	}
	o, isObj := v.(*jsonwire.Object)
	if !isObj {
		return nil, badRequest("Invalid request body: expected a JSON object")
	}
	var extra []string
	for _, k := range o.Keys() {
		if !contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		return nil, badRequest("Unexpected arguments: %s", strings.Join(extra, ", "))
	}
	return o, nil
}

func argString(o *jsonwire.Object, name string, required bool) (string, bool, error) {
	v, ok := o.Get(name)
	if !ok || v == nil {
		if required {
			return "", false, badRequest("Missing mandatory parameter: %s", name)
		}
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, badRequest("Expected string for %s: %s", name, pyDisplay(v))
	}
	return s, true, nil
}

// Provisioning.

// minVerbVersions are Ironic's MIN_VERB_VERSIONS.
var minVerbVersions = map[string]int{
	"manage": v4ManageableState, "provide": v4ManageableState, "inspect": v6InspectState,
	"abort": v13AbortVerb, "clean": v15ManualClean, "adopt": v17AdoptVerb, "rescue": v38Rescue,
	"unrescue": v38Rescue, "deploy": v73DeployVerbs, "undeploy": v73DeployVerbs, "service": v87Servicing,
}

// cleanStepInterfaces are conductor_steps.CLEANING_INTERFACE_PRIORITY keys.
var cleanStepInterfaces = []string{"power", "management", "deploy", "bios", "raid", "firmware"}

// setProvisionState answers PUT /v1/nodes/{ident}/states/provision.
func (s *Server) setProvisionState(c *fiber.Ctx) error {
	ctx := c.UserContext()
	v := minor(c)
	ident := param(c, "ident")
	body, err := bodyArgs(c, "target", "configdrive", "clean_steps", "deploy_steps", "rescue_password", "disable_ramdisk",
		"service_steps", "runbook")
	if err != nil {
		return err
	}
	target, _, err := argString(body, "target", true)
	if err != nil {
		return err
	}
	configDrive, hasConfigDrive := body.Get("configdrive")
	switch configDrive.(type) {
	case nil, string, *jsonwire.Object:
	default:
		return badRequest("Expected types <class 'NoneType'>, <class 'dict'>, <class 'str'> for configdrive: %s", pyDisplay(configDrive))
	}
	steps := func(name string) ([]any, error) {
		val, ok := body.Get(name)
		if !ok || val == nil {
			return nil, nil
		}
		arr, isArr := val.([]any)
		if !isArr {
			return nil, badRequest("Expected types <class 'NoneType'>, <class 'list'> for %s: %s", name, pyDisplay(val))
		}
		return arr, nil
	}
	cleanSteps, err := steps("clean_steps")
	if err != nil {
		return err
	}
	deploySteps, err := steps("deploy_steps")
	if err != nil {
		return err
	}
	serviceSteps, err := steps("service_steps")
	if err != nil {
		return err
	}
	runbook, hasRunbook, err := argString(body, "runbook", false)
	if err != nil {
		return err
	}
	rescuePassword, hasRescuePassword, err := argString(body, "rescue_password", false)
	if err != nil {
		return err
	}
	var disableRamdisk *bool
	if val, ok := body.Get("disable_ramdisk"); ok {
		b, aerr := argBool("disable_ramdisk", val)
		if aerr != nil {
			return aerr
		}
		disableRamdisk = b
	}

	n, err := s.loadNode(c, ident)
	if err != nil {
		return err
	}
	if minV, ok := minVerbVersions[target]; ok && v < minV {
		return notAcceptable("")
	}
	if (target == "active" || target == "rebuild" || target == "deploy") && n.Maintenance {
		return badRequest("The provisioning operation can't be performed on node %s because it's in maintenance mode.", n.UUID)
	}

	if target == string(node.VerbAbort) {
		return s.abort(c, &n, ident)
	}
	if target == string(node.VerbUnhold) {
		return s.unhold(c, &n, ident)
	}
	wf, _, ok := contract.Plan(n.ProvisionState, node.Verb(target))
	if !ok {
		if n.ProvisionState.Busy() {
			return s.nodeLocked(n.UUID)
		}
		return invalidStateRequested(target, n.UUID, string(n.ProvisionState))
	}

	if n.Protected && (target == string(node.VerbDeleted) || target == "rebuild") {
		return nodeProtected(n.UUID)
	}
	if target == string(node.VerbInspect) && strings.HasPrefix(n.Interfaces.Inspect, "no-") {
		return badRequest("Driver %s does not support inspect (disabled or not implemented).", n.Driver)
	}
	deployish := target == "active" || target == "rebuild" || target == "deploy"
	if hasConfigDrive && jsonwire.Truthy(configDrive) {
		if err := checkConfigDrive(v, target, configDrive); err != nil {
			return err
		}
	}
	fromRunbook := hasRunbook && runbook != ""
	if fromRunbook {
		// Ironic takes the runbook's disable_ramdisk (never None), so that
		// its check below refuses a runbook for anything but cleaning.
		var noRamdisk bool
		if cleanSteps, serviceSteps, noRamdisk, err = s.runbookSteps(c, &n, target, runbook, cleanSteps,
			serviceSteps); err != nil {
			return err
		}
		disableRamdisk = &noRamdisk
	}
	if disableRamdisk != nil {
		switch {
		case v < v70DisableRamdisk:
			return notAcceptable("disable_ramdisk is not acceptable in this API version")
		case target != "clean":
			return badRequest("disable_ramdisk is supported only with manual cleaning")
		case *disableRamdisk:
			return badRequest("disable_ramdisk is not supported by this service")
		}
	}
	if len(cleanSteps) > 0 && target != "clean" {
		// (A runbook never reaches here: disable_ramdisk refused it above.)
		return badRequest("\"clean_steps\" is only valid when setting target provision state to clean")
	}
	if len(deploySteps) > 0 {
		if v < v69DeploySteps {
			return notAcceptableMin(v69DeploySteps)
		}
		if !deployish {
			return badRequest("\"deploy_steps\" is only valid when setting target provision state to active or rebuild")
		}
		if err := checkSteps(deployStepSchema(), deploySteps); err != nil {
			return err
		}
	}
	if hasRescuePassword && target != "rescue" {
		return badRequest("\"rescue_password\" is only valid when setting target provision state to rescue")
	}
	if len(serviceSteps) > 0 && target != string(node.VerbService) {
		if fromRunbook {
			return badRequest("\"runbooks\" is only valid when setting target provision state to any of ['clean', 'service']")
		}
		return badRequest("\"service_steps\" is only valid when setting target provision state to service")
	}
	if target == string(node.VerbService) {
		if len(serviceSteps) == 0 {
			return badRequest("\"service_steps\" is required when setting target provision state to service")
		}
		if err := checkSteps(serviceStepSchema(), serviceSteps); err != nil {
			return err
		}
	}
	if err := s.checkVerb(&n, node.Verb(target), rescuePassword); err != nil {
		return err
	}
	if target == "clean" {
		if len(cleanSteps) == 0 {
			return badRequest("\"clean_steps\" is required when setting target provision state to clean")
		}
		// A runbook's steps passed its schema when it was written; as in
		// Ironic, the conductor (the workflow) refuses what the node
		// cannot run, ending in clean failed.
		if !fromRunbook {
			if err := checkSteps(cleanStepSchema(), cleanSteps); err != nil {
				return err
			}
		}
	}

	if len(cleanSteps) > 0 && !fromRunbook {
		checked := cleanSteps
		if v >= reservedStepsFrom {
			checked = withoutReservedSteps(cleanSteps)
		}
		if err := s.checkNodeSteps(&n, "clean", checked); err != nil {
			return err
		}
	}
	var (
		templateSteps json.RawMessage
		templateNames []string
	)
	if deployish {
		if templateSteps, templateNames, err = s.checkDeploySteps(c, &n, deploySteps); err != nil {
			return err
		}
	}

	// What the request gives beyond its verb goes to an operation record;
	// only its ID travels through Temporal (a config drive holds user data
	// and secrets).
	op := store.Operation{NodeUUID: n.UUID, Verb: target}
	if hasConfigDrive && jsonwire.Truthy(configDrive) {
		op.ConfigDrive = encodeValue(configDrive)
	} else if target == string(node.VerbRebuild) {
		// A rebuild without a config drive writes the one the node was
		// deployed with, as Ironic keeps it in instance_info.
		if op.ConfigDrive, err = s.Store.LatestConfigDrive(ctx, n.UUID); err != nil {
			return fmt.Errorf("read config drive of node %s: %w", n.UUID, err)
		}
	}
	if len(cleanSteps) > 0 {
		op.CleanSteps = encodeValue(cleanSteps)
	}
	if len(deploySteps) > 0 {
		op.DeploySteps = encodeValue(deploySteps)
	}
	if len(serviceSteps) > 0 {
		op.ServiceSteps = encodeValue(serviceSteps)
	}
	op.TemplateSteps, op.TemplateNames = templateSteps, templateNames
	in := contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.Verb(target), From: n.ProvisionState,
		Revision: contract.CurrentRevision, RequestedBy: requester(c.UserContext())}
	if op.ConfigDrive != nil || op.CleanSteps != nil || op.DeploySteps != nil || op.TemplateSteps != nil ||
		op.ServiceSteps != nil {
		if op, err = s.Store.CreateOperation(ctx, op); err != nil {
			return fmt.Errorf("record the operation on node %s: %w", n.UUID, err)
		}
		in.OperationID = op.ID
	}
	if target == string(node.VerbRescue) {
		// The password goes where Ironic keeps it (instance_info, masked on
		// the wire), never into the workflow's input.
		if n, err = s.setRescuePassword(c, &n, rescuePassword); err != nil {
			return err
		}
	}
	if err := s.begin(ctx, &n, wf, in); err != nil {
		if in.OperationID != "" {
			_ = s.Store.DeleteOperation(context.WithoutCancel(ctx), in.OperationID)
		}
		if target == string(node.VerbRescue) {
			s.dropRescuePassword(c, n.UUID)
		}
		return err
	}
	c.Location(s.statesLocation(c, ident))
	return empty(c, fiber.StatusAccepted)
}

// checkVerb makes the checks Ironic's API and conductor make on a verb
// before its work starts: a retired node is not provided, a rescue needs a
// password and a rescue interface, and neither rescue nor unrescue runs in
// maintenance.
func (s *Server) checkVerb(n *store.Node, verb node.Verb, rescuePassword string) error {
	switch verb {
	case node.VerbProvide:
		if n.Retired {
			return badRequest("The providing operation can't be performed on node %s because it is retired.", n.UUID)
		}
	case node.VerbRescue:
		if strings.TrimSpace(rescuePassword) == "" {
			return badRequest("A non-empty \"rescue_password\" is required when setting target provision state to rescue")
		}
		if n.Maintenance {
			return badRequest("The rescuing operation can't be performed on node %s because it's in maintenance mode.", n.UUID)
		}
		if msg := s.rescueRefusal(n); msg != "" {
			instance := "None"
			if n.InstanceUUID != nil {
				instance = *n.InstanceUUID
			}
			// Ironic answers 500 (InstanceRescueFailure) for this client
			// mistake; ferric answers 400.
			return badRequest("Failed to rescue instance %s for node %s: Validation failed: %s", instance, n.UUID, msg)
		}
	case node.VerbUnrescue:
		if n.Maintenance {
			return badRequest("The unrescuing operation can't be performed on node %s because it's in maintenance mode.", n.UUID)
		}
	}
	return nil
}

// rescueRefusal checks, without I/O, that n's rescue interface can be
// built; it returns Ironic's message when it cannot, else "".
func (s *Server) rescueRefusal(n *store.Node) string {
	if s.Drivers != nil {
		_, err := s.Drivers.Rescue(n.Interfaces.Rescue, n.DriverNode())
		switch {
		case err == nil:
			return ""
		case errors.Is(err, drivers.ErrBadConfig):
			return driverMessage(err)
		}
	}
	return fmt.Sprintf("Driver %s does not support rescue (disabled or not implemented).", n.Driver)
}

// setRescuePassword stores the rescue password and its hash in the node's
// instance_info (optimistic write: it loses to anything that moved the node
// meanwhile) and returns the node as written.
func (s *Server) setRescuePassword(c *fiber.Ctx, n *store.Node, password string) (store.Node, error) {
	state := n.ProvisionState
	hashed := hashRescuePassword(password)
	return s.updateNode(c, n.UUID, func(m *store.Node) error {
		if m.ProvisionState != state || m.TargetProvisionState != node.NoState || operationHolds(m) {
			return s.nodeLocked(m.UUID)
		}
		ii := decodeObject(m.InstanceInfo)
		ii.Set("rescue_password", password)
		ii.Set("hashed_rescue_password", hashed)
		m.InstanceInfo = encodeValue(ii)
		return nil
	})
}

// dropRescuePassword removes the rescue password again when the rescue
// could not start (best effort; Ironic does the same).
func (s *Server) dropRescuePassword(c *fiber.Ctx, nodeUUID string) {
	_, err := s.updateNode(c, nodeUUID, func(m *store.Node) error {
		ii := decodeObject(m.InstanceInfo)
		ii.Delete("rescue_password")
		ii.Delete("hashed_rescue_password")
		m.InstanceInfo = encodeValue(ii)
		return nil
	})
	if err != nil {
		s.log().WarnContext(c.UserContext(), "remove the rescue password of a rescue that did not start",
			"node", nodeUUID, "err", err)
	}
}

// abort signals the workflow waiting in a *wait state to give up.
func (s *Server) abort(c *fiber.Ctx, n *store.Node, ident string) error {
	if _, ok := contract.AbortTarget(n.ProvisionState); !ok {
		if n.ProvisionState.Busy() {
			return s.nodeLocked(n.UUID)
		}
		return invalidStateRequested("abort", n.UUID, string(n.ProvisionState))
	}
	if n.ProvisionState == node.InspectWait && minor(c) < v41InspectAbort {
		return notAcceptable("")
	}
	err := s.Workflows.SignalWorkflow(c.UserContext(), contract.WorkflowID(n.UUID), "", contract.SignalAbort, nil)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return invalidStateRequested("abort", n.UUID, string(n.ProvisionState))
	}
	if err != nil {
		return fmt.Errorf("signal abort to node %s: %w", n.UUID, err)
	}
	c.Location(s.statesLocation(c, ident))
	return empty(c, fiber.StatusAccepted)
}

// unhold signals the workflow holding a node in a hold state (clean hold,
// deploy hold, service hold) to go on (API 1.85). As Ironic, the state is
// checked before the version.
func (s *Server) unhold(c *fiber.Ctx, n *store.Node, ident string) error {
	if _, ok := contract.UnholdTarget(n.ProvisionState); !ok {
		if n.ProvisionState.Busy() {
			return s.nodeLocked(n.UUID)
		}
		return invalidStateRequested("unhold", n.UUID, string(n.ProvisionState))
	}
	if minor(c) < v85Unhold {
		return notAcceptable("")
	}
	err := s.Workflows.SignalWorkflow(c.UserContext(), contract.WorkflowID(n.UUID), "", contract.SignalUnhold, nil)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return invalidStateRequested("unhold", n.UUID, string(n.ProvisionState))
	}
	if err != nil {
		return fmt.Errorf("signal unhold to node %s: %w", n.UUID, err)
	}
	c.Location(s.statesLocation(c, ident))
	return empty(c, fiber.StatusAccepted)
}

// reservedStepsFrom is the first version whose requests may name Ironic's
// conductor-level steps (drivers.ReservedSteps) among their clean and
// deploy steps: Ironic 29 takes them whatever the version asked
// (flowsteps_clean_reboot_1_84.txt); up to 1.82 ferric answers as Ironic
// 21.4, which knows no such steps.
const reservedStepsFrom = v83ParentNode

// withoutReservedSteps leaves out the steps Ironic's conductor runs itself
// (drivers.ReservedSteps: hold, wait, power_on, power_off, reboot, under
// any interface), which no interface offers.
func withoutReservedSteps(steps []any) []any {
	var out []any
	for _, st := range steps {
		if o, ok := st.(*jsonwire.Object); ok {
			if name, _ := o.Value("step").(string); slices.Contains(drivers.ReservedSteps(), name) {
				continue
			}
		}
		out = append(out, st)
	}
	return out
}

// b64Alphabet holds the characters of a base64 config drive (with
// whitespace, common in such values).
const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n\r\t "

// checkConfigDrive is Ironic's check_allow_configdrive.
func checkConfigDrive(v int, target string, cd any) *apiError {
	allowed := []string{"active"}
	if v >= v35RebuildConfigDrive {
		allowed = append(allowed, "rebuild")
	}
	if v >= v73DeployVerbs {
		allowed = append(allowed, "deploy")
	}
	if !contains(allowed, target) {
		return badRequest("Adding a config drive is only supported when setting provision state to %s",
			strings.Join(allowed, ", "))
	}
	switch t := cd.(type) {
	case *jsonwire.Object:
		for _, k := range t.Keys() {
			switch k {
			case "meta_data", "network_data", "vendor_data":
				if _, ok := t.Value(k).(*jsonwire.Object); !ok {
					return badRequest("Invalid configdrive format: %s is not of type 'object'", pyRepr(t.Value(k)))
				}
			case "user_data":
				if _, ok := t.Value(k).(json.Number); ok {
					return badRequest("Invalid configdrive format: %s is not of type 'object', 'array', 'string', 'null'",
						pyRepr(t.Value(k)))
				}
				if _, ok := t.Value(k).(bool); ok {
					return badRequest("Invalid configdrive format: %s is not of type 'object', 'array', 'string', 'null'",
						pyRepr(t.Value(k)))
				}
			default:
				return badRequest("Invalid configdrive format: Additional properties are not allowed (%s was unexpected)", pyStr(k))
			}
		}
		if v < v56BuildConfigDrive {
			return badRequest("Providing a JSON object for configdrive is only supported starting with API version 1.%d",
				v56BuildConfigDrive)
		}
		if _, ok := t.Get("vendor_data"); ok && v < v59ConfigDriveVendor {
			return badRequest("Providing vendor_data in configdrive is only supported starting with API version 1.%d",
				v59ConfigDriveVendor)
		}
	case string:
		if strings.Contains(t, "://") {
			return nil
		}
		for _, r := range t {
			if !strings.ContainsRune(b64Alphabet, r) {
				return badRequest("Invalid configdrive format: it is neither a JSON, nor a URL, nor a base64 string")
			}
		}
	}
	return nil
}

// stepListSchema is one of Ironic's JSON schemas of a list of steps, as far
// as its check needs it: the members a step may and must have, the
// interfaces it may name, the members that must be booleans or arrays,
// and rank, the member that must be a non-negative integer (or a string
// of digits).
type stepListSchema struct {
	name                          string // the request's member, in messages
	allowed, required, interfaces []string
	bools, arrays                 []string
	rank                          string
	// nonEmpty: an empty step name breaks the schema's minLength (Ironic
	// 29's message), not its type.
	nonEmpty bool
}

// serviceStepInterfaces are the interfaces of Ironic 29's steps schema
// (conductor/steps.py CLEANING_INTERFACE_PRIORITY), in its order.
var serviceStepInterfaces = []string{"vendor", "power", "management", "firmware", "deploy", "bios", "raid"}

// cleanStepSchema, deployStepSchema and serviceStepSchema are Ironic's
// clean_steps and deploy_steps schemas (API 1.15, 1.69) and Ironic 29's
// _STEPS_SCHEMA of service_steps.
func cleanStepSchema() stepListSchema {
	return stepListSchema{name: "clean_steps", allowed: []string{"interface", "step", "args"},
		required: []string{"interface", "step"}, interfaces: cleanStepInterfaces}
}

func deployStepSchema() stepListSchema {
	return stepListSchema{name: "deploy_steps", allowed: []string{"interface", "step", "args", "priority"},
		required: []string{"interface", "step", "args", "priority"},
		// Not deployStepInterfaces (the deploy templates' schema): the
		// provision request's own list, in its order.
		interfaces: []string{"deploy", "power", "management", "bios", "raid", "storage", "firmware"}, rank: "priority"}
}

func serviceStepSchema() stepListSchema {
	return stepListSchema{name: "service_steps",
		allowed: []string{"interface", "step", "args", "order", "execute_on_child_nodes",
			"limit_child_node_execution"},
		required:   []string{"interface", "step"},
		interfaces: serviceStepInterfaces,
		bools:      []string{"execute_on_child_nodes"}, arrays: []string{"limit_child_node_execution"},
		rank: "order", nonEmpty: true}
}

// checkSteps validates a list of steps against sc. The message is
// Ironic's first line (jsonschema goes on with the schema and the
// instance).
func checkSteps(sc stepListSchema, steps []any) *apiError {
	fail := func(msg string) *apiError { return badRequest("Invalid %s: %s", sc.name, msg) }
	for _, st := range steps {
		o, ok := st.(*jsonwire.Object)
		if !ok {
			return fail(pyRepr(st) + " is not of type 'object'")
		}
		for _, k := range o.Keys() {
			if !contains(sc.allowed, k) {
				return fail(fmt.Sprintf("Additional properties are not allowed (%s was unexpected)", pyStr(k)))
			}
		}
		for _, r := range sc.required {
			if _, ok := o.Get(r); !ok {
				return fail(pyStr(r) + " is a required property")
			}
		}
		if iface, _ := o.Value("interface").(string); !contains(sc.interfaces, iface) {
			return fail(pyRepr(o.Value("interface")) + " is not one of " + pyList(sc.interfaces))
		}
		switch step, ok := o.Value("step").(string); {
		case ok && step == "" && sc.nonEmpty:
			return fail("'' should be non-empty")
		case !ok || step == "":
			return fail(pyRepr(o.Value("step")) + " is not of type 'string'")
		}
		if a, ok := o.Get("args"); ok {
			if _, isObj := a.(*jsonwire.Object); !isObj {
				return fail(pyRepr(a) + " is not of type 'object'")
			}
		}
		for _, k := range sc.bools {
			if v, ok := o.Get(k); ok {
				if _, isBool := v.(bool); !isBool {
					return fail(pyRepr(v) + " is not of type 'boolean'")
				}
			}
		}
		for _, k := range sc.arrays {
			if v, ok := o.Get(k); ok {
				if _, isArr := v.([]any); !isArr {
					return fail(pyRepr(v) + " is not of type 'array'")
				}
			}
		}
		if v, ok := o.Get(sc.rank); ok && sc.rank != "" && !nonNegativeInt(v) {
			return fail(pyRepr(v) + " is not valid under any of the given schemas")
		}
	}
	return nil
}

// nonNegativeInt reports whether v is a JSON integer of at least 0 or a
// string of digits (Ironic's schemas accept both for a step's priority and
// order) that ferric can hold as an int (a larger one is refused here, not
// later).
func nonNegativeInt(v any) bool {
	switch p := v.(type) {
	case json.Number:
		i, err := strconv.Atoi(string(p))
		return err == nil && i >= 0
	case string:
		_, err := strconv.Atoi(p)
		return err == nil && strings.Trim(p, "0123456789") == ""
	}
	return false
}

// nodeCatalog returns the clean or deploy steps (kind) that n's interfaces
// offer (none when its deploy interface cannot be built).
func (s *Server) nodeCatalog(n *store.Node, kind string) []drivers.Step {
	if s.Drivers == nil {
		return nil
	}
	c, err := s.Drivers.NodeSteps(interfacesMap(&n.Interfaces), n.DriverNode())
	if err != nil {
		return nil
	}
	if kind == "deploy" {
		return c.Deploy
	}
	return c.Clean
}

// checkNodeSteps checks a request's clean steps against the steps the
// node's interfaces offer, as Ironic's conductor does, before anything is
// booted (see stepErrors).
func (s *Server) checkNodeSteps(n *store.Node, kind string, steps []any) *apiError {
	objs := make([]*jsonwire.Object, len(steps))
	for i, raw := range steps {
		objs[i], _ = raw.(*jsonwire.Object) // checkSteps made sure
	}
	if errs := stepErrors(s.nodeCatalog(n, kind), kind, objs); len(errs) > 0 {
		return badRequest("%s", strings.Join(errs, "; "))
	}
	return nil
}

// stepErrors validates user or template steps against a catalog as
// Ironic's _validate_user_steps does: unknown steps, unexpected arguments,
// missing required ones (clean steps, and deploy steps that run), core
// deploy steps that would run, and steps given twice (deploy). ferric adds
// one rule of its own: an in-band deploy step at priority 100 or more would
// run before the ramdisk is up.
func stepErrors(catalog []drivers.Step, kind string, steps []*jsonwire.Object) []string {
	var errs []string
	counts := map[string]int{}
	var order []string
	for _, o := range steps {
		iface, _ := o.Value("interface").(string)
		name, _ := o.Value("step").(string)
		i := slices.IndexFunc(catalog, func(c drivers.Step) bool { return string(c.Interface) == iface && c.Name == name })
		if i < 0 {
			errs = append(errs, fmt.Sprintf("node does not support this %s step: %s", kind, pyRepr(o)))
			continue
		}
		c := catalog[i]
		id := iface + "." + name
		if counts[id]++; counts[id] == 1 {
			order = append(order, id)
		}
		args, _ := o.Value("args").(*jsonwire.Object)
		var unexpected, missing []string
		if args != nil {
			for _, k := range args.Keys() {
				if _, known := c.Args[k]; !known {
					unexpected = append(unexpected, k)
				}
			}
		}
		if len(unexpected) > 0 {
			errs = append(errs, fmt.Sprintf("%s step %s has these unexpected arguments: %s", kind, pyRepr(o),
				strings.Join(unexpected, ", ")))
		}
		prio := stepPriority(o.Value("priority"))
		if kind == "clean" || prio > 0 {
			for _, arg := range slices.Sorted(maps.Keys(c.Args)) {
				info := c.Args[arg]
				if info.Required && (args == nil || !slices.Contains(args.Keys(), arg)) {
					msg := arg
					if info.Description != "" {
						msg += " (" + info.Description + ")"
					}
					missing = append(missing, msg)
				}
			}
			if len(missing) > 0 {
				errs = append(errs, fmt.Sprintf("%s step %s is missing these required arguments: %s", kind, pyRepr(o),
					strings.Join(missing, ", ")))
			}
		}
		if kind != "deploy" || prio == 0 {
			continue
		}
		switch {
		case c.Core:
			errs = append(errs, fmt.Sprintf("deploy step %s on interface %s is a core step and cannot be overridden "+
				"by user steps. It may be disabled by setting the priority to 0", name, iface))
		case c.InBand && prio >= 100:
			errs = append(errs, fmt.Sprintf("deploy step %s on interface %s runs on the ramdisk agent, after the core deploy "+
				"step (priority 100): its priority must be below 100", name, iface))
		}
	}
	if kind == "deploy" {
		var dups []string
		for _, id := range order {
			if counts[id] > 1 {
				dups = append(dups, id)
			}
		}
		if len(dups) > 0 {
			errs = append(errs, "deploy steps from all deploy templates matching this node's instance traits cannot "+
				"have the same interface and step. Duplicate deploy steps for "+strings.Join(dups, ", "))
		}
	}
	return errs
}

// checkDeploySteps is what Ironic's start_deploy checks before a deploy
// begins, with its messages: the instance traits, the steps of the deploy
// templates they match, and the request's deploy steps. It returns the
// matched templates' steps and names for the operation record.
func (s *Server) checkDeploySteps(c *fiber.Ctx, n *store.Node, userSteps []any) (json.RawMessage, []string, error) {
	fail := func(format string, a ...any) *apiError {
		return badRequest("Failed to validate deploy or power info for node %s: %s", n.UUID, fmt.Sprintf(format, a...))
	}
	traits, aerr := instanceTraits(n)
	if aerr != nil {
		return nil, nil, fail("%s", aerr.msg)
	}
	catalog := s.nodeCatalog(n, "deploy")
	var (
		tmplSteps []templateStep
		names     []string
	)
	if len(traits) > 0 {
		templates, err := s.Store.DeployTemplatesNamed(c.UserContext(), traits)
		if err != nil {
			return nil, nil, fmt.Errorf("read deploy templates of node %s: %w", n.UUID, err)
		}
		var objs []*jsonwire.Object
		for i := range templates {
			steps, err := decodeSteps[templateStep](templates[i].Steps)
			if err != nil {
				return nil, nil, fmt.Errorf("deploy template %s: %w", templates[i].UUID, err)
			}
			names = append(names, templates[i].Name)
			for _, st := range steps {
				tmplSteps = append(tmplSteps, st)
				o, err := stepObject(st)
				if err != nil {
					return nil, nil, fmt.Errorf("deploy template %s: %w", templates[i].UUID, err)
				}
				objs = append(objs, o)
			}
		}
		if errs := stepErrors(catalog, "deploy", objs); len(errs) > 0 {
			return nil, nil, fail("Validation of deploy steps from deploy templates matching this node's instance "+
				"traits failed. Matching deploy templates: %s. Errors: %s", strings.Join(names, ","),
				strings.Join(errs, "; "))
		}
	}
	if minor(c) >= reservedStepsFrom {
		userSteps = withoutReservedSteps(userSteps)
	}
	if len(userSteps) > 0 {
		objs := make([]*jsonwire.Object, len(userSteps))
		for i, raw := range userSteps {
			objs[i], _ = raw.(*jsonwire.Object) // checkSteps made sure
		}
		if errs := stepErrors(catalog, "deploy", objs); len(errs) > 0 {
			return nil, nil, fail("Validation of deploy steps from \"deploy steps\" argument failed.%s",
				strings.Join(errs, "; "))
		}
	}
	if len(tmplSteps) == 0 {
		return nil, nil, nil
	}
	raw, err := json.Marshal(tmplSteps)
	if err != nil {
		return nil, nil, fmt.Errorf("encode deploy template steps: %w", err)
	}
	return raw, names, nil
}

// stepPriority reads a validated step priority (a number or a numeric string).
func stepPriority(v any) int {
	var text string
	switch p := v.(type) {
	case json.Number:
		text = string(p)
	case string:
		text = p
	}
	n, _ := strconv.Atoi(text)
	return n
}

// Power.

var allowedPowerTargets = []node.PowerState{node.PowerOn, node.PowerOff, node.Rebooting, node.SoftRebooting,
	node.SoftPowerOff}

// setPowerState answers PUT /v1/nodes/{ident}/states/power.
func (s *Server) setPowerState(c *fiber.Ctx) error {
	v := minor(c)
	ident := param(c, "ident")
	body, err := bodyArgs(c, "target", "timeout")
	if err != nil {
		return err
	}
	target, _, err := argString(body, "target", true)
	if err != nil {
		return err
	}
	timeout := 0
	hasTimeout := false
	if tv, ok := body.Get("timeout"); ok && tv != nil {
		var n int
		var perr error
		switch t := tv.(type) {
		case json.Number:
			n, perr = strconv.Atoi(string(t))
		case string:
			n, perr = strconv.Atoi(strings.TrimSpace(t))
		default:
			perr = errors.New("not an integer")
		}
		if perr != nil {
			return badRequest("Expected an integer for timeout: %s", pyDisplay(tv))
		}
		timeout, hasTimeout = n, true
	}
	n, err := s.loadNode(c, ident)
	if err != nil {
		return err
	}
	soft := target == string(node.SoftRebooting) || target == string(node.SoftPowerOff)
	if (soft || (hasTimeout && timeout != 0)) && v < v27SoftPower {
		return notAcceptable("")
	}
	if hasTimeout && timeout < 1 {
		return badRequest("timeout has to be positive integer")
	}
	if !containsPower(allowedPowerTargets, node.PowerState(target)) {
		return invalidStateRequested(target, ident, string(n.PowerState))
	}
	if n.ProvisionState == node.CleanWait || n.ProvisionState == node.Cleaning {
		return invalidStateRequested(target, ident, string(n.ProvisionState))
	}
	if n.DisablePowerOff && (target == string(node.PowerOff) || target == string(node.SoftPowerOff)) {
		// Ironic's PowerStateFailure: a node with disable_power_off (API
		// 1.95) is never powered off, whatever the version asked.
		return conflict("Failed to set node power state to %s.", target)
	}
	if err := s.checkPower(&n); err != nil {
		return err
	}
	in := contract.PowerInput{NodeUUID: n.UUID, Target: node.PowerState(target), TimeoutSeconds: timeout,
		RequestedBy: requester(c.UserContext())}
	if err := s.begin(c.UserContext(), &n, contract.PowerName, in); err != nil {
		return err
	}
	c.Location(s.statesLocation(c, ident))
	return empty(c, fiber.StatusAccepted)
}

func containsPower(ss []node.PowerState, p node.PowerState) bool {
	for _, x := range ss {
		if x == p {
			return true
		}
	}
	return false
}

// Management.

// bootDevices are Ironic's boot_devices names.
var bootDevices = []string{"pxe", "disk", "cdrom", "bios", "safe", "wanboot", "iscsiboot", "floppy", "uefi-http"}

// checkManagement refuses, without I/O, nodes whose management interface
// cannot be built.
func (s *Server) checkManagement(n *store.Node) *apiError {
	if s.Drivers == nil {
		return badRequest("Driver %s does not support management (disabled or not implemented).", n.Driver)
	}
	ifaces := interfacesMap(&n.Interfaces)
	_, err := s.Drivers.Management(ifaces[drivers.KindManagement], n.DriverNode())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, drivers.ErrBadConfig):
		return badRequest("%s", driverMessage(err))
	default:
		return badRequest("Driver %s does not support management (disabled or not implemented).", n.Driver)
	}
}

// checkPower refuses, without I/O, a power change of a node whose power
// interface cannot be built from its driver_info (Ironic validates the
// power interface before it accepts the change: 400 with the driver's
// message).
func (s *Server) checkPower(n *store.Node) *apiError {
	if s.Drivers == nil {
		return nil
	}
	ifaces := interfacesMap(&n.Interfaces)
	if _, err := s.Drivers.Power(ifaces[drivers.KindPower], n.DriverNode()); errors.Is(err, drivers.ErrBadConfig) {
		return badRequest("%s", driverMessage(err))
	}
	return nil
}

// loadManagedNode reads the node the path names and refuses it, without
// I/O, when its management interface cannot be built.
func (s *Server) loadManagedNode(c *fiber.Ctx) (store.Node, error) {
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return n, err
	}
	if err := s.checkManagement(&n); err != nil {
		return n, err
	}
	return n, nil
}

// readManagement runs the read-management workflow (no node lock).
func (s *Server) readManagement(c *fiber.Ctx, what contract.ManagementRead) (contract.ManagementResult, error) {
	var res contract.ManagementResult
	n, err := s.loadManagedNode(c)
	if err != nil {
		return res, err
	}
	in := contract.ManagementInput{NodeUUID: n.UUID, Read: what}
	err = s.runSync(c, n.UUID, n.ConductorGroup, contract.ReadWorkflowID(n.UUID, uuid.NewString()), contract.ManagementName, in, &res)
	return res, err
}

// getBootDevice answers GET /v1/nodes/{ident}/management/boot_device.
func (s *Server) getBootDevice(c *fiber.Ctx) error {
	res, err := s.readManagement(c, contract.ReadBootDevice)
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"boot_device":`...)
		b = jsonwire.AppendStringOrNull(b, res.BootDevice)
		b = append(b, `,"persistent":`...)
		b = jsonwire.AppendBoolPtr(b, res.Persistent)
		return append(b, '}')
	})
}

// supportedBootDevices answers GET .../management/boot_device/supported.
func (s *Server) supportedBootDevices(c *fiber.Ctx) error {
	res, err := s.readManagement(c, contract.ReadSupportedBootDevices)
	if err != nil {
		return err
	}
	devs := res.SupportedBootDevices
	if devs == nil {
		devs = []string{}
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"supported_boot_devices":`...)
		b = jsonwire.AppendStrings(b, devs)
		return append(b, '}')
	})
}

// setBootDevice answers PUT /v1/nodes/{ident}/management/boot_device: it
// runs set-boot-device under the node lock and waits for it (204).
func (s *Server) setBootDevice(c *fiber.Ctx) error {
	body, err := bodyArgs(c, "boot_device", "persistent")
	if err != nil {
		return err
	}
	dev, _, err := argString(body, "boot_device", true)
	if err != nil {
		return err
	}
	persistent := false
	if pv, ok := body.Get("persistent"); ok {
		b, aerr := argBool("persistent", pv)
		if aerr != nil {
			return aerr
		}
		persistent = b != nil && *b
	}
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	if !contains(bootDevices, dev) {
		return badRequest("Invalid boot device %s specified.", dev)
	}
	if err := s.checkManagement(&n); err != nil {
		return err
	}
	in := contract.BootDeviceInput{NodeUUID: n.UUID, Device: dev, Persistent: persistent}
	if err := s.runSync(c, n.UUID, n.ConductorGroup, contract.WorkflowID(n.UUID), contract.BootDeviceName, in, nil); err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}
