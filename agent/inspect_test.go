package agent

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

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
