// Package dhcp is ferric's DHCP server for the provisioning network: the
// first hop of a network boot. It tells PXE firmware which iPXE binary to
// load (by client architecture: legacy BIOS, UEFI x86-64, UEFI HTTP boot,
// arm64), and iPXE where its per-node script is, in one of two modes:
//
//   - ModeProxy (proxyDHCP): another server hands out addresses; this one only
//     answers PXE clients with the boot server and file name, on port 67 (the
//     broadcast offer) and on port 4011 (the PXE boot server request).
//   - ModeFull: this server also leases addresses from a configured range,
//     with subnet options; an enrolled port's MAC keeps its address (a
//     reservation); leases are stored by a Leases implementation (PostgreSQL
//     in ferric), so a restart never hands out an address twice.
//
// Only MAC addresses that belong to an enrolled port get a boot offer, unless
// Config.BootUnknown allows booting unknown machines into the ramdisk for
// discovery: a machine that ferric does not manage is never network-booted by
// accident. When a node records a boot mode (uefi or bios) and its firmware
// asks in the other one, it gets no boot offer and the mismatch is reported
// through Hosts.ReportBootModeMismatch.
//
// Packets are encoded and decoded with github.com/insomniacslk/dhcp/dhcpv4;
// the sockets and the serving loop are this package's own (the library's
// server4 sets SO_REUSEPORT, which would hide another DHCP server bound to the
// same port, and starts one goroutine per packet without bound).
//
// The package knows nothing of Temporal, HTTP frameworks or the database: its
// Hosts and Leases are implemented over the store elsewhere and handed in.
package dhcp

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"
)

// Mode is how the server takes part in DHCP on the provisioning network.
type Mode string

// Modes. "off" (an external DHCP server chainloads ferric's iPXE) is no
// server at all: the caller does not start one.
const (
	ModeProxy Mode = "proxy"
	ModeFull  Mode = "full"
)

// Default file names of the iPXE binaries in Config.IPXEDir (Debian's ipxe
// package for the first two).
const (
	DefaultBIOSFile  = "undionly.kpxe"
	DefaultUEFIFile  = "snponly.efi"
	DefaultARM64File = "snponly-arm64.efi"
)

// Sentinel errors.
var (
	ErrBadConfig   = errors.New("dhcp: bad configuration")
	ErrInterface   = errors.New("dhcp: provisioning interface not found")
	ErrPortInUse   = errors.New("dhcp: port already in use")
	ErrPermission  = errors.New("dhcp: not permitted to listen")
	ErrNoAddress   = errors.New("dhcp: no free address in the range")
	ErrStarted     = errors.New("dhcp: server already started")
	ErrNotStarted  = errors.New("dhcp: server not started")
	errMalformed   = errors.New("dhcp: malformed request")
	errUnsupported = errors.New("dhcp: unsupported request")
)

// Config configures a Server. Only main fills it in (from flags and FERRIC_*).
type Config struct {
	Mode Mode
	// Interface is the provisioning interface's name ("br0"). Address picks
	// it by one of its IPv4 addresses instead; with both, Address must be on
	// Interface. The address is the server identifier and the TFTP server
	// given to clients.
	Interface string
	Address   netip.Addr
	// Port is the DHCP server port (0: 67); ProxyPort the PXE boot server
	// port that proxy mode also serves (0: 4011). Tests change them.
	Port      int
	ProxyPort int
	// ClientPort is where broadcast replies go (0: 68).
	ClientPort int

	// Full mode: the subnet clients are put on, the range leased from it
	// (inclusive), the routers and DNS servers announced, and the lease
	// time (0: 1 hour).
	Subnet     netip.Prefix
	RangeStart netip.Addr
	RangeEnd   netip.Addr
	Routers    []netip.Addr
	DNS        []netip.Addr
	LeaseTime  time.Duration

	// BootUnknown gives a boot offer to MAC addresses that belong to no
	// enrolled port (discovery): the boot server then boots them into the
	// deploy ramdisk. Off by default.
	BootUnknown bool

	// HTTPURL is how clients reach the boot server's HTTP side (iPXE
	// scripts, HTTP boot binaries), e.g. "http://10.0.0.1:8080". Empty:
	// http://<server address>:HTTPPort.
	HTTPURL  string
	HTTPPort int
	// TFTP says the boot server's TFTP side runs on the server address (port
	// 69): PXE ROM clients load their iPXE binary from it. Without it, only
	// HTTP boot and iPXE clients get a boot offer.
	TFTP bool
	// IPXEDir holds the iPXE binaries; BIOSFile, UEFIFile and ARM64File name
	// them (defaults above). A binary that is not there is not offered.
	IPXEDir   string
	BIOSFile  string
	UEFIFile  string
	ARM64File string

	// Workers is how many requests are handled at once (0: 16); requests
	// beyond a queue of eight times as many are dropped (clients
	// retransmit).
	Workers int

	// Log receives one line per answered or refused boot request. Nil
	// discards.
	Log *slog.Logger
}

// Host is what the server knows of a MAC address that belongs to an enrolled
// port.
type Host struct {
	NodeUUID string
	// PXEEnabled is the port's pxe_enabled: false means no boot offer.
	PXEEnabled bool
	// BootMode is the node's recorded boot mode: "uefi", "bios" or "" (any).
	BootMode string
}

// Hosts tells the server which MAC addresses belong to enrolled ports.
type Hosts interface {
	// Host returns the enrolled port with MAC mac (lower-case, colon form);
	// ok is false when no port has it.
	Host(ctx context.Context, mac string) (h Host, ok bool, err error)
	// ReportBootModeMismatch records msg as the node's last error while the
	// node is being provisioned (a no-op otherwise).
	ReportBootModeMismatch(ctx context.Context, nodeUUID, msg string) error
}

// LeaseRequest asks for an address for MAC in [RangeStart, RangeEnd].
type LeaseRequest struct {
	MAC        string
	RangeStart netip.Addr
	RangeEnd   netip.Addr
	// Requested is the address the client asks for (invalid: none); it is
	// given when it is free.
	Requested netip.Addr
	// Hold is how long the address stays the client's from now (an offer's
	// hold, or the lease time); a longer existing lease is kept.
	Hold time.Duration
	// Reserve makes the address the MAC's for good: it never expires and is
	// never given to another MAC while the MAC belongs to a port.
	Reserve bool
	// Hostname is the client's host name option, kept for operators.
	Hostname string
}

// Leases stores leases (full mode).
type Leases interface {
	// AcquireLease returns the MAC's address: the one it already holds
	// (lease or reservation, renewed to Hold) when it is in range, else
	// Requested when free, else a free one. ErrNoAddress when the range is
	// exhausted.
	AcquireLease(ctx context.Context, r LeaseRequest) (netip.Addr, error)
	// ReleaseLease ends the MAC's lease of ip (reservations stay).
	ReleaseLease(ctx context.Context, mac string, ip netip.Addr) error
}
