package api

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Authentication and authorization.
//
// With Server.Auth set, authenticate (registered in App) checks every
// request but Ironic's public routes (version discovery and the agent's
// lookup and heartbeat), puts the caller's auth.Credentials in the request's
// user context and enforces the rules that need no node (routeAccess).
// Node-scoped rules are enforced where handlers read the node or port
// (loadNode, loadPort: authorizeNode, authorizePort), as Ironic's
// check_node_policy_and_retrieve does: a node the caller may not see is 404,
// a seen node without the right is 403. Lists are filtered to the caller's
// project (listProject). As in Ironic, policy applies to Keystone
// credentials only: noauth and http_basic callers may do everything.

// Authenticator checks a request's credentials; *auth.Basic and
// *auth.Keystone satisfy it.
type Authenticator interface {
	Authenticate(ctx context.Context, r auth.Request) (*auth.Credentials, error)
	// Reject renders a failed authentication: status, JSON body and the
	// WWW-Authenticate header ("" for none).
	Reject(err error) (status int, body []byte, challenge string)
}

// publicRoutes are Ironic's acl_public_routes, matched as its
// AuthPublicRoutes middleware does: the path without trailing slashes,
// optionally suffixed .json or .xml; plus ferric's liveness and readiness
// probes (orchestrators probe without credentials), its metrics and the
// inventory schema agents and clients validate against. Every public()
// rule of routeAccess is matched here (TestPublicRulesArePublic).
var publicRoutes = regexp.MustCompile(`^((/|/v1|/v1/lookup|/v1/heartbeat/[a-z0-9\-]+|/v1/continue_inspection)(\.json|\.xml)?|/healthz|/readyz|/metrics|/schemas/inventory\.v1\.json)$`)

// isPublic reports whether path needs no credentials.
func isPublic(path string) bool {
	if p := strings.TrimRight(path, "/"); p != "" {
		path = p
	}
	return publicRoutes.MatchString(path)
}

// authState is what authenticate learned of a request, for the hooks.
type authState struct {
	creds  *auth.Credentials
	access access
	// listProject restricts a list to this project's nodes (or their
	// ports); "" = no restriction.
	listProject string
	// createRestricted: the caller may create an allocation for any
	// owner and from any node (baremetal:allocation:create_restricted).
	createRestricted bool
	// selfOwned: the node being created is owned by the caller's project
	// (baremetal:node:create:self_owned_node).
	selfOwned bool
}

type authStateKey struct{}

// restricted returns the request's auth state when policy applies to it
// (Keystone credentials), else nil.
func restricted(c *fiber.Ctx) *authState {
	st, _ := c.Locals(authStateKey{}).(*authState)
	if st == nil || st.creds == nil || st.creds.Unrestricted {
		return nil
	}
	return st
}

// authenticate is the authentication middleware (Server.Auth must be set).
func (s *Server) authenticate(routes *routeTable) fiber.Handler {
	log := s.log()
	return func(c *fiber.Ctx) error {
		path := c.Path()
		if isPublic(path) {
			return c.Next()
		}
		h := &c.Request().Header
		authz := h.Peek(fiber.HeaderAuthorization)
		creds, err := s.Auth.Authenticate(c.UserContext(), auth.Request{
			Authorization: string(authz), HasAuthorization: authz != nil,
			AuthToken: string(h.Peek("X-Auth-Token")),
		})
		if err != nil {
			status, body, challenge := s.Auth.Reject(err)
			if status >= fiber.StatusInternalServerError {
				log.WarnContext(c.UserContext(), "authentication unavailable", "method", c.Method(), "path", path, "err", err)
			} else {
				log.InfoContext(c.UserContext(), "authentication refused", "method", c.Method(), "path", path,
					"status", status, "reason", err)
			}
			if challenge != "" {
				c.Set(fiber.HeaderWWWAuthenticate, challenge)
			}
			c.Status(status)
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(body)
		}
		c.SetUserContext(auth.NewContext(c.UserContext(), creds))
		st := &authState{creds: creds, access: routes.match(requestMethod(c), path)}
		c.Locals(authStateKey{}, st)
		if !creds.Unrestricted {
			if err := s.authorizeRoute(c, st); err != nil {
				return err
			}
		}
		return c.Next()
	}
}

// forbidden is Ironic's HTTPForbidden.
func forbidden(rule auth.Rule) *apiError {
	return newError(fiber.StatusForbidden, "Access was denied to the following resource: %s", rule)
}

// authorizeRoute enforces the rules that need no node, before the handler
// runs, and prepares the list and create hooks.
func (s *Server) authorizeRoute(c *fiber.Ctx, st *authState) error {
	creds, acc := st.creds, st.access
	switch acc.kind {
	case accessGlobal:
		if !s.Policy.Allowed(acc.rule, creds, auth.Target{}) {
			return forbidden(acc.rule)
		}
	case accessNodeList:
		requested, _ := query(c, "project")
		p, err := s.listScope(creds, auth.NodeListAll, auth.NodeList, requested)
		if err != nil {
			return err
		}
		st.listProject = p
	case accessPortList, accessNodePorts:
		p, err := s.listScope(creds, auth.PortListAll, auth.PortList, "")
		if err != nil {
			return err
		}
		st.listProject = p
	case accessList, accessSubList:
		p, err := s.listScope(creds, acc.all, acc.rule, "")
		if err != nil {
			return err
		}
		st.listProject = p
	case accessAllocationList:
		requested, _ := query(c, "owner")
		p, err := s.listScope(creds, auth.AllocationListAll, auth.AllocationList, requested)
		if err != nil {
			return err
		}
		st.listProject = p
	case accessAllocationCreate:
		if !s.Policy.Allowed(auth.AllocationCreate, creds, auth.Target{}) {
			return forbidden(auth.AllocationCreate)
		}
		st.createRestricted = s.Policy.Allowed(auth.AllocationCreateRestricted, creds, auth.Target{})
	case accessNodeCreate:
		if s.Policy.ProjectAdminCanManageOwnNodes() && s.Policy.Allowed(auth.NodeCreateSelfOwned, creds, auth.Target{}) {
			st.selfOwned = true
		} else if !s.Policy.Allowed(auth.NodeCreate, creds, auth.Target{}) {
			return forbidden(auth.NodeCreate)
		}
	}
	return nil
}

// listScope is Ironic's check_list_policy: everything for callers allowed
// listAll, else the caller's project's for project-scoped callers allowed
// list (asking for another project is refused).
func (s *Server) listScope(creds *auth.Credentials, listAll, list auth.Rule, requested string) (string, error) {
	if s.Policy.Allowed(listAll, creds, auth.Target{}) {
		return "", nil
	}
	if creds.ProjectID == "" || (requested != "" && requested != creds.ProjectID) {
		return "", forbidden(listAll)
	}
	if !s.Policy.Allowed(list, creds, auth.Target{}) {
		return "", forbidden(list)
	}
	return creds.ProjectID, nil
}

// listProject is the project a list must be restricted to ("" = none).
func listProject(c *fiber.Ctx) string {
	if st := restricted(c); st != nil {
		return st.listProject
	}
	return ""
}

func nodeTarget(n *store.Node) auth.Target {
	var t auth.Target
	if n.Owner != nil {
		t.Owner = *n.Owner
	}
	if n.Lessee != nil {
		t.Lessee = *n.Lessee
	}
	return t
}

// authorizeNode is loadNode's hook: a node the caller may not see
// (baremetal:node:get) is not found; then the route's rules are checked
// against it.
func (s *Server) authorizeNode(c *fiber.Ctx, n *store.Node, ident string) error {
	st := restricted(c)
	if st == nil {
		return nil
	}
	t := nodeTarget(n)
	if !s.Policy.Allowed(auth.NodeGet, st.creds, t) {
		return nodeNotFound(ident)
	}
	switch st.access.kind {
	case accessNode:
		r := st.access.rule
		if s.Policy.Allowed(r, st.creds, t) {
			return nil
		}
		if r == auth.NodeDelete && s.Policy.ProjectAdminCanManageOwnNodes() {
			if s.Policy.Allowed(auth.NodeDeleteSelfOwned, st.creds, t) {
				return nil
			}
			return forbidden(auth.NodeDeleteSelfOwned)
		}
		return forbidden(r)
	case accessNodePatch:
		ops := patchOps(c.Body())
		for _, r := range auth.NodePatchRules(ops) {
			if !s.Policy.Allowed(r, st.creds, t) {
				return forbidden(r)
			}
		}
		if n.ProvisionState == node.Active && !s.Policy.Allowed(auth.NodeUpdateOwnerProvisioned, st.creds, t) {
			for _, op := range ops {
				if op.Path == "/owner" {
					return conflict("Cannot update owner of node \"%s\" while it is in state \"%s\".", n.UUID, node.Active)
				}
			}
		}
	}
	return nil
}

// patchOps reads the paths and values of a JSON Patch body (nil when it is
// not one: the handler refuses it).
func patchOps(body []byte) []auth.PatchOp {
	var raw []struct {
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return nil
	}
	ops := make([]auth.PatchOp, len(raw))
	for i, r := range raw {
		ops[i] = auth.PatchOp{Path: r.Path, Value: r.Value}
	}
	return ops
}

// authorizePort is loadPort's hook: the port's node decides, as in Ironic's
// check_port_policy_and_retrieve (a port the caller may not see is not
// found, then the route's rule).
func (s *Server) authorizePort(c *fiber.Ctx, p *store.Port, ident string) error {
	return s.authorizeOnNode(c, p.NodeUUID, accessPort, portNotFound(ident))
}

// authorizePortCreate is createPort's hook: baremetal:port:create against
// the node the new port joins.
func (s *Server) authorizePortCreate(c *fiber.Ctx, nodeUUID string) error {
	st := restricted(c)
	if st == nil {
		return nil
	}
	return s.allowedOnNode(c, st, auth.PortCreate, nodeUUID)
}

// authorizeObject is the hook of the loaders of a node's port groups and
// volume objects (Ironic's check_port_policy_and_retrieve and
// check_volume_policy_and_retrieve): an object whose node the caller may not
// see is notFound; then the route's rule against the node.
func (s *Server) authorizeObject(c *fiber.Ctx, nodeUUID string, notFound *apiError) error {
	return s.authorizeOnNode(c, nodeUUID, accessObject, notFound)
}

// authorizeOnNode is the hook of the loaders of a node's objects (ports,
// port groups, volume objects): an object whose node (nodeUUID) the caller
// may not see is notFound; then, on routes of kind, the route's rule
// against the node.
func (s *Server) authorizeOnNode(c *fiber.Ctx, nodeUUID string, kind accessKind, notFound *apiError) error {
	st := restricted(c)
	if st == nil {
		return nil
	}
	t, err := s.portTarget(c, nodeUUID)
	if err != nil {
		return err
	}
	return s.authorizeSeen(st, t, auth.NodeGet, kind, notFound)
}

// authorizeSeen checks an object of target t: one the caller may not see
// (get) is notFound; then, on routes of kind, the route's rule against t.
func (s *Server) authorizeSeen(st *authState, t auth.Target, get auth.Rule, kind accessKind, notFound *apiError) error {
	if !s.Policy.Allowed(get, st.creds, t) {
		return notFound
	}
	if st.access.kind == kind && !s.Policy.Allowed(st.access.rule, st.creds, t) {
		return forbidden(st.access.rule)
	}
	return nil
}

// authorizeObjectCreate is the hook of port group and volume object creates
// (Ironic's check_owner_policy on the body's node): the route's rule
// against that node.
func (s *Server) authorizeObjectCreate(c *fiber.Ctx, nodeUUID string) error {
	st := restricted(c)
	if st == nil || st.access.kind != accessObjectCreate {
		return nil
	}
	return s.allowedOnNode(c, st, st.access.rule, nodeUUID)
}

// allowedOnNode checks rule against the node nodeUUID (a node that is gone
// has no owner or lessee).
func (s *Server) allowedOnNode(c *fiber.Ctx, st *authState, rule auth.Rule, nodeUUID string) error {
	t, err := s.portTarget(c, nodeUUID)
	if err != nil {
		return err
	}
	if !s.Policy.Allowed(rule, st.creds, t) {
		return forbidden(rule)
	}
	return nil
}

// mayViewTargetProperties is baremetal:volume:view_target_properties: who
// may not sees a volume target's properties redacted.
func (s *Server) mayViewTargetProperties(c *fiber.Ctx) bool {
	st := restricted(c)
	return st == nil || s.Policy.Allowed(auth.VolumeViewTargetProperties, st.creds, auth.Target{})
}

// portTarget is the owner and lessee of a port's node (none if it is gone).
func (s *Server) portTarget(c *fiber.Ctx, nodeUUID string) (auth.Target, error) {
	n, err := s.Store.Node(c.UserContext(), nodeUUID)
	switch {
	case err == nil:
		return nodeTarget(&n), nil
	case errors.Is(err, store.ErrNotFound):
		return auth.Target{}, nil
	}
	return auth.Target{}, err
}

// ownNewNode is createNode's hook (Ironic's project-scoped node creation,
// API 1.80): a project admin's new node is owned by their project, and may
// not name another owner.
func (s *Server) ownNewNode(c *fiber.Ctx, n *store.Node) error {
	st := restricted(c)
	if st == nil || !st.selfOwned || st.creds.SystemScoped() {
		return nil
	}
	project := st.creds.ProjectID
	if n.Owner != nil && *n.Owner != "" && *n.Owner != project {
		return badRequest("Cannot create a node as a project scoped admin with an owner other than your own project.")
	}
	if project == "" {
		n.Owner = nil
	} else {
		n.Owner = &project
	}
	return nil
}

// Ironic's redactions (node_sanitize) for callers below
// baremetal:node:get:filter_threshold.
const (
	redactedLastError          = "** Value Redacted - Requires baremetal:node:get:last_error permission. **"
	redactedDriverInfo         = `{"content": "** Redacted - requires baremetal:node:get:driver_info permission. **"}`
	redactedDriverInternalInfo = `{"content": "** Redacted - Requires baremetal:node:get:driver_internal_info permission. **"}`
)

// redactNode is the node renderers' hook: for a caller below
// baremetal:node:get:filter_threshold (a project reader, say), it replaces
// what Ironic hides from them (last_error, driver_info and
// driver_internal_info, each unless its own rule allows it) in n, a copy
// about to be rendered.
func (s *Server) redactNode(c *fiber.Ctx, n *store.Node) {
	st := restricted(c)
	if st == nil {
		return
	}
	t := nodeTarget(n)
	if s.Policy.Allowed(auth.NodeGetFilterThreshold, st.creds, t) {
		return
	}
	if !s.Policy.Allowed(auth.NodeGetLastError, st.creds, t) {
		msg := redactedLastError
		n.LastError = &msg
	}
	if !s.Policy.Allowed(auth.NodeGetDriverInternalInfo, st.creds, t) {
		n.DriverInternalInfo = json.RawMessage(redactedDriverInternalInfo)
	}
	if !s.Policy.Allowed(auth.NodeGetDriverInfo, st.creds, t) {
		n.DriverInfo = json.RawMessage(redactedDriverInfo)
	}
}

// Who did what.

// requester names the request's caller for workflows (empty under noauth).
func requester(ctx context.Context) contract.Requester {
	creds := auth.FromContext(ctx)
	return contract.Requester{User: creds.User(), Project: creds.Project()}
}

// withRequester adds the caller to a workflow's memo.
func withRequester(ctx context.Context, opts client.StartWorkflowOptions) client.StartWorkflowOptions {
	by := requester(ctx)
	if by.User == "" && by.Project == "" {
		return opts
	}
	memo := map[string]any{}
	if by.User != "" {
		memo[contract.MemoUser] = by.User
	}
	if by.Project != "" {
		memo[contract.MemoProject] = by.Project
	}
	opts.Memo = memo
	return opts
}

// eventBy returns the user and project a history event records (nil when
// unknown).
func eventBy(ctx context.Context) (user, project *string) {
	by := requester(ctx)
	if by.User != "" {
		user = &by.User
	}
	if by.Project != "" {
		project = &by.Project
	}
	return user, project
}

func allocationTarget(a *store.Allocation) auth.Target {
	var t auth.Target
	if a.Owner != nil {
		t.Owner = *a.Owner
	}
	return t
}

// authorizeAllocation is loadAllocation's hook, Ironic's
// check_allocation_policy_and_retrieve: an allocation the caller may not
// see (baremetal:allocation:get, against its owner) is not found; then the
// route's rule.
func (s *Server) authorizeAllocation(c *fiber.Ctx, a *store.Allocation, ident string) error {
	st := restricted(c)
	if st == nil {
		return nil
	}
	return s.authorizeSeen(st, allocationTarget(a), auth.AllocationGet, accessAllocation, allocationNotFound(ident))
}

// authorizeNodeAllocation checks the route's rule against the owner of a
// node's allocation (DELETE /v1/nodes/{ident}/allocation).
func (s *Server) authorizeNodeAllocation(c *fiber.Ctx, a *store.Allocation) error {
	st := restricted(c)
	if st == nil || st.access.kind != accessNodeAllocation {
		return nil
	}
	if !s.Policy.Allowed(st.access.rule, st.creds, allocationTarget(a)) {
		return forbidden(st.access.rule)
	}
	return nil
}

// allocationScope applies Ironic's rules to an allocation a caller creates:
// a project-scoped caller's allocation belongs to its project (another
// owner needs baremetal:allocation:create_restricted), and without
// create_restricted only the project's nodes (owned or leased) may be
// candidates. It returns that project ("" = any node).
func (s *Server) allocationScope(c *fiber.Ctx, a *store.Allocation) (string, error) {
	st := restricted(c)
	if st == nil {
		return "", nil
	}
	project := st.creds.ProjectID
	if !st.creds.SystemScoped() {
		switch {
		case a.Owner == nil || *a.Owner == "":
			if project != "" {
				a.Owner = &project
			}
		case !st.createRestricted && *a.Owner != project:
			return "", newError(fiber.StatusForbidden, "Cannot create allocation with an owner Project ID value %s "+
				"not matching the requestor Project ID %s. Policy %s is required for this capability.",
				*a.Owner, project, auth.AllocationCreateRestricted)
		}
	}
	if st.createRestricted {
		return "", nil
	}
	return project, nil
}
