package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIInspectAndClean drives inspection and manual cleaning with the
// real baremetal CLI (python-ironicclient) as an operator would:
// `node inspect --wait` fills the node's properties, `node clean
// --clean-steps ... --wait` runs the steps and shows no error, and an
// unknown step is refused before anything runs, with Ironic's message.
func TestCLIInspectAndClean(t *testing.T) {
	s := startStack(t, "all")
	env := []string{"OS_AUTH_TYPE=none", "OS_ENDPOINT=" + strings.TrimSuffix(s.endpoint, "/v1")}
	cli := func(args ...string) string {
		return mustBaremetal(t, env, append([]string{"--os-baremetal-api-version", "1.81"}, args...)...)
	}
	cli("node", "create", "--driver", "fake-hardware", "--name", "cli-0", "--inspect-interface", "fake")
	cli("node", "manage", "--wait", "60", "cli-0")
	cli("node", "inspect", "--wait", "60", "cli-0")

	var shown struct {
		ProvisionState       string         `json:"provision_state"`
		Properties           map[string]any `json:"properties"`
		InspectionFinishedAt *string        `json:"inspection_finished_at"`
		LastError            *string        `json:"last_error"`
		CleanStep            map[string]any `json:"clean_step"`
	}
	show := func() {
		if err := json.Unmarshal([]byte(cli("node", "show", "-f", "json", "cli-0")), &shown); err != nil {
			t.Fatalf("node show: %v", err)
		}
	}
	show()
	if shown.ProvisionState != "manageable" || shown.InspectionFinishedAt == nil ||
		shown.Properties["cpus"] != float64(8) || shown.Properties["memory_mb"] != float64(16384) ||
		shown.Properties["cpu_arch"] != "x86_64" {
		t.Fatalf("after inspect --wait: %+v", shown)
	}
	ports := cli("port", "list", "--node", "cli-0", "-f", "value", "-c", "Address")
	if len(strings.Fields(ports)) != 1 {
		t.Errorf("ports after inspection: %q, want the PXE NIC's", ports)
	}

	cli("node", "clean", "--wait", "60", "--clean-steps",
		`[{"interface": "deploy", "step": "erase_devices_metadata"}]`, "cli-0")
	show()
	if shown.ProvisionState != "manageable" || (shown.LastError != nil && *shown.LastError != "") || len(shown.CleanStep) != 0 {
		t.Fatalf("after clean --wait: %+v", shown)
	}

	out, err := baremetal(t, env, "--os-baremetal-api-version", "1.81", "node", "clean", "--clean-steps",
		`[{"interface": "deploy", "step": "no_such_step"}]`, "cli-0")
	if err == nil || !strings.Contains(out, "no_such_step") {
		t.Errorf("unknown clean step: err %v, output %q; want a refusal naming the step", err, out)
	}
	show()
	if shown.ProvisionState != "manageable" {
		t.Errorf("a refused clean moved the node to %q", shown.ProvisionState)
	}
}
