package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// TestNodeWritesRespectTheNodeLock: the changes Ironic's conductor makes
// under the node's exclusive lock (update_node for PATCH, the traits, the
// target RAID configuration, destroy_allocation, destroy_node) answer
// NodeLocked while an operation holds the node, and write nothing: the
// node is not deleted under a running operation (a workflow that would
// find it gone, and a new node with its UUID locked by the old workflow).
// The API's own checks still come first (a bad PATCH is 400), and in a
// wait state (inspect wait), where Ironic holds no lock, they go through.
func TestNodeWritesRespectTheNodeLock(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState = node.Available; n.Maintenance = true })
	ctx := context.Background()
	alloc := must(e.st.BackfillAllocation(ctx, store.Allocation{Name: ptrTo("held")}, sampleUUID,
		func(*store.Node, *store.Allocation) error { return nil }, func(error) string { return "" }))(t)
	writes := []struct{ method, path, body string }{
		{"PATCH", "/v1/nodes/" + sampleUUID, `[{"op":"add","path":"/extra/a","value":"b"}]`},
		{"DELETE", "/v1/allocations/" + alloc.UUID, ""},
		{"PUT", "/v1/nodes/" + sampleUUID + "/traits", `{"traits":["CUSTOM_A"]}`},
		{"PUT", "/v1/nodes/" + sampleUUID + "/traits/CUSTOM_B", ""},
		{"DELETE", "/v1/nodes/" + sampleUUID + "/traits", ""},
		{"PUT", "/v1/nodes/" + sampleUUID + "/states/raid", `{}`},
		{"DELETE", "/v1/nodes/" + sampleUUID, ""},
	}
	locked := "Node " + sampleUUID + " is locked by host localhost, please retry after the current operation is completed."
	snapshot := func() string {
		n, err := e.st.Node(ctx, sampleUUID)
		if err != nil {
			t.Fatalf("read the node: %v", err)
		}
		b, _ := json.Marshal(n)
		return string(b)
	}
	for _, hold := range []struct {
		name string
		set  func()
	}{
		// A busy state whose state rules allow updates: only the lock
		// refuses them (PATCH in most other busy states is refused first
		// by "can not be updated while a state transition is in progress").
		{"inspecting", func() { e.moveTo(sampleUUID, node.Inspecting, node.Manageable) }},
		{"a power change", func() {
			e.moveTo(sampleUUID, node.Available, "")
			must(e.st.SetPower(ctx, store.PowerUpdate{UUID: sampleUUID, Target: ptrTo(node.PowerOff)}))(t)
		}},
	} {
		hold.set()
		before := snapshot()
		for _, w := range writes {
			// A node PATCH at 1.38: later versions refuse a PATCH of an
			// inspecting node by its state before the lock is asked.
			version := "latest"
			if w.method == "PATCH" {
				version = "1.38"
			}
			resp, b := e.do(t, w.method, w.path, w.body, map[string]string{hdrVersion: version})
			if resp.StatusCode != http.StatusConflict || !jsonHas(b, locked) {
				t.Errorf("%s: %s %s = %d %s, want 409 %q", hold.name, w.method, w.path, resp.StatusCode, b, locked)
			}
		}
		if after := snapshot(); after != before {
			t.Fatalf("%s: refused writes changed the node:\nbefore %s\nafter  %s", hold.name, before, after)
		}
		// Maintenance is how an operator stops a node: it is not refused
		// (ferric's busy states span an agent's whole step, where Ironic's
		// node waits unlocked).
		e.expect(t, "PUT", "/v1/nodes/"+sampleUUID+"/maintenance", `{"reason":"stop"}`, http.StatusAccepted, "")
		if n := must(e.st.Node(ctx, sampleUUID))(t); !n.Maintenance || n.MaintenanceReason == nil || *n.MaintenanceReason != "stop" {
			t.Errorf("%s: maintenance not set: %v %v", hold.name, n.Maintenance, n.MaintenanceReason)
		}
		// The node shows who holds it, as Ironic shows its conductor.
		e.expect(t, "GET", "/v1/nodes/"+sampleUUID+"?fields=reservation", "", http.StatusOK, `{"reservation":"localhost",`)
		// Ironic's API checks come before the lock.
		e.expect(t, "PATCH", "/v1/nodes/"+sampleUUID, `[{"op":"add","path":"/uuid","value":"x"}]`,
			http.StatusBadRequest, "")
	}
	// In a wait state no lock is held: the writes go through, the delete
	// last (the node is in maintenance, so its state allows it).
	must(e.st.SetPower(ctx, store.PowerUpdate{UUID: sampleUUID, PowerState: ptrTo(node.PowerOff), Target: ptrTo(node.PowerNone)}))(t)
	e.moveTo(sampleUUID, node.InspectWait, node.Manageable)
	e.expect(t, "GET", "/v1/nodes/"+sampleUUID+"?fields=reservation", "", http.StatusOK, `{"reservation":null,`)
	for _, w := range writes {
		status := http.StatusOK
		switch w.method + " " + w.path {
		case "DELETE /v1/allocations/" + alloc.UUID, "PUT /v1/nodes/" + sampleUUID + "/traits", "PUT /v1/nodes/" + sampleUUID + "/traits/CUSTOM_B",
			"DELETE /v1/nodes/" + sampleUUID + "/traits", "PUT /v1/nodes/" + sampleUUID + "/states/raid",
			"DELETE /v1/nodes/" + sampleUUID:
			status = http.StatusNoContent
		}
		e.expect(t, w.method, w.path, w.body, status, "")
	}
	e.expect(t, "GET", "/v1/nodes/"+sampleUUID, "", http.StatusNotFound, "")
}

// jsonHas reports whether the error body b carries msg in its
// error_message (a JSON document in a string).
func jsonHas(b, msg string) bool {
	var body struct {
		ErrorMessage string `json:"error_message"`
	}
	if json.Unmarshal([]byte(b), &body) != nil {
		return false
	}
	var inner struct {
		Faultstring string `json:"faultstring"`
	}
	if json.Unmarshal([]byte(body.ErrorMessage), &inner) != nil {
		return false
	}
	return inner.Faultstring == msg
}

// TestBackfillRespectsTheNodeLock: backfilling an allocation for an active
// node whose power change is under way answers NodeLocked and records the
// allocation failed, as Ironic's backfill_allocation under the lock; once
// the change is over it succeeds.
func TestBackfillRespectsTheNodeLock(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState = node.Active })
	ctx := context.Background()
	must(e.st.SetPower(ctx, store.PowerUpdate{UUID: sampleUUID, Target: ptrTo(node.PowerOff)}))(t)
	locked := "Node " + sampleUUID + " is locked by host localhost, please retry after the current operation is completed."
	e.expect(t, "POST", "/v1/allocations", `{"node":"`+sampleUUID+`","name":"held"}`, http.StatusConflict, locked)
	if n := must(e.st.Node(ctx, sampleUUID))(t); n.InstanceUUID != nil {
		t.Errorf("refused backfill set instance_uuid %s", *n.InstanceUUID)
	}
	e.expect(t, "GET", "/v1/allocations/held", "", http.StatusOK, `"Unexpected exception during allocation: `+locked+`"`)
	must(e.st.SetPower(ctx, store.PowerUpdate{UUID: sampleUUID, PowerState: ptrTo(node.PowerOff), Target: ptrTo(node.PowerNone)}))(t)
	e.expect(t, "POST", "/v1/allocations", `{"node":"`+sampleUUID+`","name":"free"}`, http.StatusCreated, "")
}
