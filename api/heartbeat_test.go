package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// heartbeatEnv seeds a node (mod applied), its port, a running workflow
// and an agent session with cmds queued, looks the node up and returns the
// env and the agent token.
func heartbeatEnv(t *testing.T, mod func(*store.Node), cmds ...wire.Command) (*testEnv, string) {
	t.Helper()
	e := newEnv(t)
	n := store.Node{UUID: sampleUUID, Driver: "fake-hardware"}
	mod(&n)
	e.put(n)
	e.putPort(store.Port{UUID: portUUID, Address: "52:54:00:12:34:56", NodeUUID: sampleUUID})
	e.openSession(cmds...)
	e.wf.running[contract.WorkflowID(sampleUUID)] = true
	resp, body := e.do(t, "GET", "/v1/lookup?addresses=52:54:00:12:34:56", "", noVersion)
	var lr wire.LookupResponse
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &lr) != nil || lr.Config.AgentToken == "" {
		t.Fatalf("lookup = %d %s", resp.StatusCode, body)
	}
	return e, lr.Config.AgentToken
}

// postHeartbeat sends one heartbeat and returns its status and answer.
func postHeartbeat(t *testing.T, e *testEnv, token string, rs ...wire.CommandResult) (int, wire.HeartbeatResponse, string) {
	t.Helper()
	b, _ := json.Marshal(wire.Heartbeat{AgentToken: token, AgentVersion: "1.2", Results: rs})
	resp, raw := e.do(t, "POST", "/v1/heartbeat/"+sampleUUID, string(b), noVersion)
	var hr wire.HeartbeatResponse
	if resp.StatusCode == 200 {
		if err := json.Unmarshal([]byte(raw), &hr); err != nil {
			t.Fatalf("heartbeat answer %s: %v", raw, err)
		}
	}
	return resp.StatusCode, hr, raw
}

// TestHeartbeatInInspectWait: inspection waits for the inspection data,
// not for agent-ready, and queues no command: a heartbeat in inspect wait
// is answered at once (no wait for a command), and only the first
// heartbeats of the wait signal agent-ready (for runs from before
// revision 2, which wait for it). The answer names the provision state.
func TestHeartbeatInInspectWait(t *testing.T) {
	t.Parallel()
	entered := time.Now().Add(-time.Hour)
	e, token := heartbeatEnv(t, func(n *store.Node) {
		n.ProvisionState, n.ProvisionUpdatedAt = node.InspectWait, &entered
	})
	e.srv.AgentCommandWait = 2 * time.Second
	// A signal that fails (Temporal unreachable a moment) fails the
	// heartbeat and is sent again with the next one.
	e.wf.mu.Lock()
	e.wf.signalErr = serviceerror.NewUnavailable("temporal down")
	e.wf.mu.Unlock()
	if code, _, raw := postHeartbeat(t, e, token); code < 500 {
		t.Fatalf("heartbeat whose signal failed = %d %s, want a 5xx", code, raw)
	}
	// One signal, from the first heartbeat of the wait that got through.
	want := []string{contract.WorkflowID(sampleUUID) + " " + contract.SignalAgentReady}
	for i := range 3 {
		start := time.Now()
		code, hr, raw := postHeartbeat(t, e, token)
		if took := time.Since(start); code != 200 || took >= time.Second {
			t.Fatalf("heartbeat %d = %d %s after %s", i+1, code, raw, took)
		}
		if hr.ProvisionState != string(node.InspectWait) || len(hr.Commands) != 0 {
			t.Errorf("heartbeat %d answer %s", i+1, raw)
		}
		e.wf.mu.Lock()
		signals := slices.Clone(e.wf.signals)
		e.wf.mu.Unlock()
		if !slices.Equal(signals, want) {
			t.Errorf("after heartbeat %d: signals %q, want %q", i+1, signals, want)
		}
	}
}

// TestHeartbeatInMaintenance: a heartbeat of a node in maintenance moves
// nothing forward (Ironic takes no action): no agent-ready signal, no
// command, the results not recorded, a 409 so that the agent keeps them;
// it still counts as a sign of life. Once maintenance is off, the next
// heartbeat proceeds.
func TestHeartbeatInMaintenance(t *testing.T) {
	t.Parallel()
	erase := wire.Command{ID: "run-erase", Name: wire.CmdEraseMetadata}
	e, token := heartbeatEnv(t, func(n *store.Node) {
		n.ProvisionState, n.Maintenance = node.CleanWait, true
	}, erase)
	running := wire.CommandResult{ID: erase.ID, Name: erase.Name, Status: wire.StatusRunning}
	code, _, raw := postHeartbeat(t, e, token, running)
	if code != 409 || !json.Valid([]byte(raw)) || !strings.Contains(raw, "maintenance mode") {
		t.Fatalf("heartbeat in maintenance = %d %s", code, raw)
	}
	sess := e.session()
	if c, _ := sess.Command(erase.ID); c.Status != "" || sess.LastHeartbeatAt == nil {
		t.Errorf("in maintenance: command %+v, last heartbeat %v", c, sess.LastHeartbeatAt)
	}
	if len(e.wf.signals) != 0 {
		t.Errorf("signalled %q in maintenance", e.wf.signals)
	}
	if n, err := e.st.Node(t.Context(), sampleUUID); err != nil || n.ProvisionState != node.CleanWait {
		t.Fatalf("node %s %v", n.ProvisionState, err)
	}

	if resp, body := e.do(t, "DELETE", "/v1/nodes/"+sampleUUID+"/maintenance", "", nil); resp.StatusCode != 202 {
		t.Fatalf("maintenance off = %d %s", resp.StatusCode, body)
	}
	code, hr, raw := postHeartbeat(t, e, token, running)
	if code != 200 || len(hr.Commands) != 1 || hr.Commands[0].ID != erase.ID {
		t.Fatalf("heartbeat after maintenance = %d %s", code, raw)
	}
	if c, _ := e.session().Command(erase.ID); c.Status != wire.StatusRunning {
		t.Errorf("after maintenance: command %+v", c)
	}
	if want := []string{contract.WorkflowID(sampleUUID) + " " + contract.SignalAgentReady}; !slices.Equal(e.wf.signals, want) {
		t.Errorf("signals %q, want %q", e.wf.signals, want)
	}
}
