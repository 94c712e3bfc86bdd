package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/noauth"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/v1/nodes"
)

// acceptanceClient is a noauth gophercloud client of endpoint (API 1.78).
func acceptanceClient(t *testing.T, endpoint string) *gophercloud.ServiceClient {
	t.Helper()
	c, err := noauth.NewBareMetalNoAuth(noauth.EndpointOpts{IronicEndpoint: endpoint + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	c.Microversion = "1.78"
	return c
}

// runCLI runs python3-ironicclient's baremetal CLI against a noauth endpoint
// and returns its output. Without the CLI it skips, or fails in CI.
func runCLI(t *testing.T, endpoint string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("baremetal")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the baremetal CLI is missing (apt-get install python3-ironicclient)")
		}
		t.Skip("the baremetal CLI is not installed (apt-get install python3-ironicclient)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "OS_AUTH_TYPE=none", "OS_ENDPOINT=" + endpoint}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// TestBaremetalCLITemplatesRAIDBIOS drives deploy templates, RAID and BIOS
// settings with the baremetal CLI (python-ironicclient) against ferric dev,
// the commands and outputs checked against what they do on Ironic 21.4: a
// template is created, listed, renamed with new steps and shown; a fake
// node whose instance traits name it deploys with its BIOS step, and the
// CLI shows the settings the step applied.
func TestBaremetalCLITemplatesRAIDBIOS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ferric dev and runs the baremetal CLI")
	}
	if _, err := exec.LookPath("baremetal"); err != nil && os.Getenv("CI") == "" {
		t.Skip("the baremetal CLI is not installed (apt-get install python3-ironicclient)")
	}
	endpoint := startDev(t, ferricBinary(t))
	cli := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, endpoint, args...)
		if err != nil {
			t.Fatalf("baremetal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	object := func(out string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("not a JSON object: %v\n%s", err, out)
		}
		return m
	}

	steps := `[{"interface":"bios","step":"apply_configuration","args":{"settings":[{"name":"LogicalProc","value":"Enabled"}]},"priority":150}]`
	created := object(cli("deploy", "template", "create", "CUSTOM_HYPERTHREADING", "--steps", steps, "--extra", "a=b",
		"-f", "json"))
	if created["name"] != "CUSTOM_HYPERTHREADING" || created["updated_at"] != nil || created["uuid"] == "" {
		t.Errorf("create: %v", created)
	}
	if got := cli("deploy", "template", "list", "--long", "-f", "value", "-c", "Name", "-c", "Extra"); strings.TrimSpace(got) !=
		"CUSTOM_HYPERTHREADING {'a': 'b'}" {
		t.Errorf("list: %q", got)
	}
	cli("deploy", "template", "set", "CUSTOM_HYPERTHREADING", "--name", "CUSTOM_HT",
		"--steps", strings.Replace(steps, "150", "120", 1))
	shown := object(cli("deploy", "template", "show", "CUSTOM_HT", "-f", "json"))
	st, _ := shown["steps"].([]any)
	if len(st) != 1 || st[0].(map[string]any)["priority"] != float64(120) || shown["updated_at"] == nil {
		t.Errorf("after set: %v", shown)
	}

	// A fake node deploys with the template its instance traits name (the
	// node is set up through the API, the deploy through the CLI).
	c := acceptanceClient(t, endpoint)
	n, err := nodes.Create(t.Context(), c, nodes.CreateOpts{Driver: "fake-hardware", Name: "tmpl-node"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes.Update(t.Context(), c, n.UUID, nodes.UpdateOpts{nodes.UpdateOperation{Op: nodes.AddOp,
		Path: "/instance_info", Value: map[string]any{"image_source": "http://example.com/img.raw",
			"traits": []string{"CUSTOM_HT"}}}}).Extract(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, endpoint+"/v1/nodes/"+n.UUID+"/traits",
		strings.NewReader(`{"traits":["CUSTOM_HT","CUSTOM_RAID"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-OpenStack-Ironic-API-Version", "1.78")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("set traits: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, step := range []struct {
		target nodes.TargetProvisionState
		want   nodes.ProvisionState
	}{{nodes.TargetManage, nodes.Manageable}, {nodes.TargetProvide, nodes.Available}} {
		if err := nodes.ChangeProvisionState(t.Context(), c, n.UUID, nodes.ProvisionStateOpts{Target: step.target}).
			ExtractErr(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		err := nodes.WaitForProvisionState(ctx, c, n.UUID, step.want)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	cli("node", "deploy", n.UUID, "--wait", "60")
	if got := cli("node", "bios", "setting", "list", n.UUID, "-f", "value"); strings.TrimSpace(got) != "LogicalProc Enabled" {
		t.Errorf("BIOS settings after the deploy: %q", got)
	}
	// A template naming a step the node lacks is refused before anything
	// runs, with Ironic's message.
	if _, err := nodes.Update(t.Context(), c, n.UUID, nodes.UpdateOpts{nodes.UpdateOperation{Op: nodes.ReplaceOp,
		Path: "/instance_info/traits", Value: []string{"CUSTOM_RAID"}}}).Extract(); err != nil {
		t.Fatal(err)
	}
	cli("deploy", "template", "create", "CUSTOM_RAID", "--steps",
		`[{"interface":"raid","step":"create_configuration","args":{},"priority":10}]`)
	if out, err := runCLI(t, endpoint, "node", "rebuild", n.UUID); err == nil || !strings.Contains(out,
		"Validation of deploy steps from deploy templates matching this node's instance traits failed. "+
			"Matching deploy templates: CUSTOM_RAID. Errors: node does not support this deploy step") {
		t.Errorf("rebuild with an unsupported template step: %v\n%s", err, out)
	}

	// RAID: the logical disk properties, and no-raid refusing a target.
	if got := cli("driver", "raid", "property", "list", "fake-hardware", "-f", "value", "-c", "Property"); !strings.Contains(got,
		"number_of_physical_disks") {
		t.Errorf("raid property list: %q", got)
	}
	if _, err := nodes.Create(t.Context(), c, nodes.CreateOpts{Driver: "ipmi", Name: "ipmi-noraid",
		DriverInfo: map[string]any{"ipmi_address": "192.0.2.1"}}).Extract(); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, endpoint, "node", "set", "ipmi-noraid", "--target-raid-config",
		`{"logical_disks":[{"size_gb":1,"raid_level":"1"}]}`); err == nil ||
		!strings.Contains(out, "Driver ipmi does not support raid (disabled or not implemented). (HTTP 404)") {
		t.Errorf("target RAID on no-raid: %v\n%s", err, out)
	}
	if out := cli("deploy", "template", "delete", "CUSTOM_HT", "CUSTOM_RAID"); !strings.Contains(out,
		"Deleted deploy template CUSTOM_RAID") {
		t.Errorf("delete: %s", out)
	}
}
