package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/inventory"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// agentEnv seeds e with a node in state (instance_info holding a secret)
// and its port.
func agentEnv(e *testEnv, state node.ProvisionState) *testEnv {
	e.t.Helper()
	e.put(store.Node{UUID: sampleUUID, Driver: "fake-hardware", ProvisionState: state,
		Properties: json.RawMessage(`{"cpus":2}`), InstanceInfo: json.RawMessage(`{"image_source":"http://secret"}`)})
	e.putPort(store.Port{UUID: portUUID, Address: "52:54:00:12:34:56", NodeUUID: sampleUUID})
	return e
}

// openSession opens the node's agent session with cmds queued, as the
// workflow that boots the ramdisk does.
func (e *testEnv) openSession(cmds ...wire.Command) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.st.OpenAgentSession(ctx, sampleUUID); err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cmds {
		if err := e.st.EnqueueAgentCommand(ctx, sampleUUID, c); err != nil {
			e.t.Fatal(err)
		}
	}
}

// session reads the node's agent session.
func (e *testEnv) session() store.AgentSession {
	e.t.Helper()
	s, err := e.st.AgentSession(context.Background(), sampleUUID)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

var noVersion = map[string]string{}

func TestLookup(t *testing.T) {
	t.Parallel()
	shared := newEnv(t)
	t.Run("errors", func(t *testing.T) {
		e := agentEnv(shared.reuse(t), node.Available)
		e.openSession()
		runSteps(t, e, []step{
			{name: "no addresses", method: "GET", path: "/v1/lookup", headers: noVersion, wantStatus: 400,
				wantIn: "Missing mandatory parameter: addresses"},
			{name: "bad MAC", method: "GET", path: "/v1/lookup?addresses=52:54:00:12:34:56,nope", headers: noVersion,
				wantStatus: 400, wantIn: "Invalid MAC address nope."},
			{name: "unknown MAC", method: "GET", path: "/v1/lookup?addresses=52:54:00:00:00:01", headers: noVersion,
				wantStatus: 404, wantIn: "could not be found"},
			{name: "node not expecting an agent", method: "GET", path: "/v1/lookup?addresses=52:54:00:12:34:56",
				headers: noVersion, wantStatus: 404, wantIn: "is not expecting an agent"},
		})
	})
	t.Run("deploying without session", func(t *testing.T) {
		e := agentEnv(shared.reuse(t), node.Deploying)
		runSteps(t, e, []step{{name: "no session", method: "GET", path: "/v1/lookup?addresses=52:54:00:12:34:56",
			headers: noVersion, wantStatus: 404}})
	})
	for _, st := range []node.ProvisionState{node.Deploying, node.DeployWait, node.Cleaning, node.CleanWait} {
		t.Run(string(st), func(t *testing.T) {
			e := agentEnv(shared.reuse(t), st)
			e.openSession()
			lookup := func() wire.LookupResponse {
				t.Helper()
				// An unknown second MAC is fine.
				resp, body := e.do(t, "GET", "/v1/lookup?addresses=52:54:00:00:00:09,52:54:00:12:34:56", "", noVersion)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("lookup = %d %s", resp.StatusCode, body)
				}
				var lr wire.LookupResponse
				if err := json.Unmarshal([]byte(body), &lr); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(body, "secret") {
					t.Errorf("lookup reveals instance_info: %s", body)
				}
				return lr
			}
			lr := lookup()
			if lr.Node.UUID != sampleUUID || lr.Node.ProvisionState != string(st) || lr.Config.AgentToken == "" ||
				lr.Config.HeartbeatInterval != 5 || !jsonEqual(t, lr.Node.Properties, `{"cpus":2}`) {
				t.Fatalf("first lookup = %+v", lr)
			}
			sess := e.session()
			if sess.TokenHash != hashAgentToken(lr.Config.AgentToken) || strings.Contains(sess.TokenHash, lr.Config.AgentToken) {
				t.Errorf("stored %q: want the token's sha256 only", sess.TokenHash)
			}
			if again := lookup(); again.Config.AgentToken != "" || again.Node.UUID != sampleUUID {
				t.Errorf("second lookup = %+v, want no token", again)
			}
		})
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	shared := newEnv(t)
	write := wire.Command{ID: "run-write-image", Name: wire.CmdWriteImage, Params: json.RawMessage(`{"url":"http://x"}`)}
	reboot := wire.Command{ID: "run-reboot", Name: wire.CmdReboot}
	setup := func(t *testing.T, st node.ProvisionState, running bool) (*testEnv, string) {
		t.Helper()
		e := agentEnv(shared.reuse(t), st)
		e.openSession(write, reboot)
		if running {
			e.wf.running[contract.WorkflowID(sampleUUID)] = true
		}
		resp, body := e.do(t, "GET", "/v1/lookup?addresses=52:54:00:12:34:56", "", noVersion)
		var lr wire.LookupResponse
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &lr) != nil {
			t.Fatalf("lookup = %d %s", resp.StatusCode, body)
		}
		return e, lr.Config.AgentToken
	}
	hbPath := "/v1/heartbeat/" + sampleUUID
	body := func(token string, rs ...wire.CommandResult) string {
		b, _ := json.Marshal(wire.Heartbeat{AgentToken: token, AgentVersion: "1.2", Results: rs})
		return string(b)
	}
	commands := func(t *testing.T, raw string) []string {
		t.Helper()
		var hr wire.HeartbeatResponse
		if err := json.Unmarshal([]byte(raw), &hr); err != nil {
			t.Fatalf("heartbeat answer %s: %v", raw, err)
		}
		var ids []string
		for _, c := range hr.Commands {
			ids = append(ids, c.ID)
		}
		return ids
	}

	t.Run("tokens", func(t *testing.T) {
		e, token := setup(t, node.Deploying, false)
		runSteps(t, e, []step{
			{name: "no token", method: "POST", path: hbPath, body: body(""), headers: noVersion, wantStatus: 401,
				wantIn: "Invalid or missing agent token received."},
			{name: "wrong token", method: "POST", path: hbPath, body: body("x" + token), headers: noVersion, wantStatus: 401},
			{name: "other node", method: "POST", path: "/v1/heartbeat/" + portUUID, body: body(token), headers: noVersion,
				wantStatus: 401},
			{name: "bad body", method: "POST", path: hbPath, body: "{", headers: noVersion, wantStatus: 400},
			{name: "token in body", method: "POST", path: hbPath, body: body(token), headers: noVersion, wantStatus: 200,
				wantIn: "run-write-image"},
			{name: "token in header", method: "POST", path: hbPath, headers: map[string]string{wire.TokenHeader: token},
				wantStatus: 200, wantIn: "run-reboot"},
		})
	})
	t.Run("results and pending commands", func(t *testing.T) {
		e, token := setup(t, node.Deploying, false)
		resp, raw := e.do(t, "POST", hbPath, body(token,
			wire.CommandResult{ID: write.ID, Status: wire.StatusRunning, BytesWritten: 10}), noVersion)
		if resp.StatusCode != 200 || !slices.Equal(commands(t, raw), []string{write.ID, reboot.ID}) {
			t.Fatalf("heartbeat = %d %s", resp.StatusCode, raw)
		}
		// A final result in this very heartbeat: the command is not handed out again.
		_, raw = e.do(t, "POST", hbPath, body(token,
			wire.CommandResult{ID: write.ID, Status: wire.StatusSucceeded}), noVersion)
		if got := commands(t, raw); !slices.Equal(got, []string{reboot.ID}) {
			t.Fatalf("pending after write_image succeeded = %q", got)
		}
		sess := e.session()
		if c, _ := sess.Command(write.ID); c.Status != wire.StatusSucceeded || sess.AgentVersion != "1.2" {
			t.Errorf("recorded %+v", sess)
		}
		if len(e.wf.signals) != 0 {
			t.Errorf("signalled %q outside a wait state", e.wf.signals)
		}
	})
	for _, st := range []node.ProvisionState{node.DeployWait, node.CleanWait} {
		t.Run("signals agent-ready in "+string(st), func(t *testing.T) {
			e, token := setup(t, st, true)
			if resp, raw := e.do(t, "POST", hbPath, body(token), noVersion); resp.StatusCode != 200 {
				t.Fatalf("heartbeat = %d %s", resp.StatusCode, raw)
			}
			want := []string{contract.WorkflowID(sampleUUID) + " " + contract.SignalAgentReady}
			if !slices.Equal(e.wf.signals, want) {
				t.Errorf("signals %q, want %q", e.wf.signals, want)
			}
		})
	}
	t.Run("a malformed inventory is refused, naming the field", func(t *testing.T) {
		e, token := setup(t, node.Inspecting, false)
		bad := wire.CommandResult{ID: "run-inspect", Name: wire.CmdInspect, Status: wire.StatusSucceeded,
			Result: json.RawMessage(`{"inventory":{"cpu":{"count":"two","architecture":"x86_64"}}}`)}
		runSteps(t, e, []step{{name: "bad inventory", method: "POST", path: hbPath, body: body(token, bad),
			headers: noVersion, wantStatus: 400, wantIn: "inventory.cpu.count"}})
	})
	t.Run("no workflow to signal", func(t *testing.T) {
		e, token := setup(t, node.DeployWait, false)
		if resp, raw := e.do(t, "POST", hbPath, body(token), noVersion); resp.StatusCode != 200 {
			t.Fatalf("heartbeat = %d %s", resp.StatusCode, raw)
		}
	})
	t.Run("token dies with the session", func(t *testing.T) {
		e, token := setup(t, node.Deploying, false)
		if err := e.st.CloseAgentSession(context.Background(), sampleUUID); err != nil {
			t.Fatal(err)
		}
		runSteps(t, e, []step{{name: "replayed after close", method: "POST", path: hbPath, body: body(token),
			headers: noVersion, wantStatus: 401}})
		// A new session does not revive the old token.
		e.openSession()
		runSteps(t, e, []step{{name: "replayed in a new session", method: "POST", path: hbPath, body: body(token),
			headers: noVersion, wantStatus: 401}})
	})
}

// TestInventorySchemaServed: the schema inspections are validated against
// is public, as version discovery is.
func TestInventorySchemaServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, body := e.do(t, "GET", "/schemas/"+inventory.SchemaFile, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, inventory.SchemaID) ||
		resp.Header.Get("Content-Type") != "application/schema+json" {
		t.Fatalf("GET schema: %d %s", resp.StatusCode, body[:min(len(body), 200)])
	}
}
