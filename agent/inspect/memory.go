package inspect

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/drivers/inventory"
)

// collectMemory reads MemTotal and the installed memory: the DIMMs of the
// SMBIOS table (what lshw reports to IPA), else the memory blocks sysfs
// lists (lshw's own fallback), else unknown.
func collectMemory(cfg Config) (inventory.Memory, error) {
	b, err := os.ReadFile(filepath.Join(cfg.ProcRoot, "meminfo"))
	if err != nil {
		return inventory.Memory{}, fmt.Errorf("read meminfo: %w", err)
	}
	var m inventory.Memory
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return m, fmt.Errorf("meminfo MemTotal %q: %w", v, err)
			}
			m.Total = kb << 10
		}
	}
	if m.Total == 0 {
		return m, fmt.Errorf("meminfo MemTotal: %w", errNoData)
	}
	if table, err := os.ReadFile(filepath.Join(cfg.SysfsRoot, "firmware", "dmi", "tables", "DMI")); err == nil {
		if mb, ok := dmiMemoryMB(table); ok {
			m.PhysicalMB = inventory.NullInt(mb)
			return m, nil
		}
	}
	m.PhysicalMB = inventory.NullInt(sysfsMemoryMB(filepath.Join(cfg.SysfsRoot, "devices", "system", "memory")))
	return m, nil
}

// SMBIOS structure types and offsets (DMTF DSP0134).
const (
	smbiosMemoryArray  = 16   // Physical Memory Array
	smbiosMemoryDevice = 17   // Memory Device
	smbiosEnd          = 127  // End-of-Table
	arrayUse           = 0x05 // type 16: Use (byte)
	arrayUseSystem     = 0x03 // system memory (not video, flash, cache...)
	deviceArrayHandle  = 0x04 // type 17: Physical Memory Array Handle (word)
	deviceSize         = 0x0C // type 17: Size (word)
	deviceExtendedSize = 0x1C // type 17: Extended Size (dword, MiB), SMBIOS 2.7
)

// dmiMemoryMB sums the sizes of the installed memory devices of the
// SMBIOS table (sysfs's firmware/dmi/tables/DMI) that belong to system
// memory arrays, in MiB; ok is false when the table lists none.
func dmiMemoryMB(table []byte) (mb int64, ok bool) {
	type device struct {
		array uint16
		mb    int64
	}
	uses := map[uint16]byte{}
	var devices []device
	for i := 0; i+4 <= len(table); {
		typ, length := table[i], int(table[i+1])
		if length < 4 || i+length > len(table) {
			break
		}
		s := table[i : i+length]
		switch {
		case typ == smbiosMemoryArray && length > arrayUse:
			uses[binary.LittleEndian.Uint16(s[2:])] = s[arrayUse]
		case typ == smbiosMemoryDevice && length >= deviceSize+2:
			d := device{array: binary.LittleEndian.Uint16(s[deviceArrayHandle:])}
			switch size := binary.LittleEndian.Uint16(s[deviceSize:]); {
			case size == 0 || size == 0xFFFF: // empty slot, unknown size
			case size == 0x7FFF && length >= deviceExtendedSize+4:
				d.mb = int64(binary.LittleEndian.Uint32(s[deviceExtendedSize:]) & 0x7FFFFFFF)
			case size&0x8000 != 0: // KiB
				d.mb = int64(size&0x7FFF) >> 10
			default:
				d.mb = int64(size)
			}
			if d.mb > 0 {
				devices = append(devices, d)
			}
		}
		if typ == smbiosEnd {
			break
		}
		// The formatted area is followed by strings, ended by two NULs.
		j := i + length
		for j+1 < len(table) && (table[j] != 0 || table[j+1] != 0) {
			j++
		}
		i = j + 2
	}
	for _, d := range devices {
		if use, known := uses[d.array]; known && use != arrayUseSystem {
			continue
		}
		mb += d.mb
		ok = true
	}
	return mb, ok
}

// sysfsMemoryMB is the online memory blocks' size in MiB (0: unknown).
func sysfsMemoryMB(dir string) int64 {
	blockSize, err := strconv.ParseInt(strings.TrimPrefix(readString(dir, "block_size_bytes"), "0x"), 16, 64)
	if err != nil || blockSize <= 0 {
		return 0
	}
	blocks, _ := filepath.Glob(filepath.Join(dir, "memory[0-9]*"))
	var n int64
	for _, b := range blocks {
		if readString(b, "state") == "online" {
			n++
		}
	}
	return n * blockSize >> 20
}
