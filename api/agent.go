package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.temporal.io/api/serviceerror"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/inventory"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// AgentStore is what the ramdisk agent's endpoints need of the store;
// *store.Store satisfies it.
type AgentStore interface {
	PortByAddress(ctx context.Context, mac string) (store.Port, error)
	AgentSession(ctx context.Context, nodeUUID string) (store.AgentSession, error)
	IssueAgentToken(ctx context.Context, nodeUUID, tokenHash string) (issued bool, err error)
	RecordAgentResults(ctx context.Context, nodeUUID, agentVersion string, results []wire.CommandResult) error
}

// defaultAgentHeartbeat is the idle heartbeat period given to agents. The
// agent pulls commands with its heartbeats, so this is also the delay
// between "agent-ready" and the first command.
const defaultAgentHeartbeat = 5 * time.Second

// hashAgentToken is what the store keeps of a token: its hex sha256.
func hashAgentToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newAgentToken returns a fresh random token (256 bits, URL-safe base64).
func newAgentToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func unauthorizedAgent() *apiError {
	return newError(fiber.StatusUnauthorized, "Invalid or missing agent token received.")
}

func (s *Server) agentHeartbeat() time.Duration {
	if s.AgentHeartbeatInterval <= 0 {
		return defaultAgentHeartbeat
	}
	return s.AgentHeartbeatInterval
}

// lookup answers GET /v1/lookup?addresses=MAC[,MAC]: Ironic's agent lookup.
// It finds the node by a port's MAC and answers only while that node expects
// an agent and has an agent session; the token is issued on the first lookup
// only (later ones answer without it).
func (s *Server) lookup(c *fiber.Ctx) error {
	ctx := c.UserContext()
	raw, _ := query(c, "addresses")
	if strings.TrimSpace(raw) == "" {
		return badRequest("Missing mandatory parameter: addresses")
	}
	var macs []string
	for _, a := range strings.Split(raw, ",") {
		hw, err := net.ParseMAC(strings.TrimSpace(a))
		if err != nil || len(hw) != 6 {
			return badRequest("Invalid MAC address %s.", strings.TrimSpace(a))
		}
		macs = append(macs, hw.String())
	}
	notFound := notFound("Node with addresses %s could not be found or is not expecting an agent.", strings.Join(macs, ","))
	if s.Agents == nil {
		return notFound
	}
	var nodeUUID string
	for _, mac := range macs {
		p, err := s.Agents.PortByAddress(ctx, mac)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("lookup %s: %w", mac, err)
		}
		if nodeUUID != "" && p.NodeUUID != nodeUUID {
			return notFound // addresses of two nodes: refuse to guess
		}
		nodeUUID = p.NodeUUID
	}
	if nodeUUID == "" {
		return notFound
	}
	n, err := s.Store.Node(ctx, nodeUUID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("lookup node %s: %w", nodeUUID, err)
	}
	if !n.ProvisionState.AgentReachable() {
		return notFound
	}
	sess, err := s.Agents.AgentSession(ctx, n.UUID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("lookup agent session of node %s: %w", n.UUID, err)
	}
	resp := wire.LookupResponse{
		Node:   wire.LookupNode{UUID: n.UUID, ProvisionState: string(n.ProvisionState), Properties: n.Properties},
		Config: wire.LookupConfig{HeartbeatInterval: int(s.agentHeartbeat().Seconds())},
	}
	resp.Config.AgentToken, err = s.firstAgentToken(ctx, sess, n.UUID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound // closed meanwhile
	}
	if err != nil {
		return err
	}
	s.log().InfoContext(ctx, "agent looked up its node", "node", n.UUID, "provision_state", n.ProvisionState,
		"token_issued", resp.Config.AgentToken != "")
	return s.sendAgentJSON(c, resp)
}

// firstAgentToken issues the node's agent token when its session has none
// yet: the token when this call issued it, "" when one was issued before
// (by an earlier call or a concurrent one). A session closed meanwhile is
// store.ErrNotFound.
func (s *Server) firstAgentToken(ctx context.Context, sess store.AgentSession, nodeUUID string) (string, error) {
	if sess.TokenHash != "" {
		return "", nil
	}
	token := newAgentToken()
	issued, err := s.Agents.IssueAgentToken(ctx, nodeUUID, hashAgentToken(token))
	if err != nil {
		return "", fmt.Errorf("issue agent token for node %s: %w", nodeUUID, err)
	}
	if !issued {
		return "", nil
	}
	return token, nil
}

// heartbeat answers POST /v1/heartbeat/{node uuid}: it checks the agent
// token (body or X-Ferric-Agent-Token), records the command results, tells a
// workflow waiting for the agent (wait call-back, clean wait, service wait)
// that the agent is ready, and answers with the commands that have no final
// result yet and the node's provision state. A node in maintenance is not
// moved forward: see heartbeatInMaintenance.
func (s *Server) heartbeat(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id := param(c, "node")
	var hb wire.Heartbeat
	if body := c.Body(); len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &hb); err != nil {
			return badRequest("Invalid heartbeat body: %s", err.Error())
		}
	}
	token := hb.AgentToken
	if token == "" {
		token = string(c.Request().Header.Peek(wire.TokenHeader))
	}
	if token == "" || s.Agents == nil {
		return unauthorizedAgent()
	}
	sess, err := s.Agents.AgentSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return unauthorizedAgent() // no session: every token is dead
	}
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", id, err)
	}
	if sess.TokenHash == "" ||
		subtle.ConstantTimeCompare([]byte(hashAgentToken(token)), []byte(sess.TokenHash)) != 1 {
		return unauthorizedAgent()
	}
	for i := range hb.Results {
		r := &hb.Results[i]
		// An inventory is checked against the schema when it arrives: a
		// malformed one is refused, naming its first bad field, and stored
		// nowhere.
		if r.Name == wire.CmdInspect && r.Status == wire.StatusSucceeded {
			if err := inventory.Validate(r.Result); err != nil {
				return badRequest("Invalid inventory from the agent: %s", err.Error())
			}
		}
		// An agent's error text is shown in last_error: it must be text
		// PostgreSQL can store, whatever the machine sent.
		r.Error = strings.ToValidUTF8(strings.ReplaceAll(r.Error, "\x00", ""), "\uFFFD")
		if len(r.Result) > 0 && !json.Valid(r.Result) {
			r.Result = nil
		}
	}
	n, err := s.Store.Node(ctx, sess.NodeUUID)
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", id, err)
	}
	if n.Maintenance {
		return s.heartbeatInMaintenance(ctx, sess.NodeUUID, hb.AgentVersion)
	}
	// Inspection waits for the inspection data (POST
	// /v1/continue_inspection), not for agent-ready, and queues no command:
	// it is answered at once. Only runs started before revision 2
	// (versionInspectCallback in workflows/inspect.go) wait for agent-ready
	// there: the first heartbeats of the wait signal them (a signal waits
	// in the workflow until taken), later ones do not. The signal goes
	// before this heartbeat is recorded, so a failed one leaves the next
	// heartbeat still among the first.
	if n.ProvisionState == node.InspectWait && firstHeartbeatsOfWait(sess, n.ProvisionUpdatedAt, s.agentHeartbeat()) {
		if _, err := s.signalAgentReady(ctx, n.UUID, n.ProvisionState, hb.AgentVersion); err != nil {
			return err
		}
	}
	err = s.Agents.RecordAgentResults(ctx, sess.NodeUUID, hb.AgentVersion, hb.Results)
	if errors.Is(err, store.ErrNotFound) {
		return unauthorizedAgent() // closed meanwhile
	}
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", id, err)
	}
	if n.ProvisionState != node.InspectWait && n.ProvisionState.Wait() && n.ProvisionState.AgentReachable() {
		// Every heartbeat in a wait state signals; the workflow takes the
		// first and leaves the wait state.
		signalled, err := s.signalAgentReady(ctx, n.UUID, n.ProvisionState, hb.AgentVersion)
		if err != nil {
			return err
		}
		if signalled {
			// The woken workflow queues its first command within moments:
			// hand it over in this answer rather than one heartbeat
			// interval later.
			sess = s.awaitAgentCommand(ctx, sess)
		}
	}
	final := map[string]bool{}
	for _, r := range hb.Results {
		if r.Status == wire.StatusSucceeded || r.Status == wire.StatusFailed {
			final[r.ID] = true
		}
	}
	resp := wire.HeartbeatResponse{ProvisionState: string(n.ProvisionState)}
	for _, cmd := range sess.Pending() {
		if !final[cmd.ID] {
			resp.Commands = append(resp.Commands, cmd)
		}
	}
	return s.sendAgentJSON(c, resp)
}

// heartbeatInMaintenance answers the heartbeat of a node in maintenance:
// as Ironic's agent_base.heartbeat does (allow_provisioning_in_maintenance,
// its default, "not taking any action"), the node is not moved forward.
// The heartbeat counts as a sign of life (the agent's command activities
// do not give it up as silent), but the workflow is not signalled, no
// command is handed out and the results are not recorded: a recorded final
// result alone lets a running RunAgentCommand activity advance the
// operation. The answer is a 409 (Ironic's error shape, its
// NodeInMaintenance text) rather than a 2xx because a 2xx acknowledges the
// results to ferric-agent, which would then drop them; on a refusal it
// keeps them and sends them again with its next heartbeats, recorded once
// maintenance is off.
func (s *Server) heartbeatInMaintenance(ctx context.Context, nodeUUID, agentVersion string) error {
	err := s.Agents.RecordAgentResults(ctx, nodeUUID, agentVersion, nil)
	if errors.Is(err, store.ErrNotFound) {
		return unauthorizedAgent() // closed meanwhile
	}
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", nodeUUID, err)
	}
	s.log().InfoContext(ctx, "agent heartbeat from a node in maintenance: not taking any action", "node", nodeUUID)
	return conflict("The heartbeat operation can't be performed on node %s because it's in maintenance mode.", nodeUUID)
}

// signalAgentReady signals agent-ready to the node's workflow; false when
// no workflow runs on the node.
func (s *Server) signalAgentReady(ctx context.Context, nodeUUID string, state node.ProvisionState, agentVersion string) (bool, error) {
	err := s.Workflows.SignalWorkflow(ctx, contract.WorkflowID(nodeUUID), "", contract.SignalAgentReady,
		contract.AgentReady{AgentVersion: agentVersion})
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		s.log().WarnContext(ctx, "agent heartbeat in a wait state, but no workflow runs on the node",
			"node", nodeUUID, "provision_state", state)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("signal agent-ready to node %s: %w", nodeUUID, err)
	}
	return true, nil
}

// firstHeartbeatsOfWait reports whether the heartbeat before this one
// (sess as read before recording this one) came no later than one
// heartbeat interval after the node entered its state at entered: this is
// one of the first heartbeats in that state. The interval absorbs a
// heartbeat recorded while the transition was being written.
func firstHeartbeatsOfWait(sess store.AgentSession, entered *time.Time, interval time.Duration) bool {
	if sess.LastHeartbeatAt == nil || entered == nil {
		return true
	}
	return sess.LastHeartbeatAt.Before(entered.Add(interval))
}

func (s *Server) sendAgentJSON(c *fiber.Ctx, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode agent answer: %w", err)
	}
	c.Status(fiber.StatusOK)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// awaitAgentCommand polls the agent session for up to AgentCommandWait until
// it holds a command, and returns the latest session read.
func (s *Server) awaitAgentCommand(ctx context.Context, sess store.AgentSession) store.AgentSession {
	wait := s.AgentCommandWait
	if wait == 0 {
		wait = 2 * time.Second
	}
	deadline := time.Now().Add(wait)
	for len(sess.Pending()) == 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return sess
		case <-time.After(50 * time.Millisecond):
		}
		cur, err := s.Agents.AgentSession(ctx, sess.NodeUUID)
		if err != nil {
			return sess
		}
		sess = cur
	}
	return sess
}
