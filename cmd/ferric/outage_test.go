package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/pgcluster"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestDatabaseOutageMidOperation cuts the database away (a crash: pg_ctl
// stop -m immediate) one second into a slow deploy and a slow power off, and
// brings it back 40 s later, longer than any retry budget a workflow step
// used to have. While it is away the API answers 503 in Ironic's shape; once
// it is back both operations finish, and no node is left in a transient
// state or locked.
func TestDatabaseOutageMidOperation(t *testing.T) {
	storetest.URL(t) // skips (locally) or fails (CI) like every database test
	t.Parallel()
	ctx := context.Background()
	s, pg, dir := startStackOnPrivateDB(t)
	port := pg.Port()

	deploy := createNode(t, s, "outage-deploy", map[string]any{"fake_deploy_delay": "5s"})
	s.provision(t, deploy.UUID, nodes.TargetManage, nodes.Manageable)
	s.provision(t, deploy.UUID, nodes.TargetProvide, nodes.Available)
	if _, err := nodes.Update(ctx, s.client, deploy.UUID, nodes.UpdateOpts{nodes.UpdateOperation{
		Op: nodes.AddOp, Path: "/instance_info/image_source", Value: "http://example.com/img.raw"}}).Extract(); err != nil {
		t.Fatal(err)
	}
	power := createNode(t, s, "outage-power", map[string]any{"fake_power_delay": "2s"})
	s.provision(t, power.UUID, nodes.TargetManage, nodes.Manageable)
	s.power(t, power.UUID, nodes.PowerOn, "power on")

	if err := nodes.ChangeProvisionState(ctx, s.client, deploy.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetActive}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := nodes.ChangePowerState(ctx, s.client, power.UUID,
		nodes.PowerStateOpts{Target: nodes.PowerOff}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := pg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("database down")
	down := time.Now()

	resp, err := http.Get(s.endpoint + "/nodes/" + deploy.UUID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "error_message") ||
		!strings.Contains(string(body), "temporarily unavailable") {
		t.Errorf("GET during the outage = %d %s; want 503 in Ironic's shape", resp.StatusCode, body)
	}

	time.Sleep(40*time.Second - time.Since(down))
	pg, err = pgcluster.Start(ctx, pgcluster.Config{Dir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	t.Logf("database back after %s", time.Since(down).Round(time.Second))

	d := s.waitFor(t, deploy.UUID, 2*time.Minute, func(n *nodes.Node) bool {
		return n.ProvisionState == string(nodes.Active) || n.ProvisionState == string(nodes.DeployFail)
	})
	t.Logf("deploy ended %s after the database came back", time.Since(down.Add(40*time.Second)).Round(time.Second))
	if d.ProvisionState != string(nodes.Active) || d.TargetProvisionState != "" || d.LastError != "" {
		t.Errorf("deploy ended %q (target %q, last_error %q); want active", d.ProvisionState,
			d.TargetProvisionState, d.LastError)
	}
	p := s.waitFor(t, power.UUID, 2*time.Minute, func(n *nodes.Node) bool { return n.TargetPowerState == "" })
	if p.PowerState != "power off" || p.LastError != "" {
		t.Errorf("power off ended %q (last_error %q)", p.PowerState, p.LastError)
	}
	// Nothing is locked: the next operations run.
	s.settle(t, deploy.UUID)
	s.settle(t, power.UUID)
	for _, id := range []string{deploy.UUID, power.UUID} {
		if _, err := nodes.Update(ctx, s.client, id, nodes.UpdateOpts{nodes.UpdateOperation{
			Op: nodes.AddOp, Path: "/extra/after_outage", Value: "yes"}}).Extract(); err != nil {
			t.Errorf("PATCH node %s after the outage: %v", id, err)
		}
	}
	s.power(t, power.UUID, nodes.PowerOn, "power on")
}

// startStackOnPrivateDB starts role all (no power sync, no reconciler) on a
// PostgreSQL cluster of the test's own, which the test may stop and start
// (pg.Stop, pgcluster.Start on dir); the cluster stops at the end.
func startStackOnPrivateDB(t *testing.T) (*stack, *pgcluster.Cluster, string) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pg")
	pg, err := pgcluster.Start(ctx, pgcluster.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	st, err := store.Open(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return startStackOn(t, st, "all", func(c *config) { c.syncEvery, c.reconcileEvery = 0, 0 }), pg, dir
}
