package pxe

import (
	"fmt"
	"strings"
)

// bootScript is served as boot.ipxe over HTTP and TFTP. The chain target is a
// relative URI: iPXE resolves it against this script's own URI, so the same
// text works whether the DHCP boot file was http://host:port/boot.ipxe or
// tftp://host/boot.ipxe. netX is the interface iPXE opened last (the one that
// booted), so a node with several NICs asks with the right MAC.
const bootScript = `#!ipxe
# ferric: ask the boot server what this interface should boot.
chain ipxe/${netX/mac:hexhyp} || goto retry
exit
:retry
echo ferric: no boot script for ${netX/mac} yet, retrying in 5 seconds
sleep 5
chain ipxe/${netX/mac:hexhyp} || goto localdisk
exit
:localdisk
echo ferric: boot server unreachable, booting the local disk
sanboot --no-describe --drive 0x80 || exit
`

// localDiskScript boots the first BIOS disk; on UEFI (or without a bootable
// disk) sanboot fails and exit hands control back to the firmware, which tries
// its next boot option.
func localDiskScript(mac string) string {
	return `#!ipxe
echo ferric: ` + mac + ` is not deploying, booting the local disk
sanboot --no-describe --drive 0x80 || exit
`
}

// nodeScript renders the per-node iPXE script. base is the HTTP URL nodes use
// to reach this server (no trailing slash); mac is normalized.
func nodeScript(base, mac string, cfg BootConfig, ok bool) (string, error) {
	if !ok || cfg.LocalDisk {
		return localDiskScript(mac), nil
	}
	kernel, err := imageURL(base, cfg.Kernel, DefaultKernel)
	if err != nil {
		return "", err
	}
	initrd, err := imageURL(base, cfg.Initramfs, DefaultInitramfs)
	if err != nil {
		return "", err
	}
	if i := strings.IndexFunc(cfg.Cmdline, isControl); i >= 0 {
		return "", fmt.Errorf("%w: control character in kernel command line at %d", ErrBadBoot, i)
	}
	// initrd=<name> lets a UEFI kernel's EFI stub find the initramfs that iPXE
	// registered under that name; BIOS kernels ignore it. BOOTIF is the
	// pxelinux convention for "the interface that booted".
	args := "initrd=initrd BOOTIF=01-" + strings.ReplaceAll(mac, ":", "-")
	if c := strings.TrimSpace(cfg.Cmdline); c != "" {
		args += " " + c
	}
	var b strings.Builder
	b.WriteString("#!ipxe\n")
	b.WriteString(":start\n")
	b.WriteString("echo ferric: " + mac + " boots the deploy ramdisk\n")
	b.WriteString("kernel --name kernel " + kernel + " " + args + " || goto retry\n")
	b.WriteString("initrd --name initrd " + initrd + " || goto retry\n")
	b.WriteString("boot || goto retry\n")
	b.WriteString(":retry\n")
	b.WriteString("echo ferric: loading the deploy ramdisk failed, retrying in 10 seconds\n")
	b.WriteString("imgfree\n")
	b.WriteString("sleep 10\n")
	b.WriteString("goto start\n")
	return b.String(), nil
}

// imageURL turns a BootConfig file reference into a URL: absolute URLs pass
// through, plain names are served from RamdiskDir under /images/.
func imageURL(base, name, def string) (string, error) {
	if name == "" {
		name = def
	}
	if strings.Contains(name, "://") {
		if strings.ContainsFunc(name, func(r rune) bool { return r == ' ' || isControl(r) }) {
			return "", fmt.Errorf("%w: bad image URL %q", ErrBadBoot, name)
		}
		return name, nil
	}
	if !validName(name) {
		return "", fmt.Errorf("%w: bad image name %q", ErrBadBoot, name)
	}
	if base == "" {
		return "", errNoHTTPSource
	}
	return base + "/images/" + name, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// validName reports whether name is a single, visible path element: no
// separators, no "..", no dot files. Served files are looked up with it, so a
// client can never leave the configured directory.
func validName(name string) bool {
	return name != "" && name[0] != '.' &&
		!strings.ContainsAny(name, "/\\") && !strings.ContainsFunc(name, isControl)
}
