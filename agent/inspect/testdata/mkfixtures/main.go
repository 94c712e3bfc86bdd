// Command mkfixtures writes the machine trees agent/inspect's tests read:
// small copies of the sysfs, procfs, /dev and udev files the collector
// reads, with sysfs's symlinks (class/net/X and block/X into devices/,
// device and driver links, bus/pci/devices/*). Values are modelled on
// real machines of each kind.
//
//	cd agent/inspect && go run ./testdata/mkfixtures
//
// Each tree also holds addrs.json: the IP addresses of its interfaces,
// which the running system, not a file, provides.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	for name, build := range map[string]func(*tree){"qemu-vm": qemuVM, "server": server, "gpu": gpuServer} {
		root := filepath.Join("testdata", name)
		if err := os.RemoveAll(root); err != nil {
			log.Fatal(err)
		}
		t := &tree{root: root, addrs: map[string][]string{}}
		build(t)
		b, _ := json.MarshalIndent(t.addrs, "", "  ")
		t.file("addrs.json", string(b)+"\n")
	}
}

type tree struct {
	root  string
	addrs map[string][]string
}

func (t *tree) file(path, content string) {
	p := filepath.Join(t.root, path)
	must(os.MkdirAll(filepath.Dir(p), 0o755))
	must(os.WriteFile(p, []byte(content), 0o644))
}

// dir makes a sysfs directory; like every sysfs directory it holds a
// uevent file (which also keeps it in git, which drops empty directories).
func (t *tree) dir(path string) { t.file(filepath.Join(path, "uevent"), "") }

// link makes path a symlink to target, relative to path's directory as
// sysfs's links are.
func (t *tree) link(path, target string) {
	p := filepath.Join(t.root, path)
	must(os.MkdirAll(filepath.Dir(p), 0o755))
	rel, err := filepath.Rel(filepath.Dir(path), target)
	must(err)
	must(os.Symlink(rel, p))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// pci adds a PCI function under parent ("sys/devices/pci0000:00", or a
// bridge's directory) and its bus/pci/devices link; it returns its
// directory. rev "" leaves the revision file out (as some kernels do).
func (t *tree) pci(parent, addr, vendor, device, class, rev, numa, driver string) string {
	d := parent + "/" + addr
	t.file(d+"/vendor", "0x"+vendor+"\n")
	t.file(d+"/device", "0x"+device+"\n")
	t.file(d+"/class", "0x"+class+"\n")
	if rev != "" {
		t.file(d+"/revision", "0x"+rev+"\n")
	}
	t.file(d+"/numa_node", numa+"\n")
	if driver != "" {
		t.link(d+"/driver", "sys/bus/pci/drivers/"+driver)
		t.dir("sys/bus/pci/drivers/" + driver)
	}
	t.link("sys/bus/pci/devices/"+addr, d)
	return d
}

// netdev adds a network interface under dev (its device directory):
// class/net link, address, carrier (omitted: "" — unreadable while the
// link is down), speed ("" omitted), device link.
func (t *tree) netdev(dev, name, mac, carrier, speed string, addrs ...string) {
	d := dev + "/net/" + name
	t.file(d+"/address", mac+"\n")
	t.file(d+"/type", "1\n")
	if carrier != "" {
		t.file(d+"/carrier", carrier+"\n")
	}
	if speed != "" {
		t.file(d+"/speed", speed+"\n")
	}
	t.link(d+"/device", dev)
	t.link("sys/class/net/"+name, d)
	if len(addrs) > 0 {
		t.addrs[name] = addrs
	}
}

// virtualNet adds an interface without a device (loopback, bridge).
func (t *tree) virtualNet(name, mac string) {
	d := "sys/devices/virtual/net/" + name
	t.file(d+"/address", mac+"\n")
	t.link("sys/class/net/"+name, d)
}

// block adds a block device under dev (its device directory, "" for a
// virtual one): /sys/block link, size in 512-byte sectors, queue files,
// dev number.
func (t *tree) block(dev, name, majMin string, sectors int64, rotational bool, logical, physical int) string {
	parent := dev
	if parent == "" {
		parent = "sys/devices/virtual"
	}
	d := parent + "/block/" + name
	t.file(d+"/size", fmt.Sprintf("%d\n", sectors))
	t.file(d+"/dev", majMin+"\n")
	rot := "0"
	if rotational {
		rot = "1"
	}
	t.file(d+"/queue/rotational", rot+"\n")
	t.file(d+"/queue/logical_block_size", fmt.Sprintf("%d\n", logical))
	t.file(d+"/queue/physical_block_size", fmt.Sprintf("%d\n", physical))
	if dev != "" {
		t.link(d+"/device", dev)
	}
	t.link("sys/block/"+name, d)
	return d
}

func (t *tree) udev(id string, lines ...string) {
	t.file("run/udev/data/"+id, strings.Join(lines, "\n")+"\n")
}

// cpus writes /proc/cpuinfo and sysfs's cpu directory: n logical CPUs
// over the given packages (physical ids), and cpufreq when maxKHz > 0.
func (t *tree) cpus(n, packages int, model, mhz, flags string, maxKHz int) {
	var b strings.Builder
	for i := 0; i < n; i++ {
		pkg := i * packages / n
		fmt.Fprintf(&b, "processor\t: %d\nvendor_id\t: %s\nmodel name\t: %s\nphysical id\t: %d\ncpu MHz\t\t: %s\nflags\t\t: %s\n\n",
			i, strings.Fields(model)[0], model, pkg, mhz, flags)
		c := fmt.Sprintf("sys/devices/system/cpu/cpu%d", i)
		t.file(c+"/topology/physical_package_id", fmt.Sprintf("%d\n", pkg))
		if maxKHz > 0 {
			t.file(c+"/cpufreq/cpuinfo_max_freq", fmt.Sprintf("%d\n", maxKHz))
		}
	}
	t.file("proc/cpuinfo", b.String())
	t.file("sys/devices/system/cpu/present", fmt.Sprintf("0-%d\n", n-1))
}

func (t *tree) meminfo(kb int64) {
	t.file("proc/meminfo", fmt.Sprintf("MemTotal:       %d kB\nMemFree:        %d kB\nMemAvailable:   %d kB\n", kb, kb/2, kb/2))
}

func (t *tree) dmiID(vendor, product, serial, biosVendor, biosVersion, biosDate string) {
	id := "sys/devices/virtual/dmi/id"
	for f, v := range map[string]string{"sys_vendor": vendor, "product_name": product, "bios_vendor": biosVendor,
		"bios_version": biosVersion, "bios_date": biosDate} {
		t.file(id+"/"+f, v+"\n")
	}
	if serial != "" {
		t.file(id+"/product_serial", serial+"\n")
	}
	t.link("sys/class/dmi/id", id)
}

// smbios builds an SMBIOS table: memory arrays (handle, use) and memory
// devices (array handle, size word, extended size).
type smbios struct{ b []byte }

func (s *smbios) add(typ byte, handle uint16, formatted []byte, strs ...string) {
	hdr := []byte{typ, byte(4 + len(formatted)), 0, 0}
	binary.LittleEndian.PutUint16(hdr[2:], handle)
	s.b = append(s.b, hdr...)
	s.b = append(s.b, formatted...)
	if len(strs) == 0 {
		s.b = append(s.b, 0, 0)
		return
	}
	for _, str := range strs {
		s.b = append(append(s.b, str...), 0)
	}
	s.b = append(s.b, 0)
}

// array adds a type 16 structure (use: 3 system memory, 5 flash, ...).
func (s *smbios) array(handle uint16, use byte) {
	f := make([]byte, 0x17-4)
	f[0] = 0x03 // location: system board
	f[1] = use
	f[2] = 0x03 // no error correction
	s.add(16, handle, f)
}

// device adds a type 17 structure of SMBIOS 3.x length (0x28).
func (s *smbios) device(handle, array uint16, size uint16, extended uint32, locator string) {
	f := make([]byte, 0x28-4)
	binary.LittleEndian.PutUint16(f[0x04-4:], array)
	binary.LittleEndian.PutUint16(f[0x0C-4:], size)
	f[0x10-4] = 1 // device locator: string 1
	binary.LittleEndian.PutUint32(f[0x1C-4:], extended)
	s.add(17, handle, f, locator)
}

func (t *tree) dmiTable(s *smbios) {
	s.add(127, 0xFEFF, nil)
	t.file("sys/firmware/dmi/tables/DMI", string(s.b))
}

// qemuVM is `qemu-system-x86_64 -M pc -smp 2 -m 2048` with a virtio-net
// NIC at 00:03.0, a 10 GiB virtio-blk disk at 00:04.0 and an IDE CD-ROM,
// booted by SeaBIOS over PXE (no udev, like ferric's ramdisk).
func qemuVM(t *tree) {
	t.file("proc/sys/kernel/arch", "x86_64\n")
	t.file("proc/sys/kernel/hostname", "(none)\n")
	t.file("proc/cmdline", "console=ttyS0 quiet BOOTIF=01-52-54-00-12-34-56 ferric.api_url=http://10.0.2.2:6385\n")
	t.cpus(2, 1, "QEMU Virtual CPU version 2.5+", "2999.998",
		"fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pse36 clflush mmx fxsr sse sse2 syscall nx lm nopl cpuid pni cx16 hypervisor lahf_lm", 0)
	t.meminfo(2014232)
	var s smbios
	s.array(0x1000, 3)
	s.device(0x1100, 0x1000, 2048, 0, "DIMM 0")
	t.dmiTable(&s)
	t.dmiID("QEMU", "Standard PC (i440FX + PIIX, 1996)", "", "SeaBIOS", "1.16.2-debian-1.16.2-1", "04/01/2014")

	root := "sys/devices/pci0000:00"
	t.pci(root, "0000:00:00.0", "8086", "1237", "060000", "02", "-1", "")
	t.pci(root, "0000:00:01.0", "8086", "7000", "060100", "00", "-1", "")
	ide := t.pci(root, "0000:00:01.1", "8086", "7010", "010180", "00", "-1", "ata_piix")
	t.pci(root, "0000:00:01.3", "8086", "7113", "068000", "03", "-1", "piix4_smbus")
	t.pci(root, "0000:00:02.0", "1234", "1111", "030000", "02", "-1", "bochs-drm")
	nic := t.pci(root, "0000:00:03.0", "1af4", "1000", "020000", "00", "-1", "virtio-pci")
	blk := t.pci(root, "0000:00:04.0", "1af4", "1001", "010000", "00", "-1", "virtio-pci")

	v0 := nic + "/virtio0"
	t.file(v0+"/vendor", "0x1af4\n")
	t.file(v0+"/device", "0x0001\n")
	t.link(v0+"/driver", "sys/bus/virtio/drivers/virtio_net")
	t.dir("sys/bus/virtio/drivers/virtio_net")
	t.netdev(v0, "eth0", "52:54:00:12:34:56", "1", "-1", "10.0.2.15", "fe80::5054:ff:fe12:3456")
	t.virtualNet("lo", "00:00:00:00:00:00")
	t.addrs["lo"] = []string{"127.0.0.1", "::1"}

	v1 := blk + "/virtio1"
	t.file(v1+"/vendor", "0x1af4\n")
	t.file(v1+"/device", "0x0002\n")
	t.link(v1+"/driver", "sys/bus/virtio/drivers/virtio_blk")
	t.dir("sys/bus/virtio/drivers/virtio_blk")
	vda := t.block(v1, "vda", "254:0", 10<<30/512, true, 512, 512)
	t.file(vda+"/serial", "\n")

	cd := ide + "/ata2/host1/target1:0:0/1:0:0:0"
	t.file(cd+"/vendor", "QEMU    \n")
	t.file(cd+"/model", "QEMU DVD-ROM    \n")
	t.dir(cd + "/scsi_device/1:0:0:0")
	t.block(cd, "sr0", "11:0", 2097151, true, 2048, 2048)
	t.block("", "loop0", "7:0", 0, false, 512, 512)
	t.block("", "ram0", "1:0", 8192, false, 512, 512)
}

// server is a two-socket rack server booted by UEFI: an Intel X710 with
// one port up (the PXE one) and one without link, a Mellanox ConnectX-5
// with one port up and one administratively down, the BMC's USB NIC, a
// SATA boot SSD and two NVMe drives, the iDRAC's empty virtual floppy,
// and udev's database (a full ramdisk).
func server(t *tree) {
	t.file("proc/sys/kernel/arch", "x86_64\n")
	t.file("proc/sys/kernel/hostname", "r650-07\n")
	t.file("proc/cmdline", "BOOT_IMAGE=/vmlinuz BOOTIF=01-3c-ec-ef-00-00-01 ipa-api-url=http://192.0.2.1:6385\n")
	t.file("sys/firmware/efi/fw_platform_size", "64\n")
	t.cpus(16, 2, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "2000.000",
		"fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc vmx smx est avx2 avx512f avx512dq", 3200000)
	t.meminfo(263672832)
	var s smbios
	s.array(0x1000, 3)
	for i := 0; i < 16; i++ {
		if i%2 == 1 {
			s.device(uint16(0x1100+i), 0x1000, 0, 0, fmt.Sprintf("B%d", i)) // empty slot
			continue
		}
		s.device(uint16(0x1100+i), 0x1000, 0x7FFF, 32768, fmt.Sprintf("A%d", i)) // 32 GiB: extended size
	}
	s.array(0x2000, 5) // flash memory: not RAM
	s.device(0x2100, 0x2000, 16, 0, "BIOS ROM")
	t.dmiTable(&s)
	t.dmiID("Dell Inc.", "PowerEdge R650", "ABC1234", "Dell Inc.", "1.6.5", "04/06/2022")

	root := "sys/devices/pci0000:00"
	t.pci(root, "0000:00:00.0", "8086", "09a2", "088000", "04", "0", "")
	sata := t.pci(root, "0000:00:17.0", "8086", "a182", "010601", "09", "0", "ahci")
	usb := t.pci(root, "0000:00:14.0", "8086", "a1af", "0c0330", "09", "0", "xhci_hcd")
	bridge := t.pci("sys/devices/pci0000:16", "0000:16:02.0", "8086", "347a", "060400", "04", "0", "pcieport")
	x710a := t.pci(bridge, "0000:17:00.0", "8086", "1572", "020000", "02", "0", "i40e")
	x710b := t.pci(bridge, "0000:17:00.1", "8086", "1572", "020000", "02", "0", "i40e")
	cx5a := t.pci("sys/devices/pci0000:98", "0000:98:00.0", "15b3", "1017", "020000", "00", "1", "mlx5_core")
	cx5b := t.pci("sys/devices/pci0000:98", "0000:98:00.1", "15b3", "1017", "020000", "00", "1", "mlx5_core")
	nvme0 := t.pci("sys/devices/pci0000:c0", "0000:c1:00.0", "144d", "a80a", "010802", "00", "1", "nvme")
	nvme1 := t.pci("sys/devices/pci0000:c0", "0000:c2:00.0", "144d", "a80a", "010802", "00", "1", "nvme")

	t.netdev(x710a, "eno1", "3c:ec:ef:00:00:01", "1", "10000", "192.0.2.10", "fe80::3eec:efff:fe00:1")
	t.netdev(x710b, "eno2", "3c:ec:ef:00:00:02", "0", "-1")
	t.netdev(cx5a, "ens3f0np0", "b8:59:9f:00:00:0a", "1", "25000", "2001:db8:10::7", "fe80::ba59:9fff:fe00:a")
	t.netdev(cx5b, "ens3f1np1", "b8:59:9f:00:00:0b", "", "")
	usbIf := usb + "/usb1/1-4/1-4:1.0"
	t.link(usbIf+"/driver", "sys/bus/usb/drivers/cdc_ether")
	t.dir("sys/bus/usb/drivers/cdc_ether")
	t.netdev(usbIf, "idrac", "d0:94:66:7a:1b:2d", "1", "425", "169.254.0.2")
	t.virtualNet("lo", "00:00:00:00:00:00")
	t.virtualNet("virbr0", "52:54:00:ab:cd:ef")
	t.virtualNet("tunl0", "00:00:00:00")

	ssd := sata + "/ata1/host0/target0:0:0/0:0:0:0"
	t.file(ssd+"/vendor", "ATA     \n")
	t.file(ssd+"/model", "MTFDDAK480TDS   \n")
	t.file(ssd+"/wwid", "naa.500a07512a3b4c5d\n")
	t.dir(ssd + "/scsi_device/0:0:0:0")
	t.block(ssd, "sda", "8:0", 937703088, false, 512, 4096)
	t.udev("b8:0", "S:disk/by-id/ata-MTFDDAK480TDS_2236391A2B3C", "S:disk/by-path/pci-0000:00:17.0-ata-1",
		"S:disk/by-path/pci-0000:00:17.0-ata-1.0", "E:ID_BUS=ata", "E:ID_MODEL=MTFDDAK480TDS",
		"E:ID_SERIAL=MTFDDAK480TDS_2236391A2B3C", "E:ID_SERIAL_SHORT=2236391A2B3C",
		"E:ID_WWN=0x500a07512a3b4c5d", "E:ID_WWN_WITH_EXTENSION=0x500a07512a3b4c5d", "E:ID_PATH=pci-0000:00:17.0-ata-1")
	t.link("dev/disk/by-path/pci-0000:00:17.0-ata-1", "dev/sda")
	t.link("dev/disk/by-path/pci-0000:00:17.0-ata-1.0", "dev/sda")

	floppy := usb + "/usb1/1-5/1-5:1.0/host15/target15:0:0/15:0:0:0"
	t.file(floppy+"/vendor", "iDRAC   \n")
	t.file(floppy+"/model", "Virtual Floppy  \n")
	t.dir(floppy + "/scsi_device/15:0:0:0")
	t.block(floppy, "sdb", "8:16", 0, false, 512, 512)

	for i, c := range []string{nvme0, nvme1} {
		ctrl := fmt.Sprintf("%s/nvme/nvme%d", c, i)
		t.file(ctrl+"/model", "SAMSUNG MZQL21T9HCJR-00A07              \n")
		t.file(ctrl+"/serial", fmt.Sprintf("S64GNE0R10000%d      \n", i+1))
		t.link(ctrl+"/device", c)
		name := fmt.Sprintf("nvme%dn1", i)
		d := t.block(ctrl, name, fmt.Sprintf("259:%d", i), 3750748848, false, 512, 512)
		eui := fmt.Sprintf("eui.3634483052600%03d0025384500000001", i+1)
		t.file(d+"/wwid", eui+"\n")
		t.udev(fmt.Sprintf("b259:%d", i), "S:disk/by-path/pci-"+filepath.Base(c)+"-nvme-1",
			fmt.Sprintf("E:ID_SERIAL_SHORT=S64GNE0R10000%d", i+1), "E:ID_WWN="+eui)
	}
	t.block("", "loop0", "7:0", 0, false, 512, 512)
}

// gpuServer is a single-socket AMD server with four NVIDIA A100s on two
// NUMA nodes, an ASPEED BMC VGA behind its bridge, a Broadcom NIC (one
// port without link), two NVMe drives, booted by UEFI; no udev.
func gpuServer(t *tree) {
	t.file("proc/sys/kernel/arch", "x86_64\n")
	t.file("proc/sys/kernel/hostname", "gpu-a100-03\n")
	t.file("proc/cmdline", "BOOTIF=01-b4-96-91-aa-bb-01 ferric.api_url=http://192.0.2.1:6385\n")
	t.file("sys/firmware/efi/fw_platform_size", "64\n")
	t.cpus(8, 1, "AMD EPYC 7313P 16-Core Processor", "1500.000",
		"fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl svm avx2", 3000000)
	t.meminfo(131487744)
	var s smbios
	s.array(0x1000, 3)
	for i := 0; i < 8; i++ {
		s.device(uint16(0x1100+i), 0x1000, 16384, 0, fmt.Sprintf("DIMM%c1", 'A'+i))
	}
	s.device(0x1108, 0x1000, 0xFFFF, 0, "DIMMI1") // unknown size: not counted
	t.dmiTable(&s)
	t.dmiID("Supermicro", "AS -4124GS-TNR", "S123456X1A2B3C", "American Megatrends International, LLC.", "2.4", "03/15/2022")

	t.pci("sys/devices/pci0000:00", "0000:00:00.0", "1022", "1480", "060000", "00", "0", "")
	for _, g := range []struct{ root, bridge, addr, numa string }{
		{"pci0000:00", "0000:00:01.1", "0000:01:00.0", "0"},
		{"pci0000:40", "0000:40:01.1", "0000:41:00.0", "0"},
		{"pci0000:80", "0000:80:01.1", "0000:81:00.0", "1"},
		{"pci0000:c0", "0000:c0:01.1", "0000:c1:00.0", "1"},
	} {
		br := t.pci("sys/devices/"+g.root, g.bridge, "1022", "1483", "060400", "", g.numa, "pcieport") // no revision file
		t.pci(br, g.addr, "10de", "20b5", "030200", "a1", g.numa, "")                                  // A100 80GB PCIe, no driver in the ramdisk
	}
	vgaBridge := t.pci("sys/devices/pci0000:60", "0000:61:00.0", "1a03", "1150", "060400", "04", "0", "")
	t.pci(vgaBridge, "0000:62:00.0", "1a03", "2000", "030000", "41", "0", "")
	nicA := t.pci("sys/devices/pci0000:20", "0000:23:00.0", "14e4", "16d8", "020000", "01", "0", "bnxt_en")
	nicB := t.pci("sys/devices/pci0000:20", "0000:23:00.1", "14e4", "16d8", "020000", "01", "0", "bnxt_en")
	t.netdev(nicA, "ens21f0np0", "b4:96:91:aa:bb:01", "1", "10000", "198.51.100.23", "fe80::b696:91ff:feaa:bb01")
	t.netdev(nicB, "ens21f1np1", "b4:96:91:aa:bb:02", "0", "-1")
	t.virtualNet("lo", "00:00:00:00:00:00")

	for i, d := range []struct {
		addr, model, serial string
		sectors             int64
	}{
		{"0000:24:00.0", "Micron_7450_MTFDKCC3T8TFR", "22313AB12345", 7501476528},
		{"0000:25:00.0", "Micron_7450_MTFDKBA480TFR", "22313AB54321", 937703088},
	} {
		c := t.pci("sys/devices/pci0000:20", d.addr, "1344", "51c3", "010802", "01", "0", "nvme")
		ctrl := fmt.Sprintf("%s/nvme/nvme%d", c, i)
		t.file(ctrl+"/model", d.model+"\n")
		t.file(ctrl+"/serial", d.serial+"\n")
		t.link(ctrl+"/device", c)
		blk := t.block(ctrl, fmt.Sprintf("nvme%dn1", i), fmt.Sprintf("259:%d", i), d.sectors, false, 4096, 4096)
		t.file(blk+"/wwid", fmt.Sprintf("nvme.1344-%s-4d6963726f6e-00000001\n", d.serial))
	}
}
