// Package pxe is ferric's network boot server.
//
// TFTP carries the small first hop: the iPXE binaries that PXE firmware loads
// (undionly.kpxe for BIOS, ipxe.efi or snponly.efi for UEFI) and, for clients
// that were given a TFTP boot file, the iPXE scripts. HTTP carries the rest:
// the same iPXE scripts and the deploy kernel and initramfs, with Range
// support. What a node boots is decided per request by a Configs source keyed
// by MAC address: the deploy ramdisk while the node is being provisioned, its
// local disk otherwise.
//
// The package knows nothing about Temporal, HTTP frameworks or the database:
// the Configs source is implemented elsewhere (over the store) and handed in.
package pxe

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Default file names under Config.RamdiskDir, as written by `make ramdisk`.
const (
	DefaultKernel    = "vmlinuz"
	DefaultInitramfs = "initramfs"
)

// Sentinel errors.
var (
	ErrBadMAC       = errors.New("pxe: malformed MAC address")
	ErrBadConfig    = errors.New("pxe: bad configuration")
	ErrBadBoot      = errors.New("pxe: bad boot configuration")
	ErrStarted      = errors.New("pxe: server already started")
	ErrNotStarted   = errors.New("pxe: server not started")
	errNoHTTPSource = errors.New("pxe: no HTTP URL to give to nodes (set PublicHTTPURL or HTTPAddr)")
)

// Config configures a Server. Only main fills it in (from flags and FERRIC_*).
type Config struct {
	// TFTPAddr is the UDP listen address: ":69" in production, "127.0.0.1:0"
	// or ":6969" in development (QEMU user networking intercepts port 69 on
	// 10.0.2.2). Empty disables TFTP.
	TFTPAddr string
	// HTTPAddr is the TCP listen address of the HTTP side, e.g. ":8080".
	// Empty disables the listener; Handler can still be mounted elsewhere.
	HTTPAddr string
	// IPXEDir holds the iPXE binaries served over TFTP (Debian's ipxe
	// package: /usr/lib/ipxe with undionly.kpxe, ipxe.efi, snponly.efi).
	IPXEDir string
	// RamdiskDir holds the deploy kernel and initramfs (`make ramdisk` writes
	// ramdisk/out/vmlinuz and ramdisk/out/initramfs), served at /images/.
	RamdiskDir string
	// PublicHTTPURL is how nodes reach the HTTP side, e.g.
	// "http://10.0.2.2:8080". Empty means: the Host header of HTTP requests,
	// and for TFTP requests the address the request arrived on plus the port
	// of HTTPAddr.
	PublicHTTPURL string
	// TLS, when set, makes the HTTP side serve HTTPS (its GetCertificate may
	// reload the certificate); the URLs handed to nodes are then https
	// unless PublicHTTPURL says otherwise. iPXE must trust the certificate's
	// CA (built in, or an iPXE with the CA embedded).
	TLS *tls.Config
	// TFTPTimeout is how long the TFTP side waits for one acknowledgement
	// before retransmitting (5 tries). Zero means 2 s.
	TFTPTimeout time.Duration
	// Log receives one line per boot decision and per failed transfer. Nil
	// discards.
	Log *slog.Logger
}

// BootConfig is what one MAC address should boot.
type BootConfig struct {
	// LocalDisk makes the node boot its first local disk (as if no
	// configuration existed).
	LocalDisk bool
	// Kernel and Initramfs are file names under Config.RamdiskDir (served as
	// <PublicHTTPURL>/images/<name>) or absolute URLs. Empty means
	// DefaultKernel and DefaultInitramfs.
	Kernel    string
	Initramfs string
	// Cmdline is the kernel command line, for example
	// "console=ttyS0 quiet ferric.api_url=http://10.0.2.2:6385 ferric.node=<uuid>".
	// The server appends initrd= (needed by UEFI kernels) and BOOTIF=.
	Cmdline string
}

// Configs tells the server what a MAC address should boot. It is consulted on
// every per-node script request; another package implements it over the
// store.
type Configs interface {
	// BootConfig returns the boot configuration for mac, which is normalized
	// (lower case, colon-separated: "52:54:00:12:34:56"). ok is false when no
	// node with that MAC is deploying: the node then boots its local disk. An
	// error means "unknown right now": the node is told to retry.
	BootConfig(ctx context.Context, mac string) (cfg BootConfig, ok bool, err error)
}

// ConfigsFunc adapts a function to Configs.
type ConfigsFunc func(ctx context.Context, mac string) (BootConfig, bool, error)

// BootConfig calls f.
func (f ConfigsFunc) BootConfig(ctx context.Context, mac string) (BootConfig, bool, error) {
	return f(ctx, mac)
}

// NormalizeMAC returns mac as six lower-case, colon-separated hex bytes. It
// accepts the colon form, iPXE's hex-hyphen form (${mac:hexhyp}), pxelinux's
// "01-" prefixed form, Cisco's dotted form and 12 bare hex digits, in any case.
func NormalizeMAC(mac string) (string, error) {
	s := strings.TrimSpace(mac)
	if len(s) == 20 && strings.HasPrefix(s, "01-") { // pxelinux: ARP type 1 (Ethernet)
		s = s[3:]
	}
	if len(s) == 12 {
		b, err := hex.DecodeString(s)
		if err != nil {
			return "", fmt.Errorf("%w: %q", ErrBadMAC, mac)
		}
		return net.HardwareAddr(b).String(), nil
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%w: %q", ErrBadMAC, mac)
	}
	return hw.String(), nil
}
