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

// TestBaremetalCLINetworkAndVolume drives port groups, ports in a port
// group, VIFs and volume connectors and targets with the `baremetal` CLI.
func TestBaremetalCLINetworkAndVolume(t *testing.T) {
	s := startStack(t, "all")
	// --node takes the node's UUID (Ironic refuses a name there too).
	node := strings.TrimSpace(baremetalCLI(t, s, false, "node", "create", "--driver", "fake-hardware", "--name", "net-cli",
		"--network-interface", "flat", "--storage-interface", "noop", "-f", "value", "-c", "uuid"))
	out := baremetalCLI(t, s, false, "port", "group", "create", "--node", node, "--name", "bond0",
		"--mode", "802.3ad", "--address", "52:54:00:aa:00:10", "-f", "value", "-c", "uuid")
	pg := strings.TrimSpace(out)
	baremetalCLI(t, s, false, "port", "create", "52:54:00:aa:00:01", "--node", node, "--port-group", pg)
	baremetalCLI(t, s, false, "port", "create", "52:54:00:aa:00:02", "--node", node)
	if out := baremetalCLI(t, s, false, "port", "group", "list", "--node", node, "-f", "value", "-c", "Name"); strings.TrimSpace(out) != "bond0" {
		t.Errorf("port group list = %q", out)
	}
	if out := baremetalCLI(t, s, false, "port", "list", "--port-group", pg, "-f", "value", "-c", "Address"); strings.TrimSpace(out) != "52:54:00:aa:00:01" {
		t.Errorf("ports of the port group = %q", out)
	}
	baremetalCLI(t, s, false, "node", "vif", "attach", "net-cli", "vif-a")
	baremetalCLI(t, s, false, "node", "vif", "attach", "net-cli", "vif-b")
	if out := baremetalCLI(t, s, false, "node", "vif", "list", "net-cli", "-f", "value"); !strings.Contains(out, "vif-a") ||
		!strings.Contains(out, "vif-b") {
		t.Errorf("vif list = %q", out)
	}
	// A port group holding ports cannot go.
	if msg := baremetalCLI(t, s, true, "port", "group", "delete", "bond0"); !strings.Contains(msg, "contains ports") {
		t.Errorf("port group delete with ports: %q", msg)
	}
	baremetalCLI(t, s, false, "node", "vif", "detach", "net-cli", "vif-a")
	baremetalCLI(t, s, false, "node", "vif", "detach", "net-cli", "vif-b")
	if out := baremetalCLI(t, s, false, "node", "vif", "list", "net-cli", "-f", "value"); strings.TrimSpace(out) != "" {
		t.Errorf("vif list after detach = %q", out)
	}

	baremetalCLI(t, s, false, "volume", "connector", "create", "--node", node, "--type", "iqn",
		"--connector-id", "iqn.2010-10.org.openstack:net-cli")
	baremetalCLI(t, s, false, "volume", "target", "create", "--node", node, "--type", "iscsi",
		"--boot-index", "0", "--volume-id", "vol-1")
	if out := baremetalCLI(t, s, false, "volume", "connector", "list", "--node", node, "-f", "value", "-c", "Connector ID"); strings.TrimSpace(out) != "iqn.2010-10.org.openstack:net-cli" {
		t.Errorf("volume connector list = %q", out)
	}
	if out := baremetalCLI(t, s, false, "volume", "target", "list", "--node", node, "-f", "value", "-c", "Volume ID"); strings.TrimSpace(out) != "vol-1" {
		t.Errorf("volume target list = %q", out)
	}
	// A second target with boot index 0 on the same node is refused.
	if msg := baremetalCLI(t, s, true, "volume", "target", "create", "--node", node, "--type", "iscsi",
		"--boot-index", "0", "--volume-id", "vol-2"); !strings.Contains(msg, "already exists") {
		t.Errorf("duplicate boot index: %q", msg)
	}
}
