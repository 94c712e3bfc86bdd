package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/store/storetest"
)

// pgEnv is a server over the real store, on a schema of its own (skipped
// without FERRIC_TEST_DATABASE_URL, as the store tests are): what reaches
// PostgreSQL is what PostgreSQL accepts or refuses.
func pgEnv(t *testing.T) *testEnv {
	t.Helper()
	st := storetest.New(t)
	wf := newFakeWorkflows()
	srv := &Server{Store: st, Workflows: wf, Drivers: testRegistry(), SyncTimeout: 2 * time.Second,
		BeginWait: time.Millisecond, AgentCommandWait: -1}
	return &testEnv{srv: srv, wf: wf, app: srv.App()}
}

// incompressible returns n characters that PostgreSQL cannot compress (an
// index row of them is n bytes).
func incompressible(n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(strings.ReplaceAll(uuid.NewString(), "-", ""))
	}
	return sb.String()[:n]
}

// mustCreate POSTs body to path and returns the new resource's UUID.
func mustCreate(t *testing.T, e *testEnv, path, body string) string {
	t.Helper()
	resp, out := e.do(t, "POST", path, body, latest)
	if resp.StatusCode != 201 {
		t.Fatalf("POST %s = %d: %s", path, resp.StatusCode, out)
	}
	var doc struct{ UUID string }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.UUID
}

// TestBadInputIsA400 sends what used to reach PostgreSQL unchecked (and come
// back a 500): every answer is a 400 in Ironic's shape, and nothing is
// written.
func TestBadInputIsA400(t *testing.T) {
	e := pgEnv(t)
	ch := mustCreate(t, e, "/v1/chassis", `{"description":"rack 1"}`)
	nodeUUID := mustCreate(t, e, "/v1/nodes", `{"driver":"fake-hardware","name":"n1","chassis_uuid":"`+ch+`"}`)
	port := mustCreate(t, e, "/v1/ports", `{"address":"52:54:00:00:00:01","node_uuid":"`+nodeUUID+`"}`)
	_, nodeBefore := e.do(t, "GET", "/v1/nodes/n1", "", latest)
	_, portBefore := e.do(t, "GET", "/v1/ports/"+port, "", latest)
	_, chassisBefore := e.do(t, "GET", "/v1/chassis/"+ch, "", latest)

	long := incompressible(3000) // ~3 KB: beyond a btree index row
	reason := strings.Repeat("r", 10000)
	n := "/v1/nodes/" + nodeUUID
	nodeCreate := func(members string) string { return `{"driver":"fake-hardware",` + members + `}` }
	patch := func(op, path, value string) string {
		return `[{"op":"` + op + `","path":"` + path + `","value":` + value + `}]`
	}
	const (
		nul       = "NUL (\\u0000) is not allowed"
		utf8Msg   = "Invalid UTF-8"
		surrogate = "Unpaired surrogate"
		numRange  = "Number out of range"
		tooLong   = "is too long"
	)
	runSteps(t, e, []step{
		// Nodes, POST.
		{"node description with NUL", "POST", "/v1/nodes", nodeCreate(`"description":"a\u0000b"`), nil, 400, nul},
		{"node extra key with NUL", "POST", "/v1/nodes", nodeCreate(`"extra":{"k\u0000":1}`), nil, 400, nul},
		{"node driver_info with NUL", "POST", "/v1/nodes", nodeCreate(`"driver_info":{"ipmi_password":"\u0000"}`), nil, 400, nul},
		{"node instance_info with NUL", "POST", "/v1/nodes", nodeCreate(`"instance_info":{"x":["\u0000"]}`), nil, 400, nul},
		{"node network_data with NUL", "POST", "/v1/nodes", nodeCreate(`"network_data":{"links":"\u0000"}`), nil, 400, nul},
		{"node properties beyond numeric", "POST", "/v1/nodes", nodeCreate(`"properties":{"x":1e1000000}`), nil, 400, numRange},
		{"node properties beyond a double", "POST", "/v1/nodes", nodeCreate(`"properties":{"x":-2e308}`), nil, 400, numRange},
		{"node extra not UTF-8", "POST", "/v1/nodes", nodeCreate("\"extra\":{\"x\":\"a\xffb\"}"), nil, 400, utf8Msg},
		{"node owner with a lone surrogate", "POST", "/v1/nodes", nodeCreate(`"owner":"\ud800"`), nil, 400, surrogate},
		{"node owner of 3 KB", "POST", "/v1/nodes", nodeCreate(`"owner":"` + long + `"`), nil, 400, tooLong},
		{"node lessee of 3 KB", "POST", "/v1/nodes", nodeCreate(`"lessee":"` + long + `"`), nil, 400, tooLong},
		{"node shard of 3 KB", "POST", "/v1/nodes", nodeCreate(`"shard":"` + long + `"`), nil, 400, tooLong},
		{"node owner of 256", "POST", "/v1/nodes", nodeCreate(`"owner":"` + strings.Repeat("o", 256) + `"`), nil, 400, tooLong},
		{"node retired_reason of 10,000", "POST", "/v1/nodes", nodeCreate(`"retired":true,"retired_reason":"` + reason + `"`), nil, 400, tooLong},
		{"node boot_interface of 3 KB", "POST", "/v1/nodes", nodeCreate(`"boot_interface":"` + long + `"`), nil, 400, tooLong},
		// Nodes, PATCH.
		{"patch extra with NUL", "PATCH", n, patch("add", "/extra/x", `"\u0000"`), nil, 400, nul},
		{"patch description with NUL", "PATCH", n, patch("replace", "/description", `"\u0000"`), nil, 400, nul},
		{"patch path with NUL", "PATCH", n, `[{"op":"remove","path":"/extra/a\u0000"}]`, nil, 400, nul},
		{"patch properties beyond numeric", "PATCH", n, patch("add", "/properties/x", `1e400`), nil, 400, numRange},
		{"patch owner of 3 KB", "PATCH", n, patch("replace", "/owner", `"`+long+`"`), nil, 400, tooLong},
		{"patch shard of 3 KB", "PATCH", n, patch("replace", "/shard", `"`+long+`"`), nil, 400, tooLong},
		{"patch lessee not UTF-8", "PATCH", n, patch("replace", "/lessee", "\"\xc3\""), nil, 400, utf8Msg},
		{"patch retired_reason of 10,000", "PATCH", n,
			`[{"op":"replace","path":"/retired","value":true},{"op":"replace","path":"/retired_reason","value":"` + reason + `"}]`,
			nil, 400, tooLong},
		// Ports.
		{"port extra with NUL", "POST", "/v1/ports",
			`{"address":"52:54:00:00:00:02","node_uuid":"` + nodeUUID + `","extra":{"a":"\u0000"}}`, nil, 400, nul},
		{"port local_link_connection with NUL", "POST", "/v1/ports",
			`{"address":"52:54:00:00:00:02","node_uuid":"` + nodeUUID + `","local_link_connection":{"port_id":"\u0000","switch_id":"52:54:00:00:00:09"}}`,
			nil, 400, nul},
		{"port patch physical_network with NUL", "PATCH", "/v1/ports/" + port, patch("add", "/physical_network", `"\u0000"`), nil, 400, nul},
		{"port patch extra beyond numeric", "PATCH", "/v1/ports/" + port, patch("add", "/extra/x", `1e999`), nil, 400, numRange},
		// Chassis.
		{"chassis description with NUL", "POST", "/v1/chassis", `{"description":"\u0000"}`, nil, 400, nul},
		{"chassis extra not UTF-8", "POST", "/v1/chassis", "{\"extra\":{\"\xfe\":1}}", nil, 400, utf8Msg},
		{"chassis patch extra with NUL", "PATCH", "/v1/chassis/" + ch, patch("add", "/extra/x", `"\u0000"`), nil, 400, nul},
		// List filters.
		{"nodes by driver NUL", "GET", "/v1/nodes?driver=%00", "", nil, 400, "Query parameter driver contains a NUL character"},
		{"nodes by owner not UTF-8", "GET", "/v1/nodes?owner=%ff", "", nil, 400, "Query parameter owner is not valid UTF-8"},
		{"nodes by lessee NUL", "GET", "/v1/nodes/detail?lessee=%00", "", nil, 400, "NUL"},
		{"nodes by resource_class NUL", "GET", "/v1/nodes?resource_class=a%00", "", nil, 400, "NUL"},
		{"nodes by conductor_group not UTF-8", "GET", "/v1/nodes?conductor_group=%c3", "", nil, 400, "UTF-8"},
		{"nodes by shard NUL", "GET", "/v1/nodes?shard=%00", "", nil, 400, "NUL"},
		{"nodes by project not UTF-8", "GET", "/v1/nodes?project=%ff", "", nil, 400, "UTF-8"},
		{"nodes of a chassis by driver NUL", "GET", "/v1/chassis/" + ch + "/nodes?driver=%00", "", nil, 400, "NUL"},
		{"ports by address NUL", "GET", "/v1/ports?address=%00", "", nil, 400, "Query parameter address contains a NUL character"},
		{"ports by node not UTF-8", "GET", "/v1/ports/detail?node=%ff", "", nil, 400, "UTF-8"},
		{"node ports by address NUL", "GET", n + "/ports?address=%00", "", nil, 400, "NUL"},
		{"chassis sorted by a key not UTF-8", "GET", "/v1/chassis?sort_key=%ff", "", nil, 400, "UTF-8"},
		{"a parameter name with NUL", "GET", "/v1/chassis?a%00=1", "", nil, 400, "NUL"},
		// Traits, maintenance, vendor passthru, provision, power, boot device.
		{"traits with NUL", "PUT", n + "/traits", `{"traits":["CUSTOM_A\u0000"]}`, nil, 400, nul},
		{"maintenance reason with NUL", "PUT", n + "/maintenance", `{"reason":"a\u0000"}`, nil, 400, nul},
		{"maintenance reason of 10,000", "PUT", n + "/maintenance", `{"reason":"` + reason + `"}`, nil, 400, "exceeding 4096 characters"},
		{"vendor passthru with NUL", "POST", n + "/vendor_passthru/third_method_sync", `{"bar":"\u0000"}`, nil, 400, nul},
		{"config drive with NUL", "PUT", n + "/states/provision", `{"target":"active","configdrive":"\u0000"}`, nil, 400, nul},
		{"clean step with NUL", "PUT", n + "/states/provision",
			`{"target":"clean","clean_steps":[{"interface":"deploy","step":"erase\u0000"}]}`, nil, 400, nul},
		{"power timeout beyond a double", "PUT", n + "/states/power", `{"target":"power on","timeout":1e400}`, nil, 400, numRange},
		{"boot device not UTF-8", "PUT", n + "/management/boot_device", "{\"boot_device\":\"pxe\xff\"}", nil, 400, utf8Msg},
	})

	// Nothing was written.
	for _, c := range []struct{ path, before string }{
		{"/v1/nodes/n1", nodeBefore}, {"/v1/ports/" + port, portBefore}, {"/v1/chassis/" + ch, chassisBefore},
	} {
		if _, after := e.do(t, "GET", c.path, "", latest); after != c.before {
			t.Errorf("%s changed:\nbefore %s\nafter  %s", c.path, c.before, after)
		}
	}
	for _, c := range []struct{ path, member string }{{"/v1/nodes", "nodes"}, {"/v1/ports", "ports"}, {"/v1/chassis", "chassis"}} {
		_, body := e.do(t, "GET", c.path, "", latest)
		var doc map[string][]any
		if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc[c.member]) != 1 {
			t.Errorf("%s = %s, want exactly one", c.path, body)
		}
	}
	if len(e.wf.starts) != 0 {
		t.Errorf("workflows started: %+v", e.wf.starts)
	}
}

// TestErrorsDoNotEchoHugeInput: a message quoting what the client sent
// quotes the start of it, not 10 MB (an error body stays under 16 KB: a
// message of at most maxMessage bytes, each escaped twice at worst).
func TestErrorsDoNotEchoHugeInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.BodyLimit = 16 << 20
	e.app = e.srv.App()
	seedNode(nil)(e)
	huge := strings.Repeat("a", 10<<20)
	n := "/v1/nodes/" + sampleUUID
	tests := []struct{ name, method, path, body, wantIn string }{
		{"uuid", "POST", "/v1/nodes", `{"driver":"fake-hardware","uuid":"` + huge + `"}`, "Expected UUID for uuid: aaaa"},
		{"owner", "POST", "/v1/nodes", `{"driver":"fake-hardware","owner":"` + huge + `"}`, "is too long"},
		{"name", "POST", "/v1/nodes", `{"driver":"fake-hardware","name":"` + huge + `"}`, "Cannot create node with invalid name 'aaaa"},
		{"unknown field", "POST", "/v1/nodes", `{"driver":"fake-hardware","` + huge + `":1}`, "Additional properties are not allowed"},
		{"boot device", "PUT", n + "/management/boot_device", `{"boot_device":"` + huge + `"}`, "Invalid boot device aaaa"},
		{"patch path", "PATCH", n, `[{"op":"remove","path":"/extra/` + huge + `"}]`, "Couldn't apply patch"},
		{"power target", "PUT", n + "/states/power", `{"target":"` + huge + `"}`, "The requested action \"aaaa"},
		{"trait", "PUT", n + "/traits", `{"traits":["` + huge + `"]}`, "is not valid under any of the given schemas"},
		{"multi-byte", "PUT", n + "/management/boot_device", `{"boot_device":"` + strings.Repeat("é", 1<<20) + `"}`, "Invalid boot device éé"},
		{"multi-byte repr", "POST", "/v1/nodes", `{"driver":"fake-hardware","shard":"` + strings.Repeat("中", 1<<20) + `"}`, "'中中"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, tt.method, tt.path, tt.body, latest)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d: %.300s", resp.StatusCode, body)
			}
			if len(body) > 16<<10 {
				t.Errorf("error body of %d bytes: %.300s...", len(body), body)
			}
			msg := faultString(t, body)
			if !strings.Contains(msg, tt.wantIn) {
				t.Errorf("message %.300q lacks %q", msg, tt.wantIn)
			}
			if strings.ContainsRune(msg, utf8.RuneError) {
				t.Errorf("message cut inside a character: %.300q", msg)
			}
		})
	}
}
