package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
)

// TestTemporalServerRestart kills the Temporal server process with SIGKILL
// in the production shape (separate Temporal process on PostgreSQL, two
// "ferric api" and two "ferric worker" processes) while deploys are under
// way, and starts it again on the same databases after the deploys' work
// has run. Meanwhile the APIs must go on serving reads, answer an operation
// 503 in Ironic's shape without changing its node, and afterwards every
// deploy must finish, each exactly once (one completed run with the core
// deploy step once, one move to deploying and one to active in the node's
// history, the same from both APIs), and a new operation must run.
func TestTemporalServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server, a Temporal server (twice) and four ferric processes")
	}
	bin := ferricBinary(t)
	ctx := context.Background()
	tp, f := startSeparateStack(t, bin)

	// count nodes are deployed across the restart; one more stays
	// manageable for the request made while the server is down.
	const count = 40
	api := func(i int) *gophercloud.ServiceClient { return f.apis[i%len(f.apis)] }
	all := createDelayedNodes(t, f, "restart", count+1, "4s")
	deployed, spare := all[:count], all[count]
	move := func(uuids []string, target nodes.TargetProvisionState, want string) {
		t.Helper()
		parallel(len(uuids), 8, func(i int) {
			if err := nodes.ChangeProvisionState(ctx, api(i), uuids[i],
				nodes.ProvisionStateOpts{Target: target}).ExtractErr(); err != nil {
				t.Errorf("%s node %s: %v", target, uuids[i], err)
			}
		})
		if t.Failed() {
			t.FailNow()
		}
		if want != "" {
			waitAll(t, f.apis[0], uuids, want, 2*time.Minute)
		}
	}
	move(all, nodes.TargetManage, "manageable")
	move(deployed, nodes.TargetProvide, "available")

	// The deploys begin (each request answers once its node is deploying)
	// and the server dies while their four-second deploy step runs.
	move(deployed, nodes.TargetActive, "")
	down := time.Now()
	kill(t, tp.proc)

	// Reads need only the database.
	before, err := nodes.Get(ctx, f.apis[0], spare).Extract()
	if err != nil {
		t.Fatalf("read a node while Temporal is down: %v", err)
	}
	// An operation cannot start: 503, and the node is left as it was.
	reqCtx, cancel := context.WithTimeout(ctx, time.Minute)
	began := time.Now()
	err = nodes.ChangeProvisionState(reqCtx, f.apis[1], spare, nodes.ProvisionStateOpts{Target: nodes.TargetProvide}).ExtractErr()
	cancel()
	if !gophercloud.ResponseCodeIs(err, http.StatusServiceUnavailable) {
		t.Errorf("provide while Temporal is down: %v, want 503", err)
	} else {
		t.Logf("provide while Temporal is down: 503 after %s", time.Since(began).Round(time.Millisecond))
	}
	after, err := nodes.Get(ctx, f.apis[0], spare).Extract()
	switch {
	case err != nil:
		t.Errorf("read the node refused: %v", err)
	case after.ProvisionState != before.ProvisionState || after.TargetProvisionState != "" ||
		after.LastError != before.LastError || after.Reservation != before.Reservation:
		t.Errorf("the refused operation changed its node: before %q/%q/%q, after %q/%q/%q",
			before.ProvisionState, before.TargetProvisionState, before.LastError,
			after.ProvisionState, after.TargetProvisionState, after.LastError)
	}

	// The deploy steps finish while the server is down.
	time.Sleep(time.Until(down.Add(6 * time.Second)))
	started := time.Now()
	tp.startAgain(t)
	t.Logf("temporal server down for %s, serving again %s after its start",
		started.Sub(down).Round(time.Millisecond), time.Since(started).Round(time.Millisecond))

	waitAll(t, f.apis[0], deployed, "active", 3*time.Minute)
	t.Logf("%d deploys active %s after the restart", count, time.Since(started).Round(time.Millisecond))
	checkDeployedOnce(t, tp, deployed)
	checkNodeHistories(t, f, deployed)

	// And a new operation runs.
	move([]string{spare}, nodes.TargetProvide, "available")
	checkAPIsAgree(t, f)
}
