package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// baremetalCLI runs python-ironicclient's `baremetal` against the stack
// (noauth) and returns its standard output; it fails the test when the
// command fails and wantErr is false. The test is skipped locally without
// the CLI (.ci/run installs python3-ironicclient) and fails in CI.
func baremetalCLI(t *testing.T, s *stack, wantErr bool, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("baremetal")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the baremetal CLI (python3-ironicclient) is not installed")
		}
		t.Skip("the baremetal CLI (python3-ironicclient) is not installed")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OS_AUTH_TYPE=none", "OS_ENDPOINT="+strings.TrimSuffix(s.endpoint, "/v1"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if (err != nil) != wantErr {
		t.Fatalf("baremetal %s: %v (want error %v)\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, wantErr,
			out, stderr.String())
	}
	if wantErr {
		return stderr.String()
	}
	return string(out)
}

// TestBaremetalCLI drives allocations and the adopt and rescue verbs with
// the `baremetal` CLI, as an operator would.
func TestBaremetalCLI(t *testing.T) {
	s := startStack(t, "all")
	ids := seedAvailable(t, s, "cli", "gold", 2)
	baremetalCLI(t, s, false, "node", "add", "trait", "cli-1", "CUSTOM_GPU")

	var a map[string]any
	out := baremetalCLI(t, s, false, "allocation", "create", "--resource-class", "gold", "--trait", "CUSTOM_GPU",
		"--name", "job-1", "--wait", "30", "-f", "json")
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("allocation create output %q: %v", out, err)
	}
	if a["state"] != "active" || a["node_uuid"] != ids[1] || a["name"] != "job-1" {
		t.Errorf("allocation create = %v, want active on cli-1 (%s)", a, ids[1])
	}
	if out := baremetalCLI(t, s, false, "allocation", "list", "-f", "value", "-c", "Name", "-c", "State"); strings.TrimSpace(out) != "job-1 active" {
		t.Errorf("allocation list = %q", out)
	}
	baremetalCLI(t, s, false, "allocation", "set", "job-1", "--name", "job-1b", "--extra", "team=a")
	if out := baremetalCLI(t, s, false, "allocation", "show", "job-1b", "-f", "value", "-c", "extra"); !strings.Contains(out, "'team': 'a'") {
		t.Errorf("allocation show extra = %q", out)
	}
	if out := baremetalCLI(t, s, false, "node", "show", "cli-1", "-f", "value", "-c", "allocation_uuid"); strings.TrimSpace(out) != a["uuid"] {
		t.Errorf("node allocation_uuid = %q, want %v", out, a["uuid"])
	}
	// No bronze node: the CLI reports Ironic's last_error.
	if msg := baremetalCLI(t, s, true, "allocation", "create", "--resource-class", "bronze", "--wait", "30"); !strings.Contains(msg,
		"no available nodes match the resource class bronze") {
		t.Errorf("failed allocation: %q", msg)
	}
	baremetalCLI(t, s, false, "allocation", "delete", "job-1b")
	if out := baremetalCLI(t, s, false, "node", "show", "cli-1", "-f", "value", "-c", "instance_uuid"); strings.TrimSpace(out) != "None" {
		t.Errorf("released node instance_uuid = %q", out)
	}

	// Adopt a node, rescue it, unrescue it.
	baremetalCLI(t, s, false, "node", "manage", "cli-0", "--wait", "30")
	baremetalCLI(t, s, false, "node", "adopt", "cli-0", "--wait", "30")
	baremetalCLI(t, s, false, "node", "rescue", "cli-0", "--rescue-password", "s3cret", "--wait", "30")
	out = baremetalCLI(t, s, false, "node", "show", "cli-0", "-f", "json", "-c", "provision_state", "-c", "instance_info")
	if !strings.Contains(out, `"provision_state": "rescue"`) || strings.Contains(out, "s3cret") ||
		!strings.Contains(out, `"rescue_password": "******"`) {
		t.Errorf("rescued node = %s", out)
	}
	baremetalCLI(t, s, false, "node", "unrescue", "cli-0", "--wait", "30")
	if out := baremetalCLI(t, s, false, "node", "show", "cli-0", "-f", "value", "-c", "provision_state"); strings.TrimSpace(out) != "active" {
		t.Errorf("unrescued node is %q", out)
	}
}
