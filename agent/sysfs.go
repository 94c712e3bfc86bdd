package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/agent/wire"
)

// MACAddresses lists the MAC addresses of the machine's network interfaces
// from sysfsRoot ("/sys"): class/net/*/address, skipping lo, empty and
// all-zero addresses (tunnels, bonds' unset slaves). Sorted, lower case.
func MACAddresses(sysfsRoot string) ([]string, error) {
	dir := filepath.Join(sysfsRoot, "class", "net")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var macs []string
	for _, e := range entries {
		if e.Name() == "lo" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "address"))
		if err != nil {
			continue
		}
		mac := strings.ToLower(strings.TrimSpace(string(b)))
		if mac == "" || strings.Trim(mac, "0:") == "" || len(mac) != len("00:00:00:00:00:00") {
			continue
		}
		if !slices.Contains(macs, mac) {
			macs = append(macs, mac)
		}
	}
	slices.Sort(macs)
	return macs, nil
}

// Disks lists the block devices under sysfsRoot ("/sys") block/*, named
// devRoot+"/"+name ("/dev/vda"), sorted by name. Loop, RAM, optical, floppy,
// zram, nbd, device-mapper and md devices and empty devices are skipped. Size
// is block/X/size × 512; model and serial come from block/X/device/{model,
// serial} or block/X/serial (virtio) when present.
func Disks(sysfsRoot, devRoot string) ([]wire.Disk, error) {
	dir := filepath.Join(sysfsRoot, "block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	// Never install targets.
	skip := [...]string{"loop", "ram", "sr", "fd", "zram", "nbd", "dm-", "md"}
	var disks []wire.Disk
next:
	for _, e := range entries {
		name := e.Name()
		for _, p := range skip {
			if strings.HasPrefix(name, p) {
				continue next
			}
		}
		sectors, err := strconv.ParseInt(readSysfs(dir, name, "size"), 10, 64)
		if err != nil || sectors <= 0 {
			continue
		}
		d := wire.Disk{
			Name:   devRoot + "/" + name,
			Size:   sectors * 512,
			Model:  readSysfs(dir, name, "device", "model"),
			Serial: readSysfs(dir, name, "device", "serial"),
		}
		if d.Serial == "" {
			d.Serial = readSysfs(dir, name, "serial")
		}
		disks = append(disks, d)
	}
	slices.SortFunc(disks, func(a, b wire.Disk) int { return strings.Compare(a.Name, b.Name) })
	return disks, nil
}

func readSysfs(elem ...string) string {
	b, err := os.ReadFile(filepath.Join(elem...))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
