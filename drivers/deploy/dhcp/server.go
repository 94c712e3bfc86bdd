package dhcp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferric-project/ferric/drivers/deploy/lifecycle"
)

// Server is the DHCP server. Create it with New, then Start and Shutdown, or
// Run.
type Server struct {
	cfg    Config
	hosts  Hosts
	leases Leases
	log    *slog.Logger

	mu      sync.Mutex
	started bool
	h       *handler
	conns   []net.PacketConn
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errc    chan error
}

// New validates cfg and returns a Server that looks MACs up in hosts and, in
// full mode, stores leases in leases. It does no I/O.
func New(cfg Config, hosts Hosts, leases Leases) (*Server, error) {
	if hosts == nil {
		return nil, fmt.Errorf("%w: nil Hosts", ErrBadConfig)
	}
	if cfg.Interface == "" && !cfg.Address.IsValid() {
		return nil, fmt.Errorf("%w: name the provisioning interface or its address", ErrBadConfig)
	}
	if cfg.Address.IsValid() && !cfg.Address.Is4() {
		return nil, fmt.Errorf("%w: address %s is not IPv4 (DHCP and PXE are IPv4 here)", ErrBadConfig, cfg.Address)
	}
	switch cfg.Mode {
	case ModeProxy:
	case ModeFull:
		if leases == nil {
			return nil, fmt.Errorf("%w: full mode needs a lease store", ErrBadConfig)
		}
		if !cfg.Subnet.IsValid() || !cfg.Subnet.Addr().Is4() {
			return nil, fmt.Errorf("%w: full mode needs an IPv4 subnet (e.g. 10.0.0.0/24)", ErrBadConfig)
		}
		cfg.Subnet = cfg.Subnet.Masked()
		if !cfg.RangeStart.IsValid() || !cfg.RangeEnd.IsValid() || !cfg.Subnet.Contains(cfg.RangeStart) ||
			!cfg.Subnet.Contains(cfg.RangeEnd) || cfg.RangeEnd.Less(cfg.RangeStart) {
			return nil, fmt.Errorf("%w: range %s-%s is not an ordered range inside subnet %s", ErrBadConfig,
				cfg.RangeStart, cfg.RangeEnd, cfg.Subnet)
		}
		for _, a := range append(append([]netip.Addr{}, cfg.Routers...), cfg.DNS...) {
			if !a.Is4() {
				return nil, fmt.Errorf("%w: router or DNS server %s is not IPv4", ErrBadConfig, a)
			}
		}
	default:
		return nil, fmt.Errorf("%w: mode %q (want proxy or full)", ErrBadConfig, cfg.Mode)
	}
	if cfg.HTTPURL == "" && cfg.HTTPPort == 0 {
		return nil, fmt.Errorf("%w: no HTTP URL for iPXE (set HTTPURL or HTTPPort)", ErrBadConfig)
	}
	for _, p := range []*string{&cfg.BIOSFile, &cfg.UEFIFile, &cfg.ARM64File} {
		*p = strings.TrimSpace(*p)
	}
	if cfg.BIOSFile == "" {
		cfg.BIOSFile = DefaultBIOSFile
	}
	if cfg.UEFIFile == "" {
		cfg.UEFIFile = DefaultUEFIFile
	}
	if cfg.ARM64File == "" {
		cfg.ARM64File = DefaultARM64File
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	log := cmp.Or(cfg.Log, slog.New(slog.DiscardHandler))
	return &Server{cfg: cfg, hosts: hosts, leases: leases, log: log}, nil
}

// Start finds the provisioning interface, binds the DHCP port (and in proxy
// mode the PXE port) on it, and serves in the background until Shutdown. ctx
// bounds only the start itself. A port another server holds is ErrPortInUse;
// missing privileges are ErrPermission.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	ifname, ip, err := findInterface(s.cfg.Interface, s.cfg.Address)
	if err != nil {
		return err
	}
	if s.cfg.Mode == ModeFull && !s.cfg.Subnet.Contains(ip) {
		s.log.Warn("dhcp: the server address is outside the leased subnet; clients must reach it through a router",
			"address", ip, "subnet", s.cfg.Subnet)
	}
	h := &handler{cfg: s.cfg, hosts: s.hosts, leases: s.leases, log: s.log, serverIP: ip,
		biosFile: s.cfg.BIOSFile, uefiFile: s.cfg.UEFIFile, arm64File: s.cfg.ARM64File}
	h.httpURL = strings.TrimRight(s.cfg.HTTPURL, "/")
	if h.httpURL == "" {
		h.httpURL = "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(s.cfg.HTTPPort))
	}
	ports := []struct {
		port int
		v    via
	}{{h.serverPort(), viaServer}}
	if s.cfg.Mode == ModeProxy {
		pp := s.cfg.ProxyPort
		if pp == 0 {
			pp = 4011
		}
		ports = append(ports, struct {
			port int
			v    via
		}{pp, viaProxy})
	}
	var conns []net.PacketConn
	for _, p := range ports {
		c, err := listen(ctx, ifname, p.port)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return listenError(ifname, p.port, err)
		}
		conns = append(conns, c)
	}

	s.started, s.h, s.conns = true, h, conns
	var runCtx context.Context
	runCtx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.errc = make(chan error, len(conns))
	jobs := make(chan packet, 8*s.cfg.Workers)
	var workers sync.WaitGroup
	for range s.cfg.Workers {
		workers.Go(func() {
			for p := range jobs {
				s.serve(runCtx, p)
			}
		})
	}
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			if err := s.read(runCtx, c, ports[i].v, jobs); err != nil {
				s.errc <- err
			}
		})
	}
	s.wg.Go(func() {
		readers.Wait()
		close(jobs)
		workers.Wait()
	})
	s.log.Info("dhcp server started", "mode", s.cfg.Mode, "interface", ifname, "address", ip,
		"http", h.httpURL, "tftp", s.cfg.TFTP, "boot_unknown", s.cfg.BootUnknown)
	return nil
}

// packet is one datagram waiting for a worker.
type packet struct {
	conn net.PacketConn
	v    via
	from netip.AddrPort
	data []byte
}

// read reads datagrams from c until it is closed, handing them to the
// workers; when they are all busy and the queue is full, a datagram is
// dropped (DHCP clients retransmit).
func (s *Server) read(ctx context.Context, c net.PacketConn, v via, jobs chan<- packet) error {
	buf := make([]byte, maxPacket+1)
	for {
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dhcp read on %s: %w", c.LocalAddr(), err)
		}
		if n > maxPacket {
			s.log.Debug("dhcp: oversized datagram dropped", "from", addr, "bytes", n)
			continue
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		from := ua.AddrPort()
		p := packet{conn: c, v: v, from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), data: append([]byte(nil), buf[:n]...)}
		select {
		case jobs <- p:
		default:
			s.log.Warn("dhcp: busy, request dropped", "from", addr)
		}
	}
}

// serve handles one datagram and sends the reply, if any.
func (s *Server) serve(ctx context.Context, p packet) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := s.h.handle(ctx, p.data, p.from, p.v)
	switch {
	case errors.Is(err, errMalformed) || errors.Is(err, errUnsupported):
		s.log.Debug("dhcp: request dropped", "from", p.from, "err", err)
		return
	case err != nil:
		s.log.Error("dhcp: request failed", "from", p.from, "err", err)
		return
	case r == nil:
		return
	}
	if _, err := p.conn.WriteTo(r.msg.ToBytes(), net.UDPAddrFromAddrPort(r.dst)); err != nil {
		s.log.Warn("dhcp: send reply", "to", r.dst, "type", r.msg.MessageType().String(), "err", err)
	}
}

// Shutdown closes the sockets and waits until the requests in hand are
// answered or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		return ErrNotStarted
	}
	s.started = false
	conns, cancel := s.conns, s.cancel
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		cancel()
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return fmt.Errorf("dhcp shutdown: %w", ctx.Err())
	}
}

// Run starts the server and serves until ctx is done (nil is returned) or a
// socket fails (its error is returned), then shuts down.
func (s *Server) Run(ctx context.Context) error {
	return lifecycle.Run(ctx, s, func() <-chan error { return s.errc })
}

// Addr is the server's address on the provisioning interface (invalid when
// not started).
func (s *Server) Addr() netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return netip.Addr{}
	}
	return s.h.serverIP
}

// findInterface resolves the provisioning interface: by name (its first
// IPv4 address, or addr which must be on it), or by addr alone.
func findInterface(name string, addr netip.Addr) (string, netip.Addr, error) {
	var ifaces []net.Interface
	if name != "" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return "", netip.Addr{}, fmt.Errorf("%w: %q: %w", ErrInterface, name, err)
		}
		ifaces = []net.Interface{*ifi}
	} else {
		var err error
		if ifaces, err = net.Interfaces(); err != nil {
			return "", netip.Addr{}, fmt.Errorf("%w: list interfaces: %w", ErrInterface, err)
		}
	}
	for _, ifi := range ifaces {
		addrs, err := ifi.Addrs()
		if err != nil {
			return "", netip.Addr{}, fmt.Errorf("%w: addresses of %s: %w", ErrInterface, ifi.Name, err)
		}
		for _, a := range addrs {
			pfx, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(pfx.IP)
			if !ok || !ip.Unmap().Is4() {
				continue
			}
			ip = ip.Unmap()
			if !addr.IsValid() || ip == addr {
				return ifi.Name, ip, nil
			}
		}
	}
	switch {
	case name != "" && addr.IsValid():
		return "", netip.Addr{}, fmt.Errorf("%w: %s has no address %s", ErrInterface, name, addr)
	case name != "":
		return "", netip.Addr{}, fmt.Errorf("%w: %s has no IPv4 address", ErrInterface, name)
	}
	return "", netip.Addr{}, fmt.Errorf("%w: no interface has address %s", ErrInterface, addr)
}

// listenError explains a failed bind: the two causes an operator meets are
// another DHCP server on the port and a process without the privilege.
func listenError(ifname string, port int, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w: udp port %d on %s is taken: another DHCP server (dnsmasq, isc-dhcp-server, Kea) "+
			"listens there; stop it, run ferric's DHCP in proxy mode beside a server on another host, or set "+
			"-dhcp-mode=off and chainload ferric's iPXE from that server: %w", ErrPortInUse, port, ifname, err)
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: udp port %d on %s: binding a port below 1024 needs CAP_NET_BIND_SERVICE and binding "+
			"to an interface CAP_NET_RAW (run as root, or setcap cap_net_bind_service,cap_net_raw+ep on the "+
			"binary, or AmbientCapabilities= in its systemd unit): %w", ErrPermission, port, ifname, err)
	}
	return fmt.Errorf("dhcp: listen on udp port %d on %s: %w", port, ifname, err)
}
