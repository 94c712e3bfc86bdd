package dhcp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// clientKind is what kind of network-boot client sent a request.
type clientKind int

const (
	kindNone clientKind = iota // not booting from the network (an OS's DHCP client, the ramdisk's udhcpc)
	kindPXE                    // PXE firmware (option 60 "PXEClient..."): loads an iPXE binary over TFTP
	kindHTTP                   // UEFI HTTP boot (option 60 "HTTPClient..."): loads an iPXE binary over HTTP
	kindIPXE                   // iPXE itself (user class "iPXE"): loads the boot script over HTTP
)

// client is a request's network-boot identity.
type client struct {
	kind clientKind
	arch iana.Arch // option 93's first entry (INTEL_X86PC when absent)
	// mode is the firmware's boot mode as the request shows it: "bios",
	// "uefi", or "" when it cannot tell.
	mode string
}

// classify reads a request's vendor class (60), user class (77) and client
// architecture (93).
func classify(req *dhcpv4.DHCPv4) client {
	var c client
	if archs := req.ClientArch(); len(archs) > 0 {
		c.arch = archs[0]
		c.mode = archMode(c.arch)
	} else {
		c.arch = iana.INTEL_X86PC
	}
	vc := req.ClassIdentifier()
	switch {
	case isIPXE(req):
		c.kind = kindIPXE
	case strings.HasPrefix(vc, "HTTPClient"):
		c.kind = kindHTTP
	case strings.HasPrefix(vc, "PXEClient"):
		c.kind = kindPXE
	}
	if c.kind != kindNone && c.mode == "" && c.kind != kindIPXE {
		c.mode = "bios" // PXE ROMs without option 93 are legacy BIOS ones
	}
	return c
}

// isIPXE reports whether the user class (option 77) says iPXE. iPXE sends
// it as a plain string, not in RFC 3004's length-prefixed form.
func isIPXE(req *dhcpv4.DHCPv4) bool {
	raw := req.Options.Get(dhcpv4.OptionUserClassInformation)
	return raw != nil && bytes.Contains(raw, []byte("iPXE"))
}

// archMode maps an option 93 architecture to a boot mode.
func archMode(a iana.Arch) string {
	switch a {
	case iana.INTEL_X86PC, iana.INTEL_X86PC_HTTP:
		return "bios"
	case iana.EFI_IA32, iana.EFI_BC, iana.EFI_X86_64, iana.EFI_ARM64, iana.EFI_X86_HTTP, iana.EFI_X86_64_HTTP,
		iana.EFI_BC_HTTP, iana.EFI_ARM32_HTTP, iana.EFI_ARM64_HTTP, iana.EFI_ARM32:
		return "uefi"
	}
	return ""
}

// bootOffer is what a client is told to boot.
type bootOffer struct {
	file string // the boot file: a TFTP file name or an http:// URL
	tftp bool   // file is on this server's TFTP side
	// vendorClass is echoed in option 60: "PXEClient" or "HTTPClient".
	vendorClass string
}

// bootFile picks the file for c: the iPXE binary for its architecture, or
// for iPXE itself the boot script. ok is false (with the reason) when the
// client cannot be served.
func (h *handler) bootFile(c client) (bootOffer, string, bool) {
	switch c.kind {
	case kindIPXE:
		return bootOffer{file: h.httpURL + "/boot.ipxe", vendorClass: "PXEClient"}, "", true
	case kindHTTP:
		name := h.uefiFile
		if c.arch == iana.EFI_ARM64_HTTP {
			name = h.arm64File
		} else if c.arch != iana.EFI_X86_64_HTTP && c.arch != iana.EFI_BC_HTTP {
			return bootOffer{}, fmt.Sprintf("no iPXE binary for HTTP boot architecture %s", c.arch), false
		}
		if !h.binaryExists(name) {
			return bootOffer{}, fmt.Sprintf("iPXE binary %s for %s is not in %s", name, c.arch, h.cfg.IPXEDir), false
		}
		return bootOffer{file: h.httpURL + "/ipxe-bin/" + name, vendorClass: "HTTPClient"}, "", true
	case kindPXE:
		var name string
		switch c.arch {
		case iana.INTEL_X86PC:
			name = h.biosFile
		case iana.EFI_X86_64, iana.EFI_BC:
			name = h.uefiFile
		case iana.EFI_ARM64:
			name = h.arm64File
		default:
			return bootOffer{}, fmt.Sprintf("no iPXE binary for PXE architecture %s", c.arch), false
		}
		if !h.cfg.TFTP {
			return bootOffer{}, "PXE firmware loads its first file over TFTP, and the boot server's TFTP side is off", false
		}
		if !h.binaryExists(name) {
			return bootOffer{}, fmt.Sprintf("iPXE binary %s for %s is not in %s", name, c.arch, h.cfg.IPXEDir), false
		}
		return bootOffer{file: name, tftp: true, vendorClass: "PXEClient"}, "", true
	}
	return bootOffer{}, "not a network-boot client", false
}

// binaryExists reports whether IPXEDir holds the regular file name. It is
// asked per request, so a binary added later is offered without a restart.
func (h *handler) binaryExists(name string) bool {
	if name == "" || h.cfg.IPXEDir == "" || strings.ContainsAny(name, "/\\") || name[0] == '.' {
		return false
	}
	fi, err := os.Stat(filepath.Join(h.cfg.IPXEDir, name))
	return err == nil && fi.Mode().IsRegular()
}
