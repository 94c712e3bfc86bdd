package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// svcNodeUUID is the node of the svc_* captures: a fake-hardware node,
// deployed (active), named svc-node.
const svcNodeUUID = "5c0e51a5-0a1e-4b7e-9a5e-5e7c1ce5e001"

// seedSvcNode seeds the svc_* captures' node (changed by mut).
func seedSvcNode(mut func(*store.Node)) func(*testEnv) {
	return seedNode(func(n *store.Node) {
		n.UUID, n.Name = svcNodeUUID, strp("svc-node")
		n.ProvisionState, n.PowerState = node.Active, node.PowerOn
		n.ServiceStep = json.RawMessage(`{}`)
		if mut != nil {
			mut(n)
		}
	})
}

// wantServiceSteps checks that service-node was started with an operation
// record holding steps.
func wantServiceSteps(steps string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		t.Helper()
		wantVerb(svcNodeUUID, contract.ServiceName, node.VerbService)(t, e)
		in, _ := e.wf.last().input.(contract.ProvisionInput)
		op, err := e.st.Operation(context.Background(), in.OperationID)
		if err != nil || !jsonEqual(t, op.ServiceSteps, steps) {
			t.Errorf("operation %s service steps %s (%v), want %s", in.OperationID, op.ServiceSteps, err, steps)
		}
	}
}

// TestGolden29Servicing replays Ironic 29's answers about servicing (1.87),
// the unhold verb (1.85) and runbooks (1.92), with the version gates one
// below.
func TestGolden29Servicing(t *testing.T) {
	t.Parallel()
	runGolden29(t, []goldenCase{
		{file: "svc_service_1_86.txt", seed: seedSvcNode(nil), check: noStart},
		{file: "svc_service_no_steps.txt", seed: seedSvcNode(nil), check: noStart},
		{file: "svc_service_steps_type.txt", seed: seedSvcNode(nil), check: noStart},
		{file: "svc_steps_wrong_verb.txt", seed: seedSvcNode(nil), check: noStart},
		{file: "svc_service_ok.txt", seed: seedSvcNode(nil),
			check: wantServiceSteps(`[{"interface":"vendor","step":"log_passthrough","args":{}}]`)},
		{file: "svc_unhold_1_84.txt", seed: seedSvcNode(nil), check: noStart},
		{file: "svc_unhold_active.txt", seed: seedSvcNode(nil), check: noStart},
		{file: "svc_abort_active.txt", seed: seedSvcNode(nil), check: noStart},
		{file: "svc_fields_1_86.txt", seed: seedSvcNode(nil)},
		{file: "svc_fields_1_87.txt", seed: seedSvcNode(nil)},
	})
}

// TestGolden29ServiceSchema: Ironic 29 follows a steps schema failure with
// the schema and the instance (jsonschema's text); ferric answers the same
// status with the message's first line.
func TestGolden29ServiceSchema(t *testing.T) {
	t.Parallel()
	shared := newEnv(t)
	for _, file := range []string{"svc_service_bad_iface.txt", "svc_service_bad_key.txt"} {
		t.Run(file, func(t *testing.T) {
			c := loadCapture(t, ironic29Prefix+file)
			e := shared.reuse(t)
			seedSvcNode(nil)(e)
			resp, body := e.do(t, c.method, c.path, c.reqBody, c.reqHeaders)
			want := strings.SplitN(faultString(t, c.body), "\n", 2)[0]
			if resp.StatusCode != c.status || faultString(t, body) != want {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, faultString(t, body), c.status, want)
			}
			noStart(t, e)
		})
	}
}

// svcRunbookUUID is the runbook of the svc_* captures.
const svcRunbookUUID = "7d1f3a52-5c8e-4f0b-9a61-3e2b1c0d5e92"

func seedSvcRunbook(edit func(*store.Runbook)) func(*testEnv) {
	return func(e *testEnv) {
		r := store.Runbook{UUID: svcRunbookUUID, Name: "CUSTOM_SVC_RB", Extra: json.RawMessage(`{"k":"v"}`),
			Steps:     json.RawMessage(`[{"interface":"vendor","step":"log_passthrough","args":{"z":1,"a":2},"order":1}]`),
			CreatedAt: ts("2026-12-03T19:11:59.510162Z")}
		if edit != nil {
			edit(&r)
		}
		must(e.st.CreateRunbook(context.Background(), r))(e.t)
	}
}

// TestGolden29Runbooks replays Ironic 29's runbook exchanges (1.92, and
// 1.91 refused) and the runbook parameter of the service verb.
func TestGolden29Runbooks(t *testing.T) {
	t.Parallel()
	both := func(mut func(*store.Node)) func(*testEnv) {
		return func(e *testEnv) { seedSvcNode(mut)(e); seedSvcRunbook(nil)(e) }
	}
	traited := func(n *store.Node) { n.Traits = []string{"CUSTOM_SVC_RB"} }
	manageable := func(n *store.Node) { traited(n); n.ProvisionState = node.Manageable }
	runGolden29(t, []goldenCase{
		{file: "svc_runbooks_1_91.txt"},
		{file: "svc_runbook_create_1_91.txt"},
		{file: "svc_runbook_create.txt", now: []string{"created_at"}},
		{file: "svc_runbook_get.txt", seed: seedSvcRunbook(nil)},
		{file: "svc_runbook_get_name.txt", seed: seedSvcRunbook(nil)},
		{file: "svc_runbook_get_404.txt"},
		{file: "svc_runbook_list.txt", seed: seedSvcRunbook(nil)},
		{file: "svc_runbook_list_detail.txt", seed: seedSvcRunbook(nil)},
		{file: "svc_runbook_dup.txt", seed: seedSvcRunbook(nil)},
		{file: "svc_runbook_bad_name.txt"},
		{file: "svc_runbook_no_steps.txt"},
		{file: "svc_runbook_no_order.txt"},
		{file: "svc_runbook_patch.txt", seed: seedSvcRunbook(nil), now: []string{"updated_at"}},
		{file: "svc_runbook_patch_bad.txt", seed: seedSvcRunbook(nil)},
		{file: "svc_service_runbook_no_trait.txt", seed: both(nil), check: noStart},
		{file: "svc_service_runbook_1_91.txt", seed: both(traited), check: noStart},
		{file: "svc_service_runbook_404.txt", seed: both(traited), check: noStart},
		{file: "svc_service_runbook_both.txt", seed: both(traited), check: noStart},
		// Ironic 29 takes the runbook's disable_ramdisk (false, not None)
		// and then refuses it for anything but manual cleaning.
		{file: "svc_service_runbook.txt", seed: both(traited), check: noStart},
		{file: "svc_rebuild_runbook.txt", seed: both(traited), check: noStart},
		{file: "svc_clean_runbook_both.txt", seed: both(manageable), check: noStart},
		{file: "svc_clean_runbook.txt", seed: both(manageable),
			check: wantVerb(svcNodeUUID, contract.CleanName, node.VerbClean)},
		// 1.85: a clean step named hold is the conductor's.
		{file: "svc_clean_hold.txt", seed: seedSvcNode(func(n *store.Node) { n.ProvisionState = node.Manageable }),
			check: wantVerb(svcNodeUUID, contract.CleanName, node.VerbClean)},
	})
}

// TestRunbookNotJSON: Ironic 29 answers a body that is not JSON with a
// 500 (svc_runbook_not_json.txt); ferric answers 400, a client mistake.
func TestRunbookNotJSON(t *testing.T) {
	t.Parallel()
	c := loadCapture(t, ironic29Prefix+"svc_runbook_not_json.txt")
	if c.status != 500 {
		t.Fatalf("capture status %d", c.status)
	}
	e := newEnv(t)
	resp, body := e.do(t, c.method, c.path, c.reqBody, c.reqHeaders)
	if resp.StatusCode != 400 {
		t.Errorf("status %d: %s", resp.StatusCode, body)
	}
}
