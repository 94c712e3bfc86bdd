package inspect

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/drivers/inventory"
)

// collectDisks lists the block devices IPA reports (lsblk's type disk,
// raid and multipath): /sys/block without loop, RAM, zram, optical and
// floppy devices, device-mapper devices other than multipath, hidden
// devices (NVMe multipath paths) and empty ones. Sorted by name.
func collectDisks(cfg Config) ([]inventory.Disk, error) {
	dir := filepath.Join(cfg.SysfsRoot, "block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	byPath := byPathLinks(filepath.Join(cfg.DevRoot, "disk", "by-path"))
	disks := []inventory.Disk{}
	for _, e := range entries {
		name := e.Name()
		if skipBlockDevice(dir, name) {
			continue
		}
		sectors, err := strconv.ParseInt(readString(dir, name, "size"), 10, 64)
		if err != nil || sectors <= 0 {
			continue
		}
		udev := udevProperties(cfg.RunRoot, "b"+readString(dir, name, "dev"))
		d := inventory.Disk{
			Name:               "/dev/" + name,
			Model:              readString(dir, name, "device", "model"),
			Size:               sectors * 512,
			Rotational:         readString(dir, name, "queue", "rotational") == "1",
			Vendor:             inventory.NullString(readString(dir, name, "device", "vendor")),
			WWN:                inventory.NullString(udev.env["ID_WWN"]),
			WWNWithExtension:   inventory.NullString(udev.env["ID_WWN_WITH_EXTENSION"]),
			WWNVendorExtension: inventory.NullString(udev.env["ID_WWN_VENDOR_EXTENSION"]),
			Serial: inventory.NullString(firstNonEmpty(udev.env["ID_SCSI_SERIAL"], udev.env["ID_SERIAL_SHORT"],
				readString(dir, name, "device", "serial"), readString(dir, name, "serial"), udev.env["ID_SERIAL"])),
			HCTL:            inventory.NullString(firstEntry(dir, name, "device", "scsi_device")),
			ByPath:          inventory.NullString(byPath[name]),
			LogicalSectors:  readInt(dir, name, "queue", "logical_block_size"),
			PhysicalSectors: readInt(dir, name, "queue", "physical_block_size"),
			Tran:            inventory.NullString(transport(dir, name)),
		}
		if d.WWN == "" {
			d.WWN = inventory.NullString(wwid(dir, name))
		}
		if d.ByPath == "" {
			d.ByPath = inventory.NullString(udev.link("disk/by-path/"))
		}
		disks = append(disks, d)
	}
	return disks, nil
}

func skipBlockDevice(dir, name string) bool {
	for _, p := range []string{"loop", "ram", "zram", "sr", "fd"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	if strings.HasPrefix(name, "dm-") && !strings.HasPrefix(readString(dir, name, "dm", "uuid"), "mpath-") {
		return true
	}
	return readString(dir, name, "hidden") == "1"
}

// wwid reads the kernel's world-wide ID when udev has none: NVMe
// namespaces' wwid ("eui.…", "nvme.…") as lsblk shows it, SCSI devices'
// device/wwid with its NAA designator as udev writes it ("naa.5000…" is
// "0x5000…").
func wwid(dir, name string) string {
	if w := readString(dir, name, "wwid"); w != "" {
		return w
	}
	w := readString(dir, name, "device", "wwid")
	if v, ok := strings.CutPrefix(w, "naa."); ok {
		return "0x" + v
	}
	return w
}

// transport is lsblk's TRAN, from the device's name and its place in the
// device tree.
func transport(dir, name string) string {
	switch {
	case strings.HasPrefix(name, "nvme"):
		return "nvme"
	case strings.HasPrefix(name, "vd"):
		return "virtio"
	case strings.HasPrefix(name, "mmcblk"):
		return "mmc"
	}
	path, err := filepath.EvalSymlinks(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	for _, t := range []struct{ marker, tran string }{
		{"/usb", "usb"}, {"/end_device-", "sas"}, {"/rport-", "fc"}, {"/session", "iscsi"}, {"/ata", "sata"},
	} {
		if strings.Contains(path, t.marker) {
			return t.tran
		}
	}
	return ""
}

// byPathLinks maps device names to their /dev/disk/by-path links as IPA
// reads them (the first link by name when there are several).
func byPathLinks(dir string) map[string]string {
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		dev := filepath.Base(target)
		if _, dup := out[dev]; !dup {
			out[dev] = "/dev/disk/by-path/" + e.Name()
		}
	}
	return out
}

// udevRecord is a device's entry in udev's database: its properties (E:)
// and the /dev links udev made for it (S:).
type udevRecord struct {
	env   map[string]string
	links []string
}

// udevProperties reads RunRoot/udev/data/<id> ("b8:0" for a block device
// 8:0); an empty record when udev is not running (a minimal ramdisk).
func udevProperties(runRoot, id string) udevRecord {
	r := udevRecord{env: map[string]string{}}
	b, err := os.ReadFile(filepath.Join(runRoot, "udev", "data", id))
	if err != nil {
		return r
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "E:"):
			k, v, _ := strings.Cut(line[2:], "=")
			r.env[k] = v
		case strings.HasPrefix(line, "S:"):
			r.links = append(r.links, line[2:])
		}
	}
	return r
}

// link is the first /dev link with the prefix ("disk/by-path/"), as a
// path: "/dev/disk/by-path/…".
func (r udevRecord) link(prefix string) string {
	for _, l := range r.links {
		if strings.HasPrefix(l, prefix) {
			return "/dev/" + l
		}
	}
	return ""
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// firstEntry is the first name in a directory, "" when there is none.
func firstEntry(path ...string) string {
	entries, err := os.ReadDir(filepath.Join(path...))
	if err != nil || len(entries) == 0 {
		return ""
	}
	return entries[0].Name()
}

func readInt(path ...string) inventory.NullInt {
	n, err := strconv.ParseInt(readString(path...), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return inventory.NullInt(n)
}
