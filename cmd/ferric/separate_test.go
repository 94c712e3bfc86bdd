package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/noauth"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/dynamicconfig"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/store/pgcluster"
	"github.com/ferric-project/ferric/workflows/contract"
)

// temporalBinaries returns the Temporal server (cmd/temporal-server) and
// the upstream schema tool (go.temporal.io/server/cmd/tools/sql) built by
// make (FERRIC_TEMPORAL_BIN, FERRIC_TEMPORAL_SQL_TOOL), or builds them for
// this test.
func temporalBinaries(t *testing.T) (server, sqlTool string) {
	t.Helper()
	build := func(env, name, pkg string) string {
		if b := os.Getenv(env); b != "" {
			return b
		}
		out := filepath.Join(t.TempDir(), name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("build %s: %v", pkg, err)
		}
		return out
	}
	return build("FERRIC_TEMPORAL_BIN", "temporal-server", "../temporal-server"),
		build("FERRIC_TEMPORAL_SQL_TOOL", "temporal-sql-tool", "go.temporal.io/server/cmd/tools/sql")
}

// startProcess runs bin with args as a process of the test's own; its
// output is printed when the test fails, and it is killed when the test
// ends.
func startProcess(t *testing.T, name, bin string, args ...string) *workerProc {
	t.Helper()
	p := &workerProc{exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s (pid %d) output (end):\n%s", name, p.cmd.Process.Pid, e2eTail(p.out.String(), 8000))
			p.mu.Unlock()
		}
	})
	return p
}

// temporalProcess is a Temporal server running as a process of its own on
// PostgreSQL.
type temporalProcess struct {
	proc    *workerProc
	addr    string // frontend gRPC host:port
	client  client.Client
	ns      string
	dataDir string
	// bin and confFile start it again (restart).
	bin, confFile string
}

// startAgain starts the server again on the same configuration (the same
// ports and databases) once its process has gone; it returns once the
// frontend serves the namespace again.
func (tp *temporalProcess) startAgain(t *testing.T) {
	t.Helper()
	tp.proc = startProcess(t, "temporal-server (started again)", tp.bin, "-config-file", tp.confFile)
	tp.waitServing(t, 90*time.Second)
}

// waitServing waits until the frontend lists the namespace's workflows.
func (tp *temporalProcess) waitServing(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := tp.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: tp.ns})
		cancel()
		if err == nil {
			return
		}
		if !tp.proc.alive() || time.Now().After(deadline) {
			t.Fatalf("namespace %s not served on %s: %v", tp.ns, tp.addr, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// setUpTemporalSchema creates Temporal's two databases on the PostgreSQL
// server at 127.0.0.1:port and sets their schema up with the upstream
// temporal-sql-tool, as an operator does: create, setup-schema -v 0.0,
// update-schema from the versioned folders of the pinned server module.
func setUpTemporalSchema(t *testing.T, sqlTool string, port int, database, visibility string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.temporal.io/server").Output()
	if err != nil {
		t.Fatalf("locate go.temporal.io/server: %v", err)
	}
	schemaDir := filepath.Join(strings.TrimSpace(string(out)), "schema", "postgresql", "v12")
	run := func(db string, args ...string) {
		t.Helper()
		cmd := exec.Command(sqlTool, append([]string{"--plugin", "postgres12_pgx", "--ep", "127.0.0.1",
			"--port", strconv.Itoa(port), "--user", pgcluster.Superuser, "--db", db}, args...)...)
		if raw, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("temporal-sql-tool %s on %s: %v\n%s", args[0], db, err, raw)
		}
	}
	for db, dir := range map[string]string{database: "temporal", visibility: "visibility"} {
		run(db, "create-database")
		run(db, "setup-schema", "-v", "0.0")
		run(db, "update-schema", "-d", filepath.Join(schemaDir, dir, "versioned"))
	}
}

// startTemporalProcess sets up the schema of two databases of the
// PostgreSQL server at 127.0.0.1:pgPort, writes a configuration file for
// them and runs the Temporal server on it, then registers namespace ns
// through the frontend. The server is killed when the test ends.
func startTemporalProcess(t *testing.T, serverBin, sqlTool string, pgPort int, shards int, ns string) *temporalProcess {
	t.Helper()
	const database, visibility = "temporal", "temporal_visibility"
	setUpTemporalSchema(t, sqlTool, pgPort, database, visibility)

	dir := t.TempDir()
	// Dynamic config: the tuning ferric dev's embedded server runs with
	// on PostgreSQL.
	var dc strings.Builder
	dcs := devtemporal.PostgresDynamicConfig()
	keys := make([]string, 0, len(dcs))
	for k := range dcs {
		keys = append(keys, k.String())
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := dcs[dynamicconfig.MakeKey(k)]
		if cv, ok := v.([]dynamicconfig.ConstrainedValue); ok && len(cv) == 1 {
			v = cv[0].Value
		}
		fmt.Fprintf(&dc, "%s:\n  - value: %v\n", k, v)
	}
	dcFile := filepath.Join(dir, "dynamicconfig.yaml")
	if err := os.WriteFile(dcFile, []byte(dc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every port is below 32768, where the kernel's ephemeral range (the
	// source ports of outgoing connections, and freeAddr's) does not reach:
	// the server must find them free again when a test starts it anew after
	// killing it. Ringpop's membership ports must be there anyway: they go
	// into a smallint column of the cluster_membership table.
	port := func() int {
		for {
			p := 20000 + mathrand.IntN(12000)
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				l.Close()
				return p
			}
		}
	}
	membershipPort := port
	frontend := port()
	addr := "127.0.0.1:" + strconv.Itoa(frontend)
	store := func(db string) string {
		return fmt.Sprintf(`      sql:
        pluginName: postgres12_pgx
        databaseName: %s
        connectAddr: "127.0.0.1:%d"
        connectProtocol: tcp
        user: %s
        password: ""
        maxConns: 8
        maxIdleConns: 8
        maxConnLifetime: 1h
`, db, pgPort, pgcluster.Superuser)
	}
	service := func(name string, grpc int) string {
		s := fmt.Sprintf("  %s:\n    rpc:\n      grpcPort: %d\n      membershipPort: %d\n      bindOnIP: 127.0.0.1\n",
			name, grpc, membershipPort())
		if name == "frontend" {
			s += fmt.Sprintf("      httpPort: %d\n", port())
		}
		return s
	}
	conf := `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ` + strconv.Itoa(shards) + `
  datastores:
    default:
` + store(database) + `    visibility:
` + store(visibility) + `global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
` + service("frontend", frontend) + service("history", port()) + service("matching", port()) + service("worker", port()) + `clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "` + addr + `"
dcRedirectionPolicy:
  policy: noop
archival:
  history:
    state: disabled
  visibility:
    state: disabled
namespaceDefaults:
  archival:
    history:
      state: disabled
    visibility:
      state: disabled
dynamicConfigClient:
  filepath: "` + dcFile + `"
  pollInterval: 10s
`
	confFile := filepath.Join(dir, "temporal.yaml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "temporal-server", serverBin, "-config-file", confFile)

	// The frontend answers once every service has joined.
	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	deadline := time.Now().Add(90 * time.Second)
	var nc client.NamespaceClient
	for {
		var err error
		nc, err = client.NewNamespaceClient(client.Options{HostPort: addr, Logger: quiet})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: ns,
				WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
			cancel()
			if err == nil {
				break
			}
			nc.Close()
		}
		if !p.alive() || time.Now().After(deadline) {
			t.Fatalf("temporal server on %s did not come up: %v", addr, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	nc.Close()
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: ns, Logger: quiet})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	tp := &temporalProcess{proc: p, addr: addr, client: c, ns: ns, dataDir: dir, bin: serverBin, confFile: confFile}
	// The frontend knows the namespace once its registry has loaded it.
	tp.waitServing(t, time.Until(deadline))
	return tp
}

// ferricProcs are ferric's processes of a separate-processes stack.
type ferricProcs struct {
	apis    []*gophercloud.ServiceClient
	urls    []string // the APIs' /v1 endpoints
	workers []*workerProc
}

// startFerricProcesses migrates the database at dbURL with "ferric migrate",
// then starts apis "ferric api" and workers "ferric worker" processes on
// their own ports against Temporal at temporalAddr, and waits for them to
// be ready.
func startFerricProcesses(t *testing.T, bin, dbURL, temporalAddr, ns string, apis, workers int) *ferricProcs {
	t.Helper()
	if out, err := exec.Command(bin, "migrate", "-database-url", dbURL, "-log-format", "text").CombinedOutput(); err != nil {
		t.Fatalf("ferric migrate: %v\n%s", err, out)
	}
	common := []string{"-database-url", dbURL, "-temporal-address", temporalAddr, "-namespace", ns,
		"-task-queue", "ferric-test", "-fake-drivers", "-log-format", "text", "-log-level", "warn"}
	ready := func(url string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready: %v", url, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	f := &ferricProcs{}
	var probes []string
	for i := range workers {
		health := freeAddr(t)
		w := startProcess(t, fmt.Sprintf("ferric worker %d", i+1), bin,
			append([]string{"worker", "-health-address", health}, common...)...)
		f.workers = append(f.workers, w)
		probes = append(probes, "http://"+health+"/readyz")
	}
	for i := range apis {
		addr := freeAddr(t)
		startProcess(t, fmt.Sprintf("ferric api %d", i+1), bin, append([]string{"api", "-api-address", addr}, common...)...)
		endpoint := "http://" + addr + "/v1"
		probes = append(probes, "http://"+addr+"/readyz")
		c, err := noauth.NewBareMetalNoAuth(noauth.EndpointOpts{IronicEndpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		c.Microversion = "1.78"
		f.apis = append(f.apis, c)
		f.urls = append(f.urls, endpoint)
	}
	for _, p := range probes {
		ready(p)
	}
	return f
}

// parallel runs fn(i) for i in [0, n) on workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// waitAll waits until every node in uuids is in state with no target,
// listing them through api; it fails on a node that ends elsewhere.
func waitAll(t *testing.T, api *gophercloud.ServiceClient, uuids []string, state string, timeout time.Duration) {
	t.Helper()
	want := make(map[string]bool, len(uuids))
	for _, u := range uuids {
		want[u] = true
	}
	deadline := time.Now().Add(timeout)
	for {
		pages, err := nodes.List(api, nodes.ListOpts{Fields: []string{"uuid", "provision_state",
			"target_provision_state", "last_error"}, Limit: 1000}).AllPages(context.Background())
		if err != nil {
			t.Fatalf("list nodes: %v", err)
		}
		all, err := nodes.ExtractNodes(pages)
		if err != nil {
			t.Fatal(err)
		}
		done, counts := 0, map[string]int{}
		for _, n := range all {
			if !want[n.UUID] {
				continue
			}
			counts[n.ProvisionState]++
			if n.ProvisionState == state && n.TargetProvisionState == "" {
				done++
			}
			if strings.HasSuffix(n.ProvisionState, "failed") || n.ProvisionState == "error" {
				t.Fatalf("node %s is %q: %s", n.UUID, n.ProvisionState, n.LastError)
			}
		}
		if done == len(uuids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d nodes are %s: %v", timeout, done, len(uuids), state, counts)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// startSeparateStack starts the production shape for bin: a private
// PostgreSQL server, a Temporal server process on it (one history shard,
// namespace ferric), and two "ferric api" and two "ferric worker"
// processes; all stop when the test ends.
func startSeparateStack(t *testing.T, bin string) (*temporalProcess, *ferricProcs) {
	t.Helper()
	serverBin, sqlTool := temporalBinaries(t)
	pg, err := pgcluster.Start(context.Background(), pgcluster.Config{Dir: filepath.Join(t.TempDir(), "pg")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	started := time.Now()
	tp := startTemporalProcess(t, serverBin, sqlTool, pg.Port(), 1, "ferric")
	t.Logf("temporal server (pid %d) on %s ready in %s", tp.proc.cmd.Process.Pid, tp.addr, time.Since(started).Round(time.Millisecond))
	f := startFerricProcesses(t, bin, pg.URL(), tp.addr, tp.ns, 2, 2)
	t.Logf("two ferric api and two ferric worker processes ready in %s", time.Since(started).Round(time.Millisecond))
	return tp, f
}

// TestSeparateProcesses runs ferric as production does: a Temporal server
// as a process of its own (cmd/temporal-server, schema set up by the
// upstream temporal-sql-tool) on two databases of a PostgreSQL server, and
// ferric's database on the same server, migrated by "ferric migrate"; two
// "ferric api" and two "ferric worker" processes on their own ports. It
// takes 200 fake nodes through manage, provide and deploy, each request
// going to one API or the other in turn, and kills one worker with SIGKILL
// while the deploys run (the fake deploy takes three seconds).
//
// Every node must end active, each deploy having run exactly once. The
// evidence, per node:
//   - Temporal's visibility lists exactly one run of the deploy workflow on
//     node/<uuid>, and it completed;
//   - that run's history records the core deploy step (the DeployImage
//     local activity) exactly once, and every node's run records the same
//     number of RunDeployStep results: a step that a killed worker was
//     running was run again by the other worker on replay, and its result
//     was recorded once, never twice;
//   - the node's history (GET /v1/nodes/{id}/history, from both APIs, which
//     must agree) records exactly one move to deploying and one to active.
//
// Some deploy runs must show a workflow task that timed out (the killed
// worker held it), or the kill proved nothing. Last, both APIs must serve
// the same nodes.
func TestSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server, a Temporal server and four ferric processes")
	}
	bin := ferricBinary(t)
	ctx := context.Background()
	tp, f := startSeparateStack(t, bin)

	const count = 200
	api := func(i int) *gophercloud.ServiceClient { return f.apis[i%len(f.apis)] }
	uuids := createDelayedNodes(t, f, "sep", count, "3s")
	phases := 0
	phase := func(target nodes.TargetProvisionState, want string, during func(i int)) {
		t.Helper()
		began := time.Now()
		phases++
		parallel(count, 8, func(i int) {
			// Node i's request goes to the API its previous one did not.
			err := nodes.ChangeProvisionState(ctx, api(i+phases), uuids[i],
				nodes.ProvisionStateOpts{Target: target}).ExtractErr()
			if err != nil {
				t.Errorf("%s node %d: %v", target, i, err)
			}
			if during != nil {
				during(i)
			}
		})
		if t.Failed() {
			t.FailNow()
		}
		waitAll(t, f.apis[0], uuids, want, 2*time.Minute)
		t.Logf("%d nodes %s in %s", count, want, time.Since(began).Round(time.Millisecond))
	}
	phase(nodes.TargetManage, "manageable", nil)
	phase(nodes.TargetProvide, "available", nil)
	var killOnce sync.Once
	phase(nodes.TargetActive, "active", func(i int) {
		if i < count/2 {
			return
		}
		// Half the deploys are under way, the other half to come.
		killOnce.Do(func() {
			w := f.workers[0]
			kill(t, w)
			t.Logf("worker 1 (pid %d) killed with SIGKILL after %d deploy requests", w.cmd.Process.Pid, i+1)
		})
	})

	checkDeployedOnce(t, tp, uuids)
	checkNodeHistories(t, f, uuids)
	checkAPIsAgree(t, f)
}

// createDelayedNodes creates count fake-hardware nodes named
// <prefix>-<i>, whose deploy step takes deployDelay and which have no
// automated cleaning, through the APIs of f in turn, and returns their
// UUIDs.
func createDelayedNodes(t *testing.T, f *ferricProcs, prefix string, count int, deployDelay string) []string {
	t.Helper()
	uuids := make([]string, count)
	clean := false
	parallel(count, 8, func(i int) {
		n, err := nodes.Create(context.Background(), f.apis[i%len(f.apis)], nodes.CreateOpts{
			Name: fmt.Sprintf("%s-%03d", prefix, i), Driver: "fake-hardware",
			DriverInfo: map[string]any{"fake_deploy_delay": deployDelay}, AutomatedClean: &clean}).Extract()
		if err != nil {
			t.Errorf("create node %d: %v", i, err)
			return
		}
		uuids[i] = n.UUID
	})
	if t.Failed() {
		t.FailNow()
	}
	return uuids
}

// checkDeployedOnce checks Temporal's record: one completed deploy run per
// node, the core step recorded once in each, the same number of step
// results in each; and that the kill (of a worker, or of the server)
// interrupted some of them: a workflow task timed out, or the kill proved
// nothing.
func checkDeployedOnce(t *testing.T, tp *temporalProcess, uuids []string) {
	t.Helper()
	ctx := context.Background()
	type run struct {
		id, runID string
		status    enumspb.WorkflowExecutionStatus
	}
	var deploys []run
	// Visibility is written as runs close: wait until it lists them all.
	deadline := time.Now().Add(30 * time.Second)
	for {
		deploys = deploys[:0]
		var token []byte
		for {
			resp, err := tp.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: tp.ns,
				Query: fmt.Sprintf("WorkflowType = %q", contract.DeployName), PageSize: 1000, NextPageToken: token})
			if err != nil {
				t.Fatalf("list deploy runs: %v", err)
			}
			for _, e := range resp.GetExecutions() {
				deploys = append(deploys, run{e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), e.GetStatus()})
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		closed := 0
		for _, d := range deploys {
			if d.status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				closed++
			}
		}
		if closed >= len(uuids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	byNode := map[string][]run{}
	for _, d := range deploys {
		byNode[d.id] = append(byNode[d.id], d)
	}
	var (
		interrupted int
		stepCounts  = map[int]int{} // RunDeployStep results per run -> runs
		mu          sync.Mutex
	)
	parallel(len(uuids), 8, func(i int) {
		id := "node/" + uuids[i]
		rs := byNode[id]
		if len(rs) != 1 || rs[0].status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			t.Errorf("%s: deploy runs %+v, want exactly one, completed", id, rs)
			return
		}
		types := map[string]int{}
		timedOut := 0
		it := tp.client.GetWorkflowHistory(ctx, id, rs[0].runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Errorf("history of %s: %v", id, err)
				return
			}
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				timedOut++
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
				// A killed worker times its tasks out; a task the other
				// worker fails on replay or with a panic is a bug, not
				// proof of the kill.
				a := ev.GetWorkflowTaskFailedEventAttributes()
				switch a.GetCause() {
				case enumspb.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
					enumspb.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE:
					t.Errorf("%s: workflow task failed (%v): %s", id, a.GetCause(), a.GetFailure().GetMessage())
				}
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				m := ev.GetMarkerRecordedEventAttributes()
				if m.GetMarkerName() != "LocalActivity" {
					continue
				}
				var data struct{ ActivityType string }
				if err := converter.GetDefaultDataConverter().FromPayloads(m.GetDetails()["data"], &data); err != nil {
					t.Errorf("%s: local activity marker: %v", id, err)
					return
				}
				types[data.ActivityType]++
			}
		}
		if types["DeployImage"] != 1 {
			t.Errorf("%s: the deploy run recorded the core deploy step %d times, want 1 (local activities: %v)",
				id, types["DeployImage"], types)
		}
		mu.Lock()
		defer mu.Unlock()
		stepCounts[types["RunDeployStep"]]++
		if timedOut > 0 {
			interrupted++
		}
	})
	if len(stepCounts) != 1 {
		t.Errorf("deploy runs record different numbers of step results (count -> runs): %v", stepCounts)
	}
	t.Logf("%d deploy runs, one per node, each completed with the core step once; step results per run -> runs: %v; "+
		"%d runs had a workflow task time out (interrupted, then taken up again)",
		len(deploys), stepCounts, interrupted)
	if interrupted == 0 {
		t.Errorf("no deploy run shows a workflow task timed out: the kill proved nothing")
	}
}

// historyOf returns the events of a node's history from the API at url.
func historyOf(url, uuid string) ([]string, error) {
	req, err := http.NewRequest(http.MethodGet, url+"/nodes/"+uuid+"/history", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-OpenStack-Ironic-API-Version", "1.78")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", req.URL, resp.StatusCode)
	}
	var body struct {
		History []struct {
			UUID  string `json:"uuid"`
			Event string `json:"event"`
		} `json:"history"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range body.History {
		out = append(out, e.UUID+" "+e.Event)
	}
	return out, nil
}

// checkNodeHistories checks each node's history, read from both APIs: the
// same events, with one move to deploying and one to active.
func checkNodeHistories(t *testing.T, f *ferricProcs, uuids []string) {
	t.Helper()
	parallel(len(uuids), 8, func(i int) {
		var got [][]string
		for _, url := range f.urls {
			h, err := historyOf(url, uuids[i])
			if err != nil {
				t.Errorf("history of %s: %v", uuids[i], err)
				return
			}
			got = append(got, h)
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Errorf("node %s: the APIs serve different histories:\n%v\n%v", uuids[i], got[0], got[1])
		}
		deploying, active := 0, 0
		for _, e := range got[0] {
			switch {
			case strings.HasSuffix(e, "-> deploying"):
				deploying++
			case strings.HasSuffix(e, "-> active"):
				active++
			}
		}
		if deploying != 1 || active != 1 {
			t.Errorf("node %s: history has %d moves to deploying and %d to active, want 1 and 1: %v",
				uuids[i], deploying, active, got[0])
		}
	})
}

// checkAPIsAgree checks that both APIs list the same nodes, field for
// field (but the links, which name the API's own address).
func checkAPIsAgree(t *testing.T, f *ferricProcs) {
	t.Helper()
	var lists [][]nodes.Node
	for _, api := range f.apis {
		pages, err := nodes.ListDetail(api, nodes.ListOpts{Limit: 1000, SortKey: "uuid"}).AllPages(context.Background())
		if err != nil {
			t.Fatalf("list nodes: %v", err)
		}
		all, err := nodes.ExtractNodes(pages)
		if err != nil {
			t.Fatal(err)
		}
		for i := range all {
			all[i].Links, all[i].Ports, all[i].PortGroups, all[i].Volume, all[i].States = nil, nil, nil, nil, nil
		}
		lists = append(lists, all)
	}
	if len(lists[0]) != len(lists[1]) {
		t.Fatalf("the APIs list %d and %d nodes", len(lists[0]), len(lists[1]))
	}
	for i := range lists[0] {
		if !reflect.DeepEqual(lists[0][i], lists[1][i]) {
			t.Errorf("the APIs serve node %s differently:\n%+v\n%+v", lists[0][i].UUID, lists[0][i], lists[1][i])
		}
	}
	t.Logf("both APIs list the same %d nodes", len(lists[0]))
}
