package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

const (
	defaultLeaseTime = time.Hour
	// offerHold is how long an offered address stays the client's before
	// its REQUEST: long enough for slow firmware, short enough that a pool
	// probed by many clients that never request does not drain.
	offerHold = time.Minute
	// maxPacket is the largest request handled: far above what clients send
	// (a PXE DISCOVER is ~550 bytes), below anything that needs thought.
	maxPacket = 4096
)

// via is the port a request arrived on.
type via int

const (
	viaServer via = iota // the DHCP server port (67)
	viaProxy             // the PXE boot server port (4011), proxy mode
)

// handler answers requests. It holds no socket: handle maps one datagram to
// at most one reply, which makes it testable and fuzzable on its own.
type handler struct {
	cfg      Config
	hosts    Hosts
	leases   Leases
	log      *slog.Logger
	serverIP netip.Addr
	httpURL  string // no trailing slash

	biosFile, uefiFile, arm64File string
}

// reply is an answer and where it is sent.
type reply struct {
	msg *dhcpv4.DHCPv4
	dst netip.AddrPort
}

// handle decodes raw (from the client address from, on port v) and returns
// the reply to send, or nil when the request gets none. Malformed requests
// are errMalformed; a failing Hosts or Leases is returned wrapped.
func (h *handler) handle(ctx context.Context, raw []byte, from netip.AddrPort, v via) (*reply, error) {
	if len(raw) > maxPacket {
		return nil, fmt.Errorf("%w: %d bytes", errMalformed, len(raw))
	}
	req, err := dhcpv4.FromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if req.OpCode != dhcpv4.OpcodeBootRequest || req.HWType != iana.HWTypeEthernet || len(req.ClientHWAddr) != 6 {
		return nil, fmt.Errorf("%w: op %d, hardware type %d, %d-byte hardware address", errUnsupported,
			req.OpCode, req.HWType, len(req.ClientHWAddr))
	}
	mt := req.MessageType()
	mac := req.ClientHWAddr.String()
	log := h.log.With("mac", mac, "xid", req.TransactionID.String(), "type", mt.String())

	switch h.cfg.Mode {
	case ModeProxy:
		switch {
		case v == viaServer && mt == dhcpv4.MessageTypeDiscover:
			return h.proxyReply(ctx, log, req, mac, dhcpv4.MessageTypeOffer, h.broadcast())
		case v == viaProxy && (mt == dhcpv4.MessageTypeRequest || mt == dhcpv4.MessageTypeInform):
			return h.proxyReply(ctx, log, req, mac, dhcpv4.MessageTypeAck, from)
		}
		return nil, nil
	case ModeFull:
		if v != viaServer {
			return nil, nil
		}
		switch mt {
		case dhcpv4.MessageTypeDiscover:
			return h.fullLease(ctx, log, req, mac, dhcpv4.MessageTypeOffer)
		case dhcpv4.MessageTypeRequest:
			return h.fullLease(ctx, log, req, mac, dhcpv4.MessageTypeAck)
		case dhcpv4.MessageTypeInform:
			return h.inform(ctx, log, req, mac)
		case dhcpv4.MessageTypeRelease:
			ip, ok := addr4(req.ClientIPAddr)
			if !ok {
				return nil, nil
			}
			if err := h.leases.ReleaseLease(ctx, mac, ip); err != nil {
				return nil, fmt.Errorf("release %s of %s: %w", ip, mac, err)
			}
			log.Debug("dhcp release", "ip", ip)
			return nil, nil
		case dhcpv4.MessageTypeDecline:
			log.Warn("dhcp decline: a client found its offered address in use", "ip", req.RequestedIPAddress())
			return nil, nil
		}
	}
	return nil, nil
}

// proxyReply answers a network-boot client with its boot file only: no
// address (yiaddr stays 0), as a proxyDHCP server does.
func (h *handler) proxyReply(ctx context.Context, log *slog.Logger, req *dhcpv4.DHCPv4, mac string,
	mt dhcpv4.MessageType, dst netip.AddrPort) (*reply, error) {
	c := classify(req)
	if c.kind == kindNone {
		return nil, nil
	}
	offer, err := h.decide(ctx, log, c, mac)
	if err != nil || offer == nil {
		return nil, err
	}
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(mt),
		dhcpv4.WithClientIP(req.ClientIPAddr),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(h.serverIP.AsSlice())),
	)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", mt, err)
	}
	h.addBoot(resp, c, offer)
	log.Info("dhcp boot offer", "mode", "proxy", "client", c.String(), "file", offer.file)
	return &reply{msg: resp, dst: dst}, nil
}

// fullLease answers a DISCOVER (OFFER) or REQUEST (ACK or NAK) in full mode.
func (h *handler) fullLease(ctx context.Context, log *slog.Logger, req *dhcpv4.DHCPv4, mac string,
	mt dhcpv4.MessageType) (*reply, error) {
	requested, _ := addr4(req.RequestedIPAddress())
	if mt == dhcpv4.MessageTypeAck {
		if sid, ok := addr4(req.ServerIdentifier()); ok && sid != h.serverIP {
			return nil, nil // the client took another server's offer
		}
		if !requested.IsValid() {
			requested, _ = addr4(req.ClientIPAddr) // renewing or rebinding
		}
		if !requested.IsValid() {
			return nil, nil
		}
	}
	host, known, err := h.hosts.Host(ctx, mac)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", mac, err)
	}
	hold := offerHold
	if mt == dhcpv4.MessageTypeAck {
		hold = h.leaseTime()
	}
	ip, err := h.leases.AcquireLease(ctx, LeaseRequest{MAC: mac, RangeStart: h.cfg.RangeStart, RangeEnd: h.cfg.RangeEnd,
		Requested: requested, Hold: hold, Reserve: known, Hostname: req.HostName()})
	switch {
	case errors.Is(err, ErrNoAddress):
		log.Warn("dhcp: no free address in the range", "range", h.cfg.RangeStart.String()+"-"+h.cfg.RangeEnd.String())
		if mt == dhcpv4.MessageTypeAck {
			return h.nak(req, "no free address")
		}
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("lease for %s: %w", mac, err)
	}
	if mt == dhcpv4.MessageTypeAck && ip != requested {
		log.Info("dhcp nak: the client asks for another address than its own", "requested", requested, "lease", ip)
		return h.nak(req, "address not leased to this client")
	}
	resp, err := dhcpv4.NewReplyFromRequest(req, append(h.subnetOptions(mt),
		dhcpv4.WithYourIP(ip.AsSlice()),
		dhcpv4.WithLeaseTime(uint32(hold/time.Second)),
	)...)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", mt, err)
	}
	c := classify(req)
	var file string
	if c.kind != kindNone {
		offer, err := h.decideKnown(ctx, log, c, mac, host, known)
		if err != nil {
			return nil, err
		}
		if offer != nil {
			h.addBoot(resp, c, offer)
			file = offer.file
			if c.kind == kindIPXE {
				// iPXE option 175.176 (no-pxedhcp): this answer is complete,
				// do not wait for a proxyDHCP one (~3 s saved per boot).
				resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(175), []byte{176, 1, 1}))
			}
		}
	}
	log.Info("dhcp lease", "ip", ip, "client", c.String(), "known", known, "file", file)
	return &reply{msg: resp, dst: h.replyDst(req)}, nil
}

// inform answers a DHCPINFORM (a client with an address asks for options).
func (h *handler) inform(ctx context.Context, log *slog.Logger, req *dhcpv4.DHCPv4, mac string) (*reply, error) {
	resp, err := dhcpv4.NewReplyFromRequest(req, append(h.subnetOptions(dhcpv4.MessageTypeAck),
		dhcpv4.WithClientIP(req.ClientIPAddr))...)
	if err != nil {
		return nil, fmt.Errorf("build inform ack: %w", err)
	}
	if c := classify(req); c.kind != kindNone {
		offer, err := h.decide(ctx, log, c, mac)
		if err != nil {
			return nil, err
		}
		if offer != nil {
			h.addBoot(resp, c, offer)
		}
	}
	return &reply{msg: resp, dst: h.replyDst(req)}, nil
}

func (h *handler) nak(req *dhcpv4.DHCPv4, msg string) (*reply, error) {
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(h.serverIP.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptMessage(msg)),
	)
	if err != nil {
		return nil, fmt.Errorf("build nak: %w", err)
	}
	dst := h.broadcast()
	if gw, ok := addr4(req.GatewayIPAddr); ok {
		dst = netip.AddrPortFrom(gw, uint16(h.serverPort()))
		resp.SetBroadcast()
	}
	return &reply{msg: resp, dst: dst}, nil
}

// subnetOptions are full mode's options: message type, server identifier,
// mask, routers, DNS servers.
func (h *handler) subnetOptions(mt dhcpv4.MessageType) []dhcpv4.Modifier {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(mt),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(h.serverIP.AsSlice())),
		dhcpv4.WithNetmask(net.CIDRMask(h.cfg.Subnet.Bits(), 32)),
	}
	if len(h.cfg.Routers) > 0 {
		mods = append(mods, dhcpv4.WithRouter(ips(h.cfg.Routers)...))
	}
	if len(h.cfg.DNS) > 0 {
		mods = append(mods, dhcpv4.WithDNS(ips(h.cfg.DNS)...))
	}
	return mods
}

// decide looks mac up and decides its boot offer (nil: none).
func (h *handler) decide(ctx context.Context, log *slog.Logger, c client, mac string) (*bootOffer, error) {
	host, known, err := h.hosts.Host(ctx, mac)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", mac, err)
	}
	return h.decideKnown(ctx, log, c, mac, host, known)
}

// decideKnown is decide once the MAC is looked up: only enrolled ports
// (pxe_enabled) unless BootUnknown, in the node's boot mode, with a binary
// for the client's architecture.
func (h *handler) decideKnown(ctx context.Context, log *slog.Logger, c client, mac string, host Host, known bool) (*bootOffer, error) {
	switch {
	case !known && !h.cfg.BootUnknown:
		log.Info("dhcp: no boot offer: the MAC belongs to no enrolled port (enroll it, or allow discovery)", "client", c.String())
		return nil, nil
	case known && !host.PXEEnabled:
		log.Info("dhcp: no boot offer: the port is not pxe_enabled", "node", host.NodeUUID)
		return nil, nil
	case known && host.BootMode != "" && c.mode != "" && host.BootMode != c.mode:
		msg := fmt.Sprintf("boot mode mismatch: the node's boot_mode is %s, but its NIC %s network-boots in %s mode "+
			"(DHCP client architecture %s); set the firmware to %s boot, or the node's boot_mode to %s",
			host.BootMode, mac, c.mode, c.arch, host.BootMode, c.mode)
		log.Warn("dhcp: no boot offer: "+msg, "node", host.NodeUUID)
		if err := h.hosts.ReportBootModeMismatch(ctx, host.NodeUUID, msg); err != nil {
			return nil, fmt.Errorf("report boot mode mismatch of node %s: %w", host.NodeUUID, err)
		}
		return nil, nil
	}
	offer, reason, ok := h.bootFile(c)
	if !ok {
		log.Warn("dhcp: no boot offer: "+reason, "client", c.String(), "node", host.NodeUUID)
		return nil, nil
	}
	return &offer, nil
}

// addBoot puts the boot offer in resp: next server and boot file (both in
// the BOOTP header and as options 66/67), the echoed vendor class, and for
// PXE firmware option 43's discovery control (boot the file given here; no
// boot server discovery).
func (h *handler) addBoot(resp *dhcpv4.DHCPv4, c client, o *bootOffer) {
	resp.ServerIPAddr = h.serverIP.AsSlice()
	resp.BootFileName = o.file
	resp.UpdateOption(dhcpv4.OptBootFileName(o.file))
	resp.UpdateOption(dhcpv4.OptClassIdentifier(o.vendorClass))
	if o.tftp {
		resp.UpdateOption(dhcpv4.OptTFTPServerName(h.serverIP.String()))
	}
	if c.kind == kindPXE {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, []byte{6, 1, 8, 255}))
	}
}

// replyDst is where a full-mode reply goes (RFC 2131 4.1): the relay, the
// client's address when it has one, else broadcast.
func (h *handler) replyDst(req *dhcpv4.DHCPv4) netip.AddrPort {
	if gw, ok := addr4(req.GatewayIPAddr); ok {
		return netip.AddrPortFrom(gw, uint16(h.serverPort()))
	}
	if ci, ok := addr4(req.ClientIPAddr); ok {
		return netip.AddrPortFrom(ci, uint16(h.clientPort()))
	}
	return h.broadcast()
}

func (h *handler) broadcast() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), uint16(h.clientPort()))
}

func (h *handler) leaseTime() time.Duration {
	if h.cfg.LeaseTime > 0 {
		return h.cfg.LeaseTime
	}
	return defaultLeaseTime
}

func (h *handler) serverPort() int {
	if h.cfg.Port > 0 {
		return h.cfg.Port
	}
	return dhcpv4.ServerPort
}

func (h *handler) clientPort() int {
	if h.cfg.ClientPort > 0 {
		return h.cfg.ClientPort
	}
	return dhcpv4.ClientPort
}

// String names the client for logs: "pxe/EFI x86-64".
func (c client) String() string {
	kind := map[clientKind]string{kindNone: "dhcp", kindPXE: "pxe", kindHTTP: "httpboot", kindIPXE: "ipxe"}[c.kind]
	return kind + "/" + strings.ToLower(c.arch.String())
}

// addr4 converts a non-zero IPv4 address.
func addr4(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, false
	}
	a = a.Unmap()
	if !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a, true
}

func ips(as []netip.Addr) []net.IP {
	out := make([]net.IP, len(as))
	for i, a := range as {
		out[i] = a.AsSlice()
	}
	return out
}
