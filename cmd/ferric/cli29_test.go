package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// trixieRoot returns the Debian 13 root .ci/trixie-root builds (today's
// baremetal client and ironic-python-agent), from FERRIC_TRIXIE_ROOT. The
// test skips without it, except in CI, which must run it.
func trixieRoot(t *testing.T) (dir, script string) {
	t.Helper()
	dir = os.Getenv("FERRIC_TRIXIE_ROOT")
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FERRIC_TRIXIE_ROOT is not set: .ci/run builds the trixie root (.ci/trixie-root build)")
		}
		t.Skip("no trixie root (FERRIC_TRIXIE_ROOT): .ci/trixie-root build makes one")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", ".ci", "trixie-root"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, script
}

// cli29 runs trixie's baremetal 5.10 client against one endpoint at API
// 1.96 (noauth).
type cli29 struct {
	t           *testing.T
	dir, script string
	endpoint    string
}

// run runs "baremetal --os-baremetal-api-version 1.96 args..." and returns
// its standard output and error and whether it exited 0.
func (c *cli29) run(args ...string) (string, bool) {
	c.t.Helper()
	full := append([]string{"run", c.dir, "env", "OS_AUTH_TYPE=none", "OS_ENDPOINT=" + c.endpoint,
		"baremetal", "--os-baremetal-api-version", "1.96"}, args...)
	out, err := exec.Command(c.script, full...).CombinedOutput()
	return string(out), err == nil
}

// must runs args and fails the test unless the client exits 0.
func (c *cli29) must(args ...string) string {
	c.t.Helper()
	out, ok := c.run(args...)
	if !ok {
		c.t.Fatalf("baremetal %s: %s", strings.Join(args, " "), out)
	}
	return out
}

// json runs args (which ask for -f json) and decodes the answer into v.
func (c *cli29) json(v any, args ...string) {
	c.t.Helper()
	out := c.must(args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("baremetal %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestBaremetal510 drives ferric dev with the baremetal client of Debian
// 13 (python-ironicclient 5.10, API 1.96) through what 1.83-1.96 added and
// the client offers: child nodes, servicing, firmware, runbooks (CRUD and
// cleaning with one) and unhold. Every assertion is what Ironic 29 did
// with the same commands: FERRIC_CLI29_ENDPOINT=http://127.0.0.1:6387 runs
// the test against that server instead (shared/peers/ironic-modern).
// The 5.10 client (and trixie's openstacksdk 4.4) has no virtual media or
// inspection rule commands: those are covered by the Ironic 29 goldens
// (api/golden29_*_test.go).
func TestBaremetal510(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ferric dev and runs the trixie client")
	}
	dir, script := trixieRoot(t)
	endpoint := os.Getenv("FERRIC_CLI29_ENDPOINT")
	if endpoint == "" {
		endpoint = startDev(t, ferricBinary(t))
	}
	c := &cli29{t: t, dir: dir, script: script, endpoint: endpoint}
	const parent, child, cleaned = "cli29-parent", "cli29-child", "cli29-clean"
	const runbook = "CUSTOM_CLI29_HOLD"
	t.Cleanup(func() {
		c.run("node", "undeploy", parent, "--wait", "60")
		for _, n := range []string{child, parent, cleaned} {
			c.run("node", "delete", n)
		}
		c.run("runbook", "delete", runbook)
	})

	// 1.83 child nodes: the parent named by name, stored as its UUID;
	// plain lists hide children.
	var p map[string]any
	c.json(&p, "node", "create", "--driver", "fake-hardware", "--name", parent, "-f", "json")
	// 1.86 and 1.95: the fake hardware type's firmware interface, power
	// off allowed.
	if p["provision_state"] != "enroll" || p["firmware_interface"] != "fake" || p["parent_node"] != nil ||
		p["disable_power_off"] != false {
		t.Errorf("created %v", p)
	}
	var ch map[string]any
	c.json(&ch, "node", "create", "--driver", "fake-hardware", "--name", child, "--parent-node", parent, "-f", "json")
	if ch["parent_node"] != p["uuid"] {
		t.Errorf("child's parent_node = %v, want %v", ch["parent_node"], p["uuid"])
	}
	var children map[string][]string
	c.json(&children, "node", "children", "list", parent, "-f", "json")
	if got := children["Child Nodes"]; len(got) != 1 || got[0] != ch["uuid"] {
		t.Errorf("children = %v, want [%v]", children, ch["uuid"])
	}
	names := func(args ...string) []string {
		var rows []map[string]any
		c.json(&rows, append([]string{"node", "list", "-f", "json", "-c", "Name"}, args...)...)
		var ns []string
		for _, r := range rows {
			if s, _ := r["Name"].(string); strings.HasPrefix(s, "cli29-") {
				ns = append(ns, s)
			}
		}
		slices.Sort(ns)
		return ns
	}
	if got := names(); !slices.Equal(got, []string{parent}) {
		t.Errorf("node list = %v, want only %s", got, parent)
	}
	if got := names("--include-children"); !slices.Equal(got, []string{child, parent}) {
		t.Errorf("node list --include-children = %v", got)
	}

	// 1.87 servicing an active node with the fake vendor interface's step.
	for _, verb := range []string{"manage", "provide", "deploy"} {
		c.must("node", verb, parent, "--wait", "90")
	}
	c.must("node", "service", parent, "--service-steps", `[{"interface": "vendor", "step": "log_passthrough"}]`,
		"--wait", "90")
	var svc map[string]any
	c.json(&svc, "node", "show", parent, "-f", "json", "-c", "provision_state", "-c", "service_step", "-c", "last_error")
	if svc["provision_state"] != "active" || svc["last_error"] != nil {
		t.Errorf("after service: %v", svc)
	}
	if st, _ := svc["service_step"].(map[string]any); len(st) != 0 {
		t.Errorf("service_step after servicing = %v, want {}", svc["service_step"])
	}

	// 1.86 the fake firmware interface has no components.
	var fw []any
	c.json(&fw, "node", "firmware", "list", parent, "-f", "json")
	if len(fw) != 0 {
		t.Errorf("firmware = %v, want []", fw)
	}

	// 1.92 runbooks.
	var rb map[string]any
	c.json(&rb, "runbook", "create", "--name", runbook, "--steps",
		`[{"interface": "power", "step": "hold", "args": {}, "order": 1}]`, "-f", "json")
	if rb["name"] != runbook || rb["public"] != false || rb["owner"] != nil {
		t.Errorf("runbook = %v", rb)
	}
	var rbs []map[string]any
	c.json(&rbs, "runbook", "list", "-f", "json")
	if !slices.ContainsFunc(rbs, func(r map[string]any) bool { return r["Name"] == runbook }) {
		t.Errorf("runbook list = %v", rbs)
	}
	c.must("runbook", "set", runbook, "--extra", "k=v")
	var shown map[string]any
	c.json(&shown, "runbook", "show", runbook, "-f", "json", "-c", "extra")
	if ex, _ := shown["extra"].(map[string]any); ex["k"] != "v" {
		t.Errorf("runbook extra = %v", shown)
	}
	// Cleaning with the runbook (the node has its trait); the fake
	// hardware's cleaning ends in manageable.
	c.must("node", "create", "--driver", "fake-hardware", "--name", cleaned)
	c.must("node", "add", "trait", cleaned, runbook)
	c.must("node", "manage", cleaned, "--wait", "90")
	c.must("node", "clean", cleaned, "--runbook", runbook)
	// The runbook's hold step: ferric holds the node in clean hold until
	// unhold; Ironic 29 with fake-hardware skips the step. Both end in
	// manageable.
	held := false
	for i := 0; i < 90; i++ {
		var st map[string]any
		c.json(&st, "node", "show", cleaned, "-f", "json", "-c", "provision_state")
		if st["provision_state"] == "clean hold" && !held { // once: the state changes a moment later
			held = true
			c.must("node", "unhold", cleaned)
		}
		if st["provision_state"] == "manageable" {
			break
		}
		time.Sleep(time.Second)
	}
	var after map[string]any
	c.json(&after, "node", "show", cleaned, "-f", "json", "-c", "provision_state", "-c", "last_error")
	if after["provision_state"] != "manageable" || after["last_error"] != nil {
		t.Fatalf("after cleaning with the runbook: %v", after)
	}
	if !held && os.Getenv("FERRIC_CLI29_ENDPOINT") == "" {
		t.Error("ferric never held the node in clean hold for the runbook's hold step")
	}
	// 1.85 unhold of a node that holds nothing: Ironic's 400.
	out, ok := c.run("node", "unhold", cleaned)
	if ok || !strings.Contains(out, `The requested action "unhold" can not be performed on node`) ||
		!strings.Contains(out, `while it is in state "manageable". (HTTP 400)`) {
		t.Errorf("unhold on manageable: ok=%v %s", ok, out)
	}
	c.must("runbook", "delete", runbook)
	if out, ok := c.run("runbook", "show", runbook); ok || !strings.Contains(out, "(HTTP 404)") {
		t.Errorf("runbook show after delete: ok=%v %s", ok, out)
	}
}
