package raid_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/raid"
)

func TestApplied(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 24, 16, 123456000, time.UTC)
	info, err := raid.Applied(json.RawMessage(`{"cpus":4,"capabilities":"boot_mode:uefi,raid_level:0"}`),
		json.RawMessage(`{"logical_disks":[{"size_gb":100,"raid_level":"5","is_root_volume":true,`+
			`"root_device_hint":{"serial":"abc"}},{"size_gb":"MAX","raid_level":"0"}]}`), now)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	var props map[string]any
	_ = json.Unmarshal(info.RAIDConfig, &cfg)
	_ = json.Unmarshal(info.Properties, &props)
	if cfg["last_updated"] != "2026-12-03 10:24:16.123456" || props["local_gb"] != float64(100) ||
		props["capabilities"] != "boot_mode:uefi,raid_level:5" || props["cpus"] != float64(4) ||
		props["root_device"].(map[string]any)["serial"] != "abc" {
		t.Errorf("raid_config %s properties %s", info.RAIDConfig, info.Properties)
	}
	// A MAX root volume says nothing of local_gb.
	info, err = raid.Applied(json.RawMessage(`{"local_gb":7}`),
		json.RawMessage(`{"logical_disks":[{"size_gb":"MAX","raid_level":"1","is_root_volume":true}]}`),
		now.Truncate(time.Second))
	_ = json.Unmarshal(info.RAIDConfig, &cfg)
	_ = json.Unmarshal(info.Properties, &props)
	if err != nil || props["local_gb"] != float64(7) || cfg["last_updated"] != "2026-12-03 10:24:16" {
		t.Errorf("MAX root: %s %s, %v", info.RAIDConfig, info.Properties, err)
	}
	if _, err := raid.Applied(nil, json.RawMessage(`{"logical_disks":[{"is_root_volume":true},{"is_root_volume":true}]}`),
		now); !errors.Is(err, drivers.ErrFailed) {
		t.Errorf("two roots: %v", err)
	}
	if _, err := raid.Applied(json.RawMessage(`{"capabilities":"broken"}`),
		json.RawMessage(`{"logical_disks":[{"raid_level":"1","size_gb":1,"is_root_volume":true}]}`), now); err == nil ||
		err.Error() != "drivers: operation failed: Invalid capabilities string 'broken'." {
		t.Errorf("malformed capabilities: %v", err)
	}
	info, err = raid.Deleted(json.RawMessage(`{"root_device":{"name":"/dev/md0"},"cpus":2}`))
	if err != nil || string(info.RAIDConfig) != "{}" || string(info.Properties) != `{"cpus":2}` {
		t.Errorf("deleted: %s %s, %v", info.RAIDConfig, info.Properties, err)
	}
}

func TestFilter(t *testing.T) {
	target := json.RawMessage(`{"logical_disks":[{"size_gb":1,"raid_level":"1","is_root_volume":true},` +
		`{"size_gb":2,"raid_level":"0"}]}`)
	got, err := raid.Filter("n", target, true, false)
	if err != nil || string(got) != `{"logical_disks":[{"is_root_volume":true,"raid_level":"1","size_gb":1}]}` {
		t.Errorf("root only: %s, %v", got, err)
	}
	if _, err := raid.Filter("n", json.RawMessage(`{}`), true, true); err == nil ||
		err.Error() != "drivers: operation failed: Node n has no target RAID configuration." {
		t.Errorf("no target: %v", err)
	}
}
