package inspect

import (
	"path/filepath"
	"strings"

	"github.com/ferric-project/ferric/drivers/inventory"
)

// collectSystemVendor reads SMBIOS's system and BIOS information as the
// kernel exports it (class/dmi/id; the serial is readable by root only).
func collectSystemVendor(cfg Config) inventory.SystemVendor {
	id := filepath.Join(cfg.SysfsRoot, "class", "dmi", "id")
	return inventory.SystemVendor{
		ProductName:  readString(id, "product_name"),
		SerialNumber: readString(id, "product_serial"),
		Manufacturer: readString(id, "sys_vendor"),
		Firmware: inventory.SystemFirmware{
			Vendor:    readString(id, "bios_vendor"),
			Version:   readString(id, "bios_version"),
			BuildDate: readString(id, "bios_date"),
		},
	}
}

// collectBoot: UEFI when the kernel was booted by UEFI firmware
// (firmware/efi exists), and the BOOTIF= of the kernel command line.
func collectBoot(cfg Config) inventory.Boot {
	b := inventory.Boot{CurrentBootMode: inventory.BootModeBIOS}
	if exists(cfg.SysfsRoot, "firmware", "efi") {
		b.CurrentBootMode = inventory.BootModeUEFI
	}
	for _, arg := range strings.Fields(readString(cfg.ProcRoot, "cmdline")) {
		if v, ok := strings.CutPrefix(arg, "BOOTIF="); ok {
			b.PXEInterface = inventory.NullString(v)
		}
	}
	return b
}

// collectHostname is the kernel's host name; "" when none was set (the
// kernel's "(none)").
func collectHostname(cfg Config) string {
	h := readString(cfg.ProcRoot, "sys", "kernel", "hostname")
	if h == "(none)" {
		return ""
	}
	return h
}
