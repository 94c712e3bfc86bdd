package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// TestAllocationPolicy checks allocations under Ironic's policy for
// project-scoped callers: an allocation belongs to its owner's project
// (allocation:get hides the others as not found; update and delete need a
// member), lists keep the caller's project's, a project's new allocation is
// its own and only its nodes may be candidates (another owner needs
// allocation:create_restricted), and DELETE /v1/nodes/{id}/allocation is
// checked against the allocation's owner.
func TestAllocationPolicy(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, staticPersonas())
	ctx := context.Background()
	mkNode := func(name string, owner *string) store.Node {
		n, err := e.st.CreateNode(ctx, store.Node{Driver: fake.TypeName, Name: &name, Owner: owner,
			Lessee: strp2(staticLessee), ProvisionState: node.Available, PowerState: node.PowerOff,
			ResourceClass: strp2("gold")})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	owned := mkNode("owned", strp2(staticOwner))
	unowned := mkNode("unowned", nil)
	mkAlloc := func(name string, owner *string) store.Allocation {
		a, err := e.st.CreateAllocation(ctx, store.Allocation{Name: &name, Owner: owner, ResourceClass: strp2("gold"),
			Extra: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	mine := mkAlloc("mine", strp2(staticOwner))
	mkAlloc("system", nil)

	type call struct {
		persona, method, path, body string
		want                        int
		contains                    string
	}
	check := func(c call) string {
		t.Helper()
		got, body, _ := e.do(t, c.persona, c.method, c.path, c.body)
		if got != c.want || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s as %s: %d %.300s; want %d with %q", c.method, c.path, c.persona, got, body, c.want, c.contains)
		}
		return body
	}
	names := func(body string) string {
		var l struct {
			Allocations []struct{ Name string } `json:"allocations"`
		}
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("list %q: %v", body, err)
		}
		var out []string
		for _, a := range l.Allocations {
			out = append(out, a.Name)
		}
		return strings.Join(out, ",")
	}

	// Lists: everything for the system, the project's own otherwise.
	for persona, want := range map[string]string{"system-reader": "mine,system", "owner-reader": "mine",
		"lessee-admin": "", "other-admin": ""} {
		if got := names(check(call{persona, "GET", "/v1/allocations", "", 200, ""})); got != want {
			t.Errorf("GET /v1/allocations as %s: %q, want %q", persona, got, want)
		}
	}
	check(call{"owner-member", "GET", "/v1/allocations?owner=" + staticOther, "", 403, "baremetal:allocation:list_all"})
	if got := names(check(call{"owner-member", "GET", "/v1/allocations?owner=" + staticOwner, "", 200, ""})); got != "mine" {
		t.Errorf("owner's own filter: %q", got)
	}

	// One allocation: hidden from other projects, read by the owner's
	// readers, changed by its members.
	check(call{"owner-reader", "GET", "/v1/allocations/mine", "", 200, mine.UUID})
	check(call{"system-reader", "GET", "/v1/allocations/" + mine.UUID, "", 200, mine.UUID})
	check(call{"lessee-admin", "GET", "/v1/allocations/mine", "", 404, "Allocation mine could not be found."})
	check(call{"owner-admin", "GET", "/v1/allocations/system", "", 404, "Allocation system could not be found."})
	patch := `[{"op": "add", "path": "/extra/x", "value": "y"}]`
	check(call{"owner-reader", "PATCH", "/v1/allocations/mine", patch, 403, "baremetal:allocation:update"})
	check(call{"system-reader", "PATCH", "/v1/allocations/mine", patch, 403, "baremetal:allocation:update"})
	check(call{"other-admin", "PATCH", "/v1/allocations/mine", patch, 404, "could not be found"})
	check(call{"owner-member", "PATCH", "/v1/allocations/mine", patch, 200, `"x": "y"`})
	check(call{"owner-reader", "DELETE", "/v1/allocations/mine", "", 403, "baremetal:allocation:delete"})
	check(call{"owner-member", "DELETE", "/v1/allocations/mine", "", 204, ""})

	// Creation: the project's own; another owner needs create_restricted;
	// candidates limited to the project's nodes.
	check(call{"owner-reader", "POST", "/v1/allocations", `{"resource_class": "gold"}`, 403, "baremetal:allocation:create"})
	check(call{"owner-member", "POST", "/v1/allocations", `{"resource_class": "gold"}`, 201,
		`"owner":"` + staticOwner + `"`})
	check(call{"owner-admin", "POST", "/v1/allocations", `{"resource_class": "gold", "owner": "` + staticOther + `"}`,
		403, "Cannot create allocation with an owner Project ID value " + staticOther +
			" not matching the requestor Project ID " + staticOwner +
			". Policy baremetal:allocation:create_restricted is required for this capability."})
	check(call{"system-member", "POST", "/v1/allocations", `{"resource_class": "gold", "owner": "` + staticOther + `"}`,
		201, `"owner":"` + staticOther + `"`})
	check(call{"system-member", "POST", "/v1/allocations", `{"resource_class": "gold"}`, 201, `"owner":null`})
	check(call{"owner-member", "POST", "/v1/allocations",
		`{"resource_class": "gold", "candidate_nodes": ["owned", "unowned"]}`, 400, "Nodes cannot be found: unowned"})
	check(call{"lessee-member", "POST", "/v1/allocations", `{"resource_class": "gold", "candidate_nodes": ["owned"]}`,
		201, owned.UUID})
	check(call{"system-member", "POST", "/v1/allocations", `{"resource_class": "gold", "candidate_nodes": ["unowned"]}`,
		201, unowned.UUID})

	// A node's allocation: whoever sees the node reads it; deleting it is
	// the allocation's owner's (or the system's) business.
	held := mkAlloc("held", strp2(staticOther))
	if _, err := e.st.Pool().Exec(ctx, `UPDATE nodes SET owner = $2 WHERE uuid = $1`, owned.UUID, staticOther); err != nil {
		t.Fatal(err)
	}
	if r, err := e.st.ReserveNode(ctx, held.UUID); err != nil || r.Allocation.NodeUUID == nil {
		t.Fatalf("reserve %s for held: %+v, %v", owned.UUID, r, err)
	}
	check(call{"lessee-reader", "GET", "/v1/nodes/owned/allocation", "", 200, held.UUID})
	check(call{"lessee-admin", "DELETE", "/v1/nodes/owned/allocation", "", 403, "baremetal:allocation:delete"})
	check(call{"owner-admin", "DELETE", "/v1/nodes/owned/allocation", "", 404, "Node owned could not be found."})
	check(call{"other-admin", "DELETE", "/v1/nodes/owned/allocation", "", 204, ""})
}
