package inspect

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/drivers/inventory"
)

// collectCPU reads what lscpu prints for IPA: the model, flags and
// current MHz from /proc/cpuinfo, the maximum frequency from cpufreq, the
// count from sysfs's present CPUs and the sockets from the topology.
func collectCPU(cfg Config) (inventory.CPU, error) {
	b, err := os.ReadFile(filepath.Join(cfg.ProcRoot, "cpuinfo"))
	if err != nil {
		return inventory.CPU{}, fmt.Errorf("read cpuinfo: %w", err)
	}
	blocks := parseCPUInfo(string(b))
	if len(blocks) == 0 {
		return inventory.CPU{}, fmt.Errorf("cpuinfo: %w", errNoData)
	}
	first := blocks[0]
	cpu := inventory.CPU{
		ModelName:    firstOf(first, "model name", "cpu model", "cpu"),
		Architecture: cfg.Arch,
		Flags:        strings.Fields(firstOf(first, "flags", "features")),
	}
	if cpu.Architecture == "" {
		cpu.Architecture = readString(cfg.ProcRoot, "sys", "kernel", "arch")
	}
	if cpu.Architecture == "" {
		cpu.Architecture = unameArch()
	}
	if cpu.Flags == nil {
		cpu.Flags = []string{}
	}
	processors := 0
	packages := map[string]bool{}
	for _, blk := range blocks {
		if _, ok := blk["processor"]; ok {
			processors++
		}
		if id, ok := blk["physical id"]; ok {
			packages[id] = true
		}
	}
	sysCPU := filepath.Join(cfg.SysfsRoot, "devices", "system", "cpu")
	cpu.Count = cpuListLen(readString(sysCPU, "present"))
	if cpu.Count == 0 {
		cpu.Count = processors
	}
	dirs, _ := filepath.Glob(filepath.Join(sysCPU, "cpu[0-9]*"))
	sysPackages := map[string]bool{}
	var maxKHz int64
	for _, d := range dirs {
		if id := readString(d, "topology", "physical_package_id"); id != "" {
			sysPackages[id] = true
		}
		if khz, err := strconv.ParseInt(readString(d, "cpufreq", "cpuinfo_max_freq"), 10, 64); err == nil {
			maxKHz = max(maxKHz, khz)
		}
	}
	switch {
	case len(sysPackages) > 0:
		cpu.SocketCount = len(sysPackages)
	case len(packages) > 0:
		cpu.SocketCount = len(packages)
	case cpu.Count > 0:
		cpu.SocketCount = 1
	}
	if maxKHz > 0 {
		cpu.Frequency = fmt.Sprintf("%.4f", float64(maxKHz)/1000) // lscpu's "CPU max MHz"
	} else {
		cpu.Frequency = first["cpu mhz"] // lscpu's "CPU MHz" (VMs have no cpufreq)
	}
	return cpu, nil
}

// parseCPUInfo splits /proc/cpuinfo into one map per processor (blocks
// separated by blank lines), keys in lower case.
func parseCPUInfo(s string) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			if strings.TrimSpace(line) == "" && len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
			continue
		}
		cur[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// cpuListLen counts the CPUs in a sysfs CPU list: "0-3,8-11" is 8.
func cpuListLen(s string) int {
	n := 0
	for _, r := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(r), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				continue
			}
		}
		n += b - a + 1
	}
	return n
}
