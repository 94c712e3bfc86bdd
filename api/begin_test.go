package api

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestBeginWaitsForFirstStateChange: a provisioning request answers once the
// workflow's first state change is visible, and maps a workflow that could
// not begin (the node changed since the API read it) to Ironic's 400.
func TestBeginWaitsForFirstStateChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.BeginWait = 2 * time.Second
	seedNode(func(n *store.Node) { n.ProvisionState = node.Manageable })(e)
	u := "/v1/nodes/" + sampleUUID + "/states/provision"

	// A "worker" that moves the node 50 ms after the start.
	e.wf.result = func(string, any) (any, error) { return nil, nil }
	moved := make(chan error, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, err := e.st.Transition(context.Background(), store.TransitionRequest{UUID: sampleUUID,
			From: []node.ProvisionState{node.Manageable}, To: node.Cleaning, Target: node.Available})
		moved <- err
	}()
	start := time.Now()
	runSteps(t, e, []step{{"provide", "PUT", u, `{"target":"provide"}`, nil, 202, ""}})
	if el := time.Since(start); el < 40*time.Millisecond || el > time.Second {
		t.Errorf("202 after %s; want it once the state changed (~50 ms)", el)
	}
	if err := <-moved; err != nil {
		t.Fatal(err)
	}

	// A workflow that finds the node elsewhere fails to begin: 400.
	e2 := newEnv(t)
	e2.srv.BeginWait = 10 * time.Millisecond
	seedNode(func(n *store.Node) { n.ProvisionState = node.Manageable })(e2)
	e2.wf.result = func(string, any) (any, error) {
		return nil, temporal.NewNonRetryableApplicationError(
			`The requested action "provide" can not be performed on node "x" while it is in state "active".`,
			contract.ErrTypeInvalidState, nil)
	}
	resp, body := e2.do(t, "PUT", u, `{"target":"provide"}`, map[string]string{"X-OpenStack-Ironic-API-Version": "latest"})
	if resp.StatusCode != 400 || !strings.Contains(body, "can not be performed") {
		t.Errorf("stale begin: %d %s; want 400 with the workflow's reason", resp.StatusCode, body)
	}
}

// TestBeginRequestEnded: a request that ends (its client gone) while the
// API waits for the workflow to begin records no "Waiting for a conductor"
// event: nothing says that no worker took the operation.
func TestBeginRequestEnded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.BeginWait = 10 * time.Millisecond
	seedNode(func(n *store.Node) { n.ProvisionState = node.Manageable })(e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.wf.result = func(string, any) (any, error) {
		cancel()
		return nil, context.Canceled
	}
	n, err := e.st.Node(ctx, sampleUUID)
	if err != nil {
		t.Fatal(err)
	}
	in := contract.ProvisionInput{NodeUUID: n.UUID, Verb: node.VerbProvide, From: node.Manageable}
	if err := e.srv.begin(ctx, &n, contract.ProvideName, in); !errors.Is(err, context.Canceled) {
		t.Errorf("begin = %v, want the request's end", err)
	}
	events, err := e.st.NodeEvents(context.Background(), sampleUUID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if strings.Contains(ev.Event, "Waiting for a conductor") {
			t.Errorf("event %q recorded for a request that ended", ev.Event)
		}
	}
}
