package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestTransition(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "n", func(n *store.Node) {
		n.ProvisionState = node.Available
		n.LastError = ptr("old error")
	})

	deploy := store.TransitionRequest{
		UUID: n.UUID, From: []node.ProvisionState{node.Available}, To: node.Deploying, Target: node.Active,
		LastError: ptr(""), InstanceUUID: ptr("inst-1"), InstanceInfo: json.RawMessage(`{"image_source": "http://x"}`),
		PowerState: ptr(node.PowerOff),
	}
	got, err := s.Transition(ctx, deploy)
	if err != nil {
		t.Fatalf("Transition: %v", err)
	}
	if got.ProvisionState != node.Deploying || got.TargetProvisionState != node.Active || got.Version != 2 ||
		got.ProvisionUpdatedAt == nil || got.UpdatedAt == nil || got.LastError != nil ||
		got.InstanceUUID == nil || *got.InstanceUUID != "inst-1" || got.PowerState != node.PowerOff ||
		!strings.Contains(string(got.InstanceInfo), "image_source") || string(got.DeployStep) != "{}" {
		t.Fatalf("after Transition: %+v", got)
	}

	// An activity retried after its first attempt committed: success, no new write.
	again, err := s.Transition(ctx, deploy)
	if err != nil {
		t.Fatalf("replayed Transition: %v", err)
	}
	if again.Version != 2 {
		t.Errorf("replayed Transition wrote again: version %d, want 2", again.Version)
	}

	// Wrong source state.
	_, err = s.Transition(ctx, store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Manageable},
		To: node.Cleaning, Target: node.Available})
	if !errors.Is(err, store.ErrInvalidState) {
		t.Fatalf("Transition from wrong state: %v, want ErrInvalidState", err)
	}
	if !strings.Contains(err.Error(), `"deploying"`) {
		t.Errorf("error %q does not name the current state", err)
	}

	// Same To but another target is not a replay.
	_, err = s.Transition(ctx, store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Available},
		To: node.Deploying, Target: node.Available})
	if !errors.Is(err, store.ErrInvalidState) {
		t.Errorf("Transition with another target: %v, want ErrInvalidState", err)
	}

	// Failure with an error event, one of several source states, target cleared.
	failed, err := s.Transition(ctx, store.TransitionRequest{UUID: n.UUID,
		From: []node.ProvisionState{node.DeployWait, node.Deploying}, To: node.DeployFail,
		LastError: ptr("timeout"), Event: "deploy timed out", Error: true,
		DeployStep: json.RawMessage(`{"step": "write_image"}`)})
	if err != nil {
		t.Fatalf("Transition to deploy failed: %v", err)
	}
	if failed.TargetProvisionState != "" || failed.LastError == nil || *failed.LastError != "timeout" ||
		failed.InstanceUUID == nil || !strings.Contains(string(failed.DeployStep), "write_image") ||
		!strings.Contains(string(failed.InstanceInfo), "image_source") {
		t.Errorf("after failure: %+v", failed)
	}

	// Undeploy clears the instance.
	cleared, err := s.Transition(ctx, store.TransitionRequest{UUID: n.UUID,
		From: []node.ProvisionState{node.DeployFail}, To: node.Available,
		InstanceUUID: ptr(""), InstanceInfo: json.RawMessage(`{}`)})
	if err != nil || cleared.InstanceUUID != nil || string(cleared.InstanceInfo) != "{}" {
		t.Errorf("after undeploy: instance %v info %s, %v", cleared.InstanceUUID, cleared.InstanceInfo, err)
	}

	events, err := s.NodeEvents(ctx, n.UUID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ severity, text string }{
		{"INFO", "available -> deploying"},
		{"ERROR", "deploy timed out"},
		{"INFO", "deploy failed -> available"},
	}
	if len(events) != len(want) {
		t.Fatalf("events = %+v, want %d", events, len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Severity != w.severity || e.Event != w.text || e.EventType != store.EventProvisioning ||
			e.NodeUUID != n.UUID || e.UUID == "" || e.CreatedAt.IsZero() {
			t.Errorf("event %d = %+v, want %s %q", i, e, w.severity, w.text)
		}
	}

	if _, err := s.Transition(ctx, store.TransitionRequest{UUID: uuid.NewString(),
		From: []node.ProvisionState{node.Available}, To: node.Deploying}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Transition of unknown node: %v, want ErrNotFound", err)
	}
}

func TestTransitionDuplicateInstanceUUID(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	mustNode(t, s, "a", func(n *store.Node) { n.InstanceUUID = ptr("inst") })
	b := mustNode(t, s, "b", func(n *store.Node) { n.ProvisionState = node.Available })
	_, err := s.Transition(t.Context(), store.TransitionRequest{UUID: b.UUID,
		From: []node.ProvisionState{node.Available}, To: node.Deploying, InstanceUUID: ptr("inst")})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("Transition with a used instance UUID: %v, want ErrExists", err)
	}
	if got, _ := s.Node(t.Context(), b.UUID); got.ProvisionState != node.Available || got.Version != 1 {
		t.Errorf("node changed by a failed transition: %s v%d", got.ProvisionState, got.Version)
	}
}

func TestTransitionRequestID(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "n", func(n *store.Node) { n.ProvisionState = node.Manageable })
	req := store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Manageable},
		To: node.Cleaning, Target: node.Available, RequestID: "run-1/activity-7"}
	if _, err := s.Transition(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, req); err != nil {
		t.Errorf("retry with the same RequestID: %v, want success", err)
	}
	other := req
	other.RequestID = "run-2/activity-7"
	if _, err := s.Transition(ctx, other); !errors.Is(err, store.ErrInvalidState) {
		t.Errorf("twin with another RequestID: %v, want ErrInvalidState", err)
	}

	// A workflow re-running its steps after a crash replays a transition that
	// a later one superseded: still recognised as its own.
	next := store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Cleaning},
		To: node.CleanWait, Target: node.Available, RequestID: "run-1/activity-8"}
	if _, err := s.Transition(ctx, next); err != nil {
		t.Fatal(err)
	}
	got, err := s.Transition(ctx, req)
	if err != nil || got.ProvisionState != node.CleanWait {
		t.Errorf("replay of a superseded transition: %v (node %q), want success leaving clean wait", err, got.ProvisionState)
	}
	if _, err := s.Transition(ctx, other); !errors.Is(err, store.ErrInvalidState) {
		t.Errorf("stranger after the move: %v, want ErrInvalidState", err)
	}
	if events, _ := s.NodeEvents(ctx, n.UUID); len(events) != 2 {
		t.Errorf("%d history events, want 2 (replays add none)", len(events))
	}
}

// TestTransitionConcurrent races 20 callers moving one node from the same
// state: exactly one wins.
func TestTransitionConcurrent(t *testing.T) {
	t.Parallel()
	for _, withIDs := range []bool{true, false} {
		t.Run(fmt.Sprintf("request ids %v", withIDs), func(t *testing.T) {
			t.Parallel()
			s := storetest.New(t)
			n := mustNode(t, s, "hot", func(n *store.Node) { n.ProvisionState = node.Available })
			const callers = 20
			warmPool(t, s, callers)
			var (
				start sync.WaitGroup
				done  sync.WaitGroup
				errs  = make([]error, callers)
			)
			start.Add(1)
			for i := range callers {
				done.Go(func() {
					start.Wait()
					r := store.TransitionRequest{UUID: n.UUID, From: []node.ProvisionState{node.Available},
						To: node.Deploying, Target: node.Active}
					if withIDs {
						r.RequestID = fmt.Sprintf("caller-%d", i)
					}
					_, errs[i] = s.Transition(t.Context(), r)
				})
			}
			start.Done()
			done.Wait()

			var ok, invalid int
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, store.ErrInvalidState):
					invalid++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			// Without request IDs a twin is indistinguishable from a retry
			// and is told "done"; the write still happens once.
			if withIDs && (ok != 1 || invalid != callers-1) {
				t.Errorf("%d succeeded and %d got ErrInvalidState, want 1 and %d", ok, invalid, callers-1)
			}
			got, err := s.Node(t.Context(), n.UUID)
			if err != nil {
				t.Fatal(err)
			}
			events, err := s.NodeEvents(t.Context(), n.UUID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != 2 || len(events) != 1 {
				t.Errorf("version %d and %d events, want one write: version 2 and 1 event", got.Version, len(events))
			}
		})
	}
}

// warmPool opens n connections and prepares Transition's statement on each,
// so that racing callers really overlap instead of queueing on dials.
func warmPool(t *testing.T, s *store.Store, n int) {
	t.Helper()
	var conns []*pgxpool.Conn
	for range n {
		c, err := s.Pool().Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		// A failing transition of an unknown node prepares the statement.
		_, err := store.NewQueries(c).Transition(t.Context(), store.TransitionRequest{UUID: uuid.NewString()})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("warm up: %v", err)
		}
		c.Release()
	}
}

func TestSetPower(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "p")
	got, err := s.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, Target: ptr(node.PowerOn), Event: "power on requested"})
	if err != nil || got.TargetPowerState != node.PowerOn || got.PowerState != "" || got.Version != 2 {
		t.Fatalf("SetPower target = %+v, %v", got, err)
	}
	got, err = s.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, PowerState: ptr(node.PowerOn), Target: ptr(node.PowerNone),
		LastError: ptr("")})
	if err != nil || got.TargetPowerState != "" || got.PowerState != node.PowerOn || got.LastError != nil || got.Version != 3 {
		t.Fatalf("SetPower state = %+v, %v", got, err)
	}
	got, err = s.SetPower(ctx, store.PowerUpdate{UUID: n.UUID, PowerState: ptr(node.PowerError),
		LastError: ptr("bmc unreachable"), Event: "power failure", Error: true})
	if err != nil || got.PowerState != node.PowerError || *got.LastError != "bmc unreachable" {
		t.Fatalf("SetPower error = %+v, %v", got, err)
	}
	events, err := s.NodeEvents(ctx, n.UUID)
	if err != nil || len(events) != 2 {
		t.Fatalf("events = %+v, %v; want 2", events, err)
	}
	if e := events[1]; e.EventType != store.EventPower || e.Severity != store.SeverityError || e.Event != "power failure" {
		t.Errorf("power event = %+v", e)
	}
	if _, err := s.SetPower(ctx, store.PowerUpdate{UUID: uuid.NewString()}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPower unknown node: %v, want ErrNotFound", err)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "e")
	if events, err := s.NodeEvents(ctx, n.UUID); err != nil || len(events) != 0 {
		t.Fatalf("NodeEvents of a new node = %v, %v; want none", events, err)
	}
	for i := range 3 {
		if err := s.AddEvent(ctx, store.Event{NodeUUID: n.UUID, EventType: "maintenance",
			Event: fmt.Sprintf("e%d", i), User: ptr("admin"), Conductor: "c1"}); err != nil {
			t.Fatal(err)
		}
	}
	events, err := s.NodeEvents(ctx, n.UUID)
	if err != nil || len(events) != 3 {
		t.Fatalf("NodeEvents = %v, %v", events, err)
	}
	for i, e := range events {
		if e.Event != fmt.Sprintf("e%d", i) || e.Severity != "INFO" || *e.User != "admin" || e.Conductor != "c1" {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	if err := s.AddEvent(ctx, store.Event{UUID: events[0].UUID, NodeUUID: n.UUID, EventType: "x"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddEvent duplicate uuid: %v, want ErrExists", err)
	}
	if err := s.AddEvent(ctx, store.Event{NodeUUID: uuid.NewString(), EventType: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddEvent unknown node: %v, want ErrNotFound", err)
	}
	if _, err := s.NodeEvents(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("NodeEvents unknown node: %v, want ErrNotFound", err)
	}
}
