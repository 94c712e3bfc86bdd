package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/conductors"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// startGroupWorker runs "ferric worker -conductor-groups groups" as a
// separate process (its Temporal identity is "<pid>@<host>@").
func startGroupWorker(t *testing.T, bin string, s *stack, dbURL, groups string) *workerProc {
	t.Helper()
	return startProcess(t, fmt.Sprintf("worker (groups %q)", groups), bin,
		workerArgs(s, dbURL, "-conductor-groups", groups)...)
}

// identity is the Temporal identity of a worker process.
func (w *workerProc) identityPrefix() string { return fmt.Sprintf("%d@", w.cmd.Process.Pid) }

// ranOn checks that the node's last operation ran on queue and that every
// workflow and activity task of it was taken by worker w.
func (s *stack) ranOn(t *testing.T, nodeUUID, queue string, w *workerProc) {
	t.Helper()
	ctx := context.Background()
	c := s.temporal.GetDefaultClient()
	wfID := "node/" + nodeUUID
	desc, err := c.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatalf("describe %s: %v", wfID, err)
	}
	if got := desc.GetExecutionConfig().GetTaskQueue().GetName(); got != queue {
		t.Errorf("%s ran on task queue %q, want %q", wfID, got, queue)
	}
	it := c.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	tasks := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("read history of %s: %v", wfID, err)
		}
		var id string
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			id = ev.GetWorkflowTaskStartedEventAttributes().GetIdentity()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			id = ev.GetActivityTaskStartedEventAttributes().GetIdentity()
		default:
			continue
		}
		tasks++
		if !strings.HasPrefix(id, w.identityPrefix()) {
			t.Errorf("%s: event %d (%v) taken by %q, want the worker %s…", wfID, ev.GetEventId(), ev.GetEventType(),
				id, w.identityPrefix())
		}
	}
	if tasks == 0 {
		t.Errorf("%s: no task in its history", wfID)
	}
	// The node's conductor names that worker, and so does the node list's
	// conductor filter.
	n, err := nodes.Get(ctx, s.client, nodeUUID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(n.Conductor, w.identityPrefix()) {
		t.Errorf("node %s: conductor %q, want the worker %s…", nodeUUID, n.Conductor, w.identityPrefix())
	}
	var listed struct {
		Nodes []struct {
			UUID string `json:"uuid"`
		} `json:"nodes"`
	}
	if _, err := s.client.Get(ctx, s.client.ServiceURL("nodes")+"?conductor="+url.QueryEscape(n.Conductor),
		&listed, nil); err != nil {
		t.Fatal(err)
	}
	if len(listed.Nodes) == 0 || !slices.ContainsFunc(listed.Nodes, func(l struct {
		UUID string `json:"uuid"`
	}) bool {
		return l.UUID == nodeUUID
	}) {
		t.Errorf("GET /v1/nodes?conductor=%s does not list node %s", n.Conductor, nodeUUID)
	}
}

// TestConductorGroups: each conductor group is its own task queue. Two
// worker processes serve groups a and b; a node of each group is managed by
// its group's worker; a node of group c, which no worker serves, waits (its
// manage accepted, nothing moves, the queue has no poller, its group cannot
// change) until a worker of group c starts, and then proceeds. GET
// /v1/conductors lists the live workers with their groups.
func TestConductorGroups(t *testing.T) {
	bin := ferricBinary(t)
	s := startStack(t, "api")
	dbURL := storeURL(t, s.st)
	ctx := context.Background()

	wa := startGroupWorker(t, bin, s, dbURL, "a")
	wb := startGroupWorker(t, bin, s, dbURL, "B") // lower-cased as the API stores groups

	create := func(name, group string, info map[string]any) *nodes.Node {
		t.Helper()
		n, err := nodes.Create(ctx, s.client, nodes.CreateOpts{Name: name, Driver: "fake-hardware",
			ConductorGroup: group, DriverInfo: info}).Extract()
		if err != nil {
			t.Fatalf("create node %s: %v", name, err)
		}
		return n
	}
	na := create("in-a", "a", map[string]any{"fake_deploy_delay": "2s"})
	nb := create("in-b", "b", nil)
	nc := create("in-c", "c", nil)

	s.provision(t, na.UUID, nodes.TargetManage, nodes.Manageable)
	s.ranOn(t, na.UUID, "ferric-test-a", wa)
	s.provision(t, nb.UUID, nodes.TargetManage, nodes.Manageable)
	s.ranOn(t, nb.UUID, "ferric-test-b", wb)

	// A group change while an operation runs is refused (409: in a busy
	// state Ironic's "can not be updated while a state transition is in
	// progress", as any PATCH then).
	if err := nodes.ChangeProvisionState(ctx, s.client, na.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetProvide}).ExtractErr(); err != nil {
		t.Fatalf("provide: %v", err)
	}
	s.waitFor(t, na.UUID, 10*time.Second, func(n *nodes.Node) bool { return n.ProvisionState == "cleaning" })
	patchGroup := func(id, group string) error {
		_, err := nodes.Update(ctx, s.client, id, nodes.UpdateOpts{nodes.UpdateOperation{
			Op: nodes.ReplaceOp, Path: "/conductor_group", Value: group}}).Extract()
		return err
	}
	if err := patchGroup(na.UUID, "b"); statusOf(err) != http.StatusConflict {
		t.Errorf("group change during cleaning: %v, want 409", err)
	}
	s.waitFor(t, na.UUID, 30*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == "available" && n.TargetProvisionState == ""
	})
	s.settle(t, na.UUID)
	s.ranOn(t, na.UUID, "ferric-test-a", wa)

	// Live conductors: one per worker, with its group.
	list := conductorList(t, s)
	if len(list) != 2 || list[wa.identityPrefix()] != "a" || list[wb.identityPrefix()] != "b" {
		t.Errorf("conductors %v, want worker %s in a and %s in b", list, wa.identityPrefix(), wb.identityPrefix())
	}

	// Each group's power sync passes run on its own queue, for its nodes.
	for _, g := range []string{"a", "b"} {
		id := contract.PowerSyncScheduleFor(g)
		deadline := time.Now().Add(30 * time.Second)
		for {
			desc, err := s.temporal.GetDefaultClient().ScheduleClient().GetHandle(ctx, id).Describe(ctx)
			if err == nil {
				act, _ := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
				var in contract.PowerSyncInput
				if act != nil && len(act.Args) == 1 {
					if p, ok := act.Args[0].(*commonpb.Payload); ok {
						_ = converter.GetDefaultDataConverter().FromPayload(p, &in)
					}
				}
				if act == nil || act.TaskQueue != "ferric-test-"+g || len(act.Args) != 1 ||
					in != (contract.PowerSyncInput{Grouped: true, Group: g}) {
					t.Errorf("schedule %s starts %+v (input %+v), want a pass of group %s on ferric-test-%s", id,
						desc.Schedule.Action, in, g, g)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no power sync schedule %s for group %s: %v", id, g, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Group c has no worker: the manage is accepted and waits.
	if err := nodes.ChangeProvisionState(ctx, s.client, nc.UUID,
		nodes.ProvisionStateOpts{Target: nodes.TargetManage}).ExtractErr(); err != nil {
		t.Fatalf("manage in c: %v", err)
	}
	time.Sleep(time.Second)
	if n, err := nodes.Get(ctx, s.client, nc.UUID).Extract(); err != nil {
		t.Fatal(err)
	} else if n.ProvisionState != "enroll" {
		t.Errorf("node of group c moved to %q without a worker", n.ProvisionState)
	}
	tq, err := s.temporal.GetDefaultClient().DescribeTaskQueue(ctx, "ferric-test-c", enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		t.Fatal(err)
	}
	if len(tq.GetPollers()) != 0 {
		t.Errorf("task queue of group c has pollers %v", tq.GetPollers())
	}
	// The node's history says why nothing moves.
	events, err := s.st.NodeEvents(ctx, nc.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e store.Event) bool {
		return e.EventType == "conductor" && strings.Contains(e.Event, `no worker of conductor group "c"`) &&
			strings.Contains(e.Event, "ferric-test-c")
	}) {
		t.Errorf("no waiting-for-a-conductor event in the history of the node of group c: %+v", events)
	}
	desc, err := s.temporal.GetDefaultClient().DescribeWorkflowExecution(ctx, "node/"+nc.UUID, "")
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("manage of the node in c is %v, want running (waiting for a worker)", st)
	}
	if err := patchGroup(nc.UUID, "a"); statusOf(err) != http.StatusConflict || !strings.Contains(err.Error(), "is locked by") {
		t.Errorf("group change while the manage waits for a worker: %v, want 409 NodeLocked", err)
	}

	wc := startGroupWorker(t, bin, s, dbURL, "c")
	s.waitFor(t, nc.UUID, 30*time.Second, func(n *nodes.Node) bool {
		return n.ProvisionState == "manageable" && n.TargetProvisionState == ""
	})
	s.settle(t, nc.UUID)
	s.ranOn(t, nc.UUID, "ferric-test-c", wc)

	// Once idle, the node may move to another group.
	if err := patchGroup(nc.UUID, "b"); err != nil {
		t.Errorf("group change of an idle node: %v", err)
	}
	s.provision(t, nc.UUID, nodes.TargetProvide, nodes.Available)
	s.ranOn(t, nc.UUID, "ferric-test-b", wb)
}

// conductorList maps the identity prefix ("<pid>@") of every live
// conductor to its group, through GET /v1/conductors and GET
// /v1/conductors/{hostname}.
func conductorList(t *testing.T, s *stack) map[string]string {
	t.Helper()
	ctx := context.Background()
	pages, err := conductors.List(s.client, conductors.ListOpts{Detail: true}).AllPages(ctx)
	if err != nil {
		t.Fatalf("list conductors: %v", err)
	}
	all, err := conductors.ExtractConductors(pages)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range all {
		if !c.Alive || !slices.Contains(c.Drivers, "fake-hardware") {
			t.Errorf("conductor %+v: not alive or without fake-hardware", c)
		}
		got, err := conductors.Get(ctx, s.client, c.Hostname).Extract()
		if err != nil || got.Hostname != c.Hostname {
			t.Errorf("get conductor %s: %+v, %v", c.Hostname, got, err)
		}
		pid, _, _ := strings.Cut(c.Hostname, "@")
		out[pid+"@"] = c.ConductorGroup
	}
	return out
}
