package agent

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/inventory"
)

// TestAgentInspects runs the inspect command over a fixture machine's
// sysfs and procfs (agent/inspect/testdata/server): the result is the
// inventory document, valid, and small enough to travel in heartbeats.
func TestAgentInspects(t *testing.T) {
	t.Parallel()
	root := filepath.Join("inspect", "testdata", "server")
	api := newFakeAPI(t)
	api.commands = []wire.Command{{ID: "i1", Name: wire.CmdInspect}}
	stop, _ := testAgent(t, api, func(c *Config) {
		c.SysfsRoot, c.ProcRoot = filepath.Join(root, "sys"), filepath.Join(root, "proc")
		c.DevRoot, c.RunRoot = filepath.Join(root, "dev"), filepath.Join(root, "run")
	})
	waitFor(t, api.finalReported, "i1")
	_ = stop()
	_, final, _ := api.snapshot()
	res := final["i1"]
	if res.Status != wire.StatusSucceeded {
		t.Fatalf("inspect result = %+v", res)
	}
	if err := inventory.Validate(res.Result); err != nil {
		t.Fatalf("Validate(result): %v\n%s", err, res.Result)
	}
	if len(res.Result) > 32<<10 {
		t.Errorf("the result is %d bytes; a heartbeat carries it until acknowledged", len(res.Result))
	}
	var doc inventory.Document
	if err := json.Unmarshal(res.Result, &doc); err != nil {
		t.Fatal(err)
	}
	sum := inventory.Summarize(doc)
	if sum.CPUs != 16 || sum.MemoryMB != 262144 || sum.LocalGB != 446 || sum.BootMode != "uefi" || len(sum.NICs) != 5 ||
		!sum.NICs[0].PXE || doc.PluginData.RootDisk == nil || doc.PluginData.RootDisk.Name != "/dev/sda" {
		t.Errorf("summary of the reported inventory = %+v", sum)
	}
	if got := doc.PluginData.Configuration.Managers[0]; got.Name != "ferric-agent" || got.Version != "test" {
		t.Errorf("configuration.managers = %+v", doc.PluginData.Configuration.Managers)
	}
}

func TestAgentInspectFails(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.commands = []wire.Command{{ID: "i1", Name: wire.CmdInspect}}
	stop, _ := testAgent(t, api, func(c *Config) {
		c.ProcRoot = filepath.Join(t.TempDir(), "no-proc")
	})
	waitFor(t, api.finalReported, "i1")
	_ = stop()
	_, final, _ := api.snapshot()
	if res := final["i1"]; res.Status != wire.StatusFailed || !strings.Contains(res.Error, "cpuinfo") {
		t.Errorf("inspect result = %+v, want a failure naming cpuinfo", res)
	}
}

// TestAgentPostsInspection: in inspect wait the agent collects the
// inventory and posts it to POST /v1/continue_inspection as
// ironic-python-agent does (the inventory under "inventory", the plugin
// data beside it), naming its node (node_uuid, API 1.84), once.
func TestAgentPostsInspection(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.state = wire.StateInspectWait
	inspectingAgent(t, api, 1, 2)
	api.mu.Lock()
	defer api.mu.Unlock()
	r := api.inspections[0]
	if r.URL.Query().Get("node_uuid") != testNode || r.Header.Get("X-OpenStack-Ironic-API-Version") != "1.84" ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("post %s headers %v", r.URL, r.Header)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(api.inspectBodies[0], &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body["plugin_data"]; ok || len(body["inventory"]) == 0 || len(body["all_interfaces"]) == 0 {
		t.Errorf("payload members %v", slices.Collect(maps.Keys(body)))
	}
	var doc inventory.Document
	if err := json.Unmarshal(body["inventory"], &doc.Inventory); err != nil || doc.Inventory.CPU.Count != 16 {
		t.Errorf("inventory %+v %v", doc.Inventory.CPU, err)
	}
}

// TestAgentRetriesInspectionPost: a post of the inspection data that fails
// on the server's side (5xx) is sent again, with a growing delay, until it
// is accepted; one the API refuses (4xx) is not sent again in the same
// session.
func TestAgentRetriesInspectionPost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		status []int
		posts  int
	}{
		{"server errors are retried", []int{503, 502}, 3},
		{"a refusal is not", []int{400}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			api.state, api.inspectStatus = wire.StateInspectWait, tt.status
			inspectingAgent(t, api, tt.posts, 2)
		})
	}
}

// inspectingAgent runs an agent on the test server's sysfs, heartbeating
// every 50 ms, until it posted its inspection data posts times and then
// heartbeated more times, and checks that it posted no more.
func inspectingAgent(t *testing.T, api *fakeAPI, posts, more int) {
	t.Helper()
	root := filepath.Join("inspect", "testdata", "server")
	api.inspected = make(chan struct{}, 16)
	stop, _ := testAgent(t, api, func(c *Config) {
		c.SysfsRoot, c.ProcRoot = filepath.Join(root, "sys"), filepath.Join(root, "proc")
		c.DevRoot, c.RunRoot = filepath.Join(root, "dev"), filepath.Join(root, "run")
		c.HeartbeatInterval = 50 * time.Millisecond
	})
	for i := 0; i < posts; i++ {
		select {
		case <-api.inspected:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d posts, want %d", i, posts)
		}
	}
	// It goes on heartbeating, and posts no more.
	hb, _, _ := api.snapshot()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if now, _, _ := api.snapshot(); len(now) >= len(hb)+more {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeats after the inspection")
		}
	}
	_ = stop()
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.inspections) != posts {
		t.Fatalf("%d posts, want %d", len(api.inspections), posts)
	}
}
