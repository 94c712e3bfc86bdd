package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/dhcp"
	"github.com/ferric-project/ferric/store"
)

// dhcpHosts is dhcp.Hosts over the store: enrolled ports, their nodes' boot
// modes, and mismatches written to last_error.
type dhcpHosts struct{ st *store.Store }

func (d dhcpHosts) Host(ctx context.Context, mac string) (dhcp.Host, bool, error) {
	h, ok, err := d.st.DHCPHostByMAC(ctx, mac)
	if err != nil || !ok {
		return dhcp.Host{}, false, err
	}
	return dhcp.Host{NodeUUID: h.NodeUUID, PXEEnabled: h.PXEEnabled,
		BootMode: drivers.BootMode(h.InstanceInfo, h.Properties)}, true, nil
}

func (d dhcpHosts) ReportBootModeMismatch(ctx context.Context, nodeUUID, msg string) error {
	return d.st.SetBootModeMismatch(ctx, nodeUUID, msg)
}

// dhcpLeases is dhcp.Leases over the store's lease table.
type dhcpLeases struct{ st *store.Store }

func (d dhcpLeases) AcquireLease(ctx context.Context, r dhcp.LeaseRequest) (netip.Addr, error) {
	ip, err := d.st.AcquireDHCPLease(ctx, store.DHCPLeaseRequest{MAC: r.MAC, RangeStart: r.RangeStart,
		RangeEnd: r.RangeEnd, Requested: r.Requested, Hold: r.Hold, Reserved: r.Reserve, Hostname: r.Hostname})
	if errors.Is(err, store.ErrNotFound) {
		return netip.Addr{}, fmt.Errorf("%w: %w", dhcp.ErrNoAddress, err)
	}
	return ip, err
}

func (d dhcpLeases) ReleaseLease(ctx context.Context, mac string, ip netip.Addr) error {
	return d.st.ReleaseDHCPLease(ctx, mac, ip)
}

// dhcpConfig is the DHCP server's part of config, parsed and checked.
type dhcpConfig struct {
	mode        string // off, proxy or full
	iface       string
	address     netip.Addr
	subnet      netip.Prefix
	rangeStart  netip.Addr
	rangeEnd    netip.Addr
	routers     []netip.Addr
	dns         []netip.Addr
	bootUnknown bool
	biosFile    string
	uefiFile    string
	arm64File   string
	// port and proxyPort, when set (tests), replace 67 and 4011.
	port, proxyPort, clientPort int
}

// parseDHCP checks the -dhcp-* flags' values.
func parseDHCP(c *dhcpConfig, address, subnet, rng, routers, dns string) error {
	switch c.mode {
	case "off", "proxy", "full":
	default:
		return fmt.Errorf("-dhcp-mode %q: want off, proxy or full", c.mode)
	}
	var err error
	if address != "" {
		if c.address, err = netip.ParseAddr(address); err != nil || !c.address.Is4() {
			return fmt.Errorf("-dhcp-address %q: want an IPv4 address of the provisioning interface", address)
		}
	}
	if subnet != "" {
		if c.subnet, err = netip.ParsePrefix(subnet); err != nil || !c.subnet.Addr().Is4() {
			return fmt.Errorf("-dhcp-subnet %q: want an IPv4 prefix such as 10.0.0.0/24", subnet)
		}
		c.subnet = c.subnet.Masked()
	}
	if rng != "" {
		lo, hi, ok := strings.Cut(rng, "-")
		if c.rangeStart, err = netip.ParseAddr(strings.TrimSpace(lo)); ok && err == nil {
			c.rangeEnd, err = netip.ParseAddr(strings.TrimSpace(hi))
		}
		if !ok || err != nil {
			return fmt.Errorf("-dhcp-range %q: want FIRST-LAST, such as 10.0.0.100-10.0.0.200", rng)
		}
	}
	list := func(flag, v string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is4() {
				return nil, fmt.Errorf("-%s %q: want IPv4 addresses, comma-separated", flag, v)
			}
			out = append(out, a)
		}
		return out, nil
	}
	if c.routers, err = list("dhcp-router", routers); err != nil {
		return err
	}
	if c.dns, err = list("dhcp-dns", dns); err != nil {
		return err
	}
	if c.mode == "off" {
		return nil
	}
	if c.iface == "" && !c.address.IsValid() {
		return fmt.Errorf("-dhcp-mode %s needs the provisioning interface: -dhcp-interface NAME or -dhcp-address IP "+
			"(or -dhcp-mode off when another DHCP server chainloads ferric's iPXE)", c.mode)
	}
	if c.mode == "full" && (!c.subnet.IsValid() || !c.rangeStart.IsValid()) {
		return fmt.Errorf("-dhcp-mode full needs -dhcp-subnet and -dhcp-range")
	}
	return nil
}

// newDHCPServer builds the DHCP server, or returns nil when -dhcp-mode is
// off.
func newDHCPServer(cfg config, log *slog.Logger, st *store.Store) (*dhcp.Server, error) {
	d := cfg.dhcp
	if d.mode == "" || d.mode == "off" {
		return nil, nil
	}
	c := dhcp.Config{Mode: dhcp.Mode(d.mode), Interface: d.iface, Address: d.address,
		Port: d.port, ProxyPort: d.proxyPort, ClientPort: d.clientPort,
		Subnet: d.subnet, RangeStart: d.rangeStart, RangeEnd: d.rangeEnd, Routers: d.routers, DNS: d.dns,
		LeaseTime: cfg.dhcpLeaseTime, BootUnknown: d.bootUnknown, HTTPURL: cfg.bootPublicURL,
		IPXEDir: cfg.ipxeDir, BIOSFile: d.biosFile, UEFIFile: d.uefiFile, ARM64File: d.arm64File,
		Log: log.With("component", "dhcp")}
	if cfg.bootHTTPAddr != "" {
		_, port, err := net.SplitHostPort(cfg.bootHTTPAddr)
		if err != nil {
			return nil, fmt.Errorf("dhcp: -boot-http-address %q: %w", cfg.bootHTTPAddr, err)
		}
		if c.HTTPPort, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("dhcp: -boot-http-address %q: bad port", cfg.bootHTTPAddr)
		}
	}
	// PXE firmware asks TFTP on port 69 of the next server, nowhere else.
	if cfg.tftpAddr != "" {
		_, port, err := net.SplitHostPort(cfg.tftpAddr)
		c.TFTP = err == nil && port == "69"
		if !c.TFTP {
			log.Warn("dhcp: the TFTP side is not on port 69, where PXE firmware looks: only iPXE and UEFI HTTP boot clients get a boot offer",
				"tftp_address", cfg.tftpAddr)
		}
	}
	var leases dhcp.Leases
	if d.mode == "full" {
		leases = dhcpLeases{st}
	}
	srv, err := dhcp.New(c, dhcpHosts{st}, leases)
	if err != nil {
		return nil, err
	}
	return srv, nil
}
