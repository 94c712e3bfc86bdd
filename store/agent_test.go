package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestAgentSessionLifecycle(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "agent")
	missing := uuid.NewString()

	if _, err := s.AgentSession(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AgentSession before open = %v, want ErrNotFound", err)
	}
	if _, err := s.IssueAgentToken(ctx, n.UUID, "h"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("IssueAgentToken without session = %v, want ErrNotFound", err)
	}
	if err := s.EnqueueAgentCommand(ctx, n.UUID, wire.Command{ID: "c", Name: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("EnqueueAgentCommand without session = %v, want ErrNotFound", err)
	}
	if err := s.OpenAgentSession(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenAgentSession(missing node) = %v, want ErrNotFound", err)
	}
	for range 2 { // idempotent
		if err := s.OpenAgentSession(ctx, n.UUID); err != nil {
			t.Fatalf("OpenAgentSession: %v", err)
		}
	}
	sess, err := s.AgentSession(ctx, n.UUID)
	if err != nil || !sess.BootRamdisk || sess.TokenHash != "" || len(sess.Commands) != 0 || sess.NodeUUID != n.UUID {
		t.Fatalf("fresh session = %+v, %v", sess, err)
	}

	// The token is issued once.
	if issued, err := s.IssueAgentToken(ctx, n.UUID, "hash-1"); err != nil || !issued {
		t.Fatalf("first IssueAgentToken = %v, %v; want issued", issued, err)
	}
	if issued, err := s.IssueAgentToken(ctx, n.UUID, "hash-2"); err != nil || issued {
		t.Fatalf("second IssueAgentToken = %v, %v; want not issued", issued, err)
	}

	// Commands: idempotent by ID, ordered.
	write := wire.Command{ID: "run-write-image", Name: wire.CmdWriteImage, Params: json.RawMessage(`{"url":"http://x"}`)}
	for range 2 {
		if err := s.EnqueueAgentCommand(ctx, n.UUID, write); err != nil {
			t.Fatalf("EnqueueAgentCommand: %v", err)
		}
	}
	if err := s.EnqueueAgentCommand(ctx, n.UUID, wire.Command{ID: "run-reboot", Name: wire.CmdReboot}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueAgentCommand(ctx, n.UUID, wire.Command{Name: wire.CmdReboot}); !errors.Is(err, store.ErrInvalidArgument) {
		t.Fatalf("command without ID = %v, want ErrInvalidArgument", err)
	}
	sess, _ = s.AgentSession(ctx, n.UUID)
	if sess.TokenHash != "hash-1" || sess.TokenIssuedAt == nil || len(sess.Commands) != 2 ||
		sess.Commands[0].ID != write.ID || sess.Commands[1].ID != "run-reboot" ||
		!strings.Contains(string(sess.Commands[0].Params), "http://x") {
		t.Fatalf("session = %+v", sess)
	}
	if p := sess.Pending(); len(p) != 2 {
		t.Fatalf("Pending = %v, want both commands", p)
	}

	// Results: progress, then final; a final result sticks; unknown IDs are ignored.
	record := func(rs ...wire.CommandResult) {
		t.Helper()
		if err := s.RecordAgentResults(ctx, n.UUID, "1.0", rs); err != nil {
			t.Fatalf("RecordAgentResults: %v", err)
		}
	}
	record(wire.CommandResult{ID: write.ID, Status: wire.StatusRunning, BytesWritten: 10, BytesTotal: 100},
		wire.CommandResult{ID: "unknown", Status: wire.StatusFailed})
	sess, _ = s.AgentSession(ctx, n.UUID)
	if c, _ := sess.Command(write.ID); c.Status != wire.StatusRunning || c.BytesWritten != 10 || c.BytesTotal != 100 || c.Final() {
		t.Fatalf("after progress: %+v", c)
	}
	if sess.AgentVersion != "1.0" || sess.LastHeartbeatAt == nil {
		t.Errorf("heartbeat not recorded: %+v", sess)
	}
	record(wire.CommandResult{ID: write.ID, Status: wire.StatusRunning, BytesWritten: 50, BytesTotal: 100},
		wire.CommandResult{ID: write.ID, Status: wire.StatusFailed, Error: "checksum mismatch", BytesWritten: 100, BytesTotal: 100})
	record(wire.CommandResult{ID: write.ID, Status: wire.StatusRunning, BytesWritten: 1})
	sess, _ = s.AgentSession(ctx, n.UUID)
	c, _ := sess.Command(write.ID)
	if c.Status != wire.StatusFailed || c.Error != "checksum mismatch" || c.BytesWritten != 100 || !c.Final() {
		t.Fatalf("after final: %+v", c)
	}
	if p := sess.Pending(); len(p) != 1 || p[0].ID != "run-reboot" {
		t.Fatalf("Pending = %v, want the reboot only", p)
	}
	record(wire.CommandResult{ID: "run-reboot", Status: wire.StatusSucceeded, Result: json.RawMessage(`{"ok":true}`)})
	sess, _ = s.AgentSession(ctx, n.UUID)
	if c, _ := sess.Command("run-reboot"); string(c.Result) != `{"ok":true}` { // as the agent sent it
		t.Errorf("result = %s", c.Result)
	}

	// Reopening starts over: no token, no commands.
	if err := s.OpenAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	sess, _ = s.AgentSession(ctx, n.UUID)
	if sess.TokenHash != "" || len(sess.Commands) != 0 {
		t.Fatalf("reopened session = %+v", sess)
	}

	// Closing kills everything; closing twice is fine.
	for range 2 {
		if err := s.CloseAgentSession(ctx, n.UUID); err != nil {
			t.Fatalf("CloseAgentSession: %v", err)
		}
	}
	if _, err := s.AgentSession(ctx, n.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AgentSession after close = %v", err)
	}
	if err := s.RecordAgentResults(ctx, n.UUID, "1.0", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordAgentResults after close = %v, want ErrNotFound", err)
	}
}

func TestIssueAgentTokenConcurrent(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "")
	if err := s.OpenAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		issued int
	)
	for range 8 {
		wg.Go(func() {
			ok, err := s.IssueAgentToken(ctx, n.UUID, uuid.NewString())
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				issued++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if issued != 1 {
		t.Fatalf("%d lookups got a token, want exactly 1", issued)
	}
}

func TestBootConfigByMAC(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "")
	if _, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:12:34:56", NodeUUID: n.UUID}); err != nil {
		t.Fatal(err)
	}
	check := func(mac string, want bool) {
		t.Helper()
		got, ok, err := s.BootConfigByMAC(ctx, mac)
		if err != nil || ok != want || (ok && got != n.UUID) {
			t.Fatalf("BootConfigByMAC(%s) = %q, %v, %v; want ok=%v", mac, got, ok, err, want)
		}
	}
	check("52:54:00:12:34:56", false) // no session
	if err := s.OpenAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	check("52:54:00:12:34:56", true)
	check("52:54:00:12:34:56", true)
	check("52:54:00:12:34:57", false) // unknown MAC
	check("52:54:00:12:34:56", true)
	if err := s.CloseAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	check("52:54:00:12:34:56", false)
}

func TestSetDeployProgressKeepsVersion(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "")
	step := json.RawMessage(`{"step":"write_image","interface":"deploy","priority":80,"bytes_written":5,"bytes_total":10}`)
	if err := s.SetDeployProgress(ctx, n.UUID, step); err != nil {
		t.Fatal(err)
	}
	got, err := s.Node(ctx, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != n.Version || !strings.Contains(string(got.DeployStep), `"bytes_written": 5`) {
		t.Fatalf("node after progress: version %d (was %d), deploy_step %s", got.Version, n.Version, got.DeployStep)
	}
	// A PATCH that read the node before the tick still applies.
	n.Description = ptr("patched")
	if _, err := s.UpdateNode(ctx, n); err != nil {
		t.Fatalf("UpdateNode with the pre-progress version: %v", err)
	}
	if err := s.SetDeployProgress(ctx, uuid.NewString(), step); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetDeployProgress(missing) = %v", err)
	}
}
