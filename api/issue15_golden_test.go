package api

import (
	"strings"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// Nodes of the issue 15 captures besides the sample node: one with the
// no-console console interface, one deployed and protected.
const (
	noConsoleUUID = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
	protectedUUID = "5e0d6f8c-2b43-4c6e-9f0e-6a1f2b3c4d5e"
)

func seedNoConsole(e *testEnv) {
	n := sampleNode()
	n.UUID, n.Name = noConsoleUUID, strp("noconsole-node")
	n.Interfaces.Console = "no-console"
	e.put(n)
}

func seedProtected(e *testEnv) {
	n := sampleNode()
	n.UUID, n.Name = protectedUUID, strp("protected-node")
	n.ProvisionState, n.Protected = node.Active, true
	e.put(n)
}

// TestGoldenIssue15 replays the real Ironic's answers to the details of
// issue 15 item 4: unversioned paths served as v1, the traits endpoints
// below 1.37, a trait added with an empty body, a protected node's
// teardown and rebuild, and the console of the fake and no-console
// interfaces.
func TestGoldenIssue15(t *testing.T) {
	t.Parallel()
	three := func(e *testEnv) { seedNode(nil)(e); seedNoConsole(e); seedProtected(e) }
	tests := []goldenCase{
		// (a) Ironic serves a path without a version as v1's.
		{file: "unver_node_states.txt", seed: seedNode(nil)},
		{file: "unver_node_states_nover.txt", seed: seedNode(nil)},
		{file: "unver_nodes_list.txt", seed: three},
		{file: "unver_node_get_404.txt"},
		{file: "unver_driver_props.txt"},
		{file: "unver_ports_detail_none.txt", seed: seedNodeAndPort(nil)},
		{file: "unver_bogus.txt"},
		{file: "unver_node_patch.txt", seed: seedNode(func(n *store.Node) {
			n.CreatedAt, n.UpdatedAt = ts("2026-12-03T12:50:31Z"), nil
		}), now: []string{"updated_at"}, ignore: []string{"reservation"}}, // Ironic shows its lock holder mid-request
		// (c) a single trait is added with no body or an empty object.
		{file: "traits_add_empty_body.txt", seed: seedNode(nil), check: wantTraits("CUSTOM_A")},
		{file: "traits_add_empty_obj.txt", seed: seedNode(nil), check: wantTraits("CUSTOM_B")},
		{file: "traits_add_no_ct.txt", seed: seedNode(nil), check: wantTraits("CUSTOM_C")},
		{file: "traits_after_add.txt", seed: seedNode(func(n *store.Node) {
			n.Traits = []string{"CUSTOM_A", "CUSTOM_B", "CUSTOM_C"}
		})},
		// (d) below 1.37: GET 406 (after the node lookup), PUT 405, DELETE 404.
		{file: "traits_get_1_36.txt", seed: seedNode(nil)},
		{file: "traits_get_1_36_404.txt"},
		{file: "traits_set_1_36.txt", seed: seedNode(nil), check: wantTraits()},
		{file: "traits_add_1_36.txt", seed: seedNode(nil), check: wantTraits()},
		{file: "traits_delete_all_1_36.txt", seed: seedNode(nil)},
		{file: "traits_delete_1_36.txt", seed: seedNode(nil)},
		// (f) an enrolled node's power state is unknown.
		{file: "power_enroll_create.txt", now: []string{"created_at"}},
		{file: "power_enroll_get.txt", seed: seedNode(func(n *store.Node) { n.UpdatedAt = nil })},
		{file: "power_enroll_get_later.txt", seed: seedNode(func(n *store.Node) { n.UpdatedAt = nil })},
		// (e) a protected node is neither torn down nor rebuilt.
		{file: "prov_deleted_protected.txt", seed: seedProtected, check: noStart},
		{file: "prov_rebuild_protected.txt", seed: seedProtected, check: noStart},
	}
	runGoldens(t, tests)
}

// wantTraits checks the sample node's stored traits.
func wantTraits(want ...string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		t.Helper()
		got := e.node(sampleUUID).Traits
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("traits = %v, want %v", got, want)
		}
	}
}

// noStart checks that no workflow was started.
func noStart(t *testing.T, e *testEnv) {
	t.Helper()
	if got := e.wf.last(); got.name != "" {
		t.Errorf("started %q %+v, want none", got.name, got.input)
	}
}

// TestGoldenConsole replays Ironic's answers on the console of the fake and
// no-console interfaces (fake-hardware's default is fake).
func TestGoldenConsole(t *testing.T) {
	t.Parallel()
	enabled := seedNode(func(n *store.Node) { n.ConsoleEnabled = true })
	wantConsole := func(want bool) func(t *testing.T, e *testEnv) {
		return func(t *testing.T, e *testEnv) {
			t.Helper()
			if got := e.node(sampleUUID).ConsoleEnabled; got != want {
				t.Errorf("console_enabled = %v, want %v", got, want)
			}
		}
	}
	tests := []goldenCase{
		{file: "console_get_disabled.txt", seed: seedNode(nil)},
		{file: "console_get_nover.txt", seed: seedNode(nil)},
		{file: "console_get_noconsole.txt", seed: seedNoConsole},
		{file: "console_get_404.txt"},
		{file: "console_get_enabled.txt", seed: enabled},
		{file: "console_get_after_disable.txt", seed: seedNode(nil)},
		{file: "console_states_enabled.txt", seed: enabled},
		{file: "console_enable.txt", seed: seedNode(nil), check: wantConsole(true)},
		{file: "console_enable_again.txt", seed: enabled, check: wantConsole(true)},
		{file: "console_disable.txt", seed: enabled, check: wantConsole(false)},
		{file: "console_put_missing.txt", seed: seedNode(nil), check: wantConsole(false)},
		{file: "console_put_bad.txt", seed: seedNode(nil), check: wantConsole(false)},
		{file: "console_put_extra.txt", seed: seedNode(nil), check: wantConsole(false)},
		{file: "console_enable_noconsole.txt", seed: seedNoConsole},
	}
	runGoldens(t, tests)
}

// TestConsoleBusyNode: a console change waits for no operation; one in
// flight answers NodeLocked and changes nothing.
func TestConsoleBusyNode(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) {
		n.ProvisionState, n.TargetProvisionState = node.Deploying, node.Active
	})
	resp, body := e.do(t, "PUT", "/v1/nodes/"+sampleUUID+"/states/console", `{"enabled": true}`,
		map[string]string{"X-OpenStack-Ironic-API-Version": "latest"})
	if resp.StatusCode != 409 || !strings.Contains(body, "is locked by host") {
		t.Fatalf("status %d body %s, want 409 NodeLocked", resp.StatusCode, body)
	}
	if e.node(sampleUUID).ConsoleEnabled {
		t.Error("console enabled despite the operation in flight")
	}
	resp, body = e.do(t, "PUT", "/v1/nodes/"+sampleUUID+"/states/console", `{"enabled": "yes"}`, nil)
	if resp.StatusCode != 409 {
		t.Fatalf("status %d body %s, want 409", resp.StatusCode, body)
	}
}
