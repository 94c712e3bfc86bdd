package dhcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// fakeHosts is Hosts over a map, recording mismatch reports.
type fakeHosts struct {
	mu       sync.Mutex
	hosts    map[string]Host
	reports  map[string]string
	failWith error
}

func (f *fakeHosts) Host(_ context.Context, mac string) (Host, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return Host{}, false, f.failWith
	}
	h, ok := f.hosts[mac]
	return h, ok, nil
}

func (f *fakeHosts) ReportBootModeMismatch(_ context.Context, node, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reports == nil {
		f.reports = map[string]string{}
	}
	f.reports[node] = msg
	return nil
}

// fakeLeases is Leases in memory: the lowest free address, sticky per MAC.
type fakeLeases struct {
	mu     sync.Mutex
	byMAC  map[string]netip.Addr
	byAddr map[netip.Addr]string
}

func (f *fakeLeases) AcquireLease(_ context.Context, r LeaseRequest) (netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byMAC == nil {
		f.byMAC, f.byAddr = map[string]netip.Addr{}, map[netip.Addr]string{}
	}
	if ip, ok := f.byMAC[r.MAC]; ok {
		return ip, nil
	}
	take := func(ip netip.Addr) netip.Addr {
		f.byMAC[r.MAC], f.byAddr[ip] = ip, r.MAC
		return ip
	}
	if r.Requested.IsValid() && f.byAddr[r.Requested] == "" && !r.Requested.Less(r.RangeStart) && !r.RangeEnd.Less(r.Requested) {
		return take(r.Requested), nil
	}
	for ip := r.RangeStart; !r.RangeEnd.Less(ip); ip = ip.Next() {
		if f.byAddr[ip] == "" {
			return take(ip), nil
		}
	}
	return netip.Addr{}, ErrNoAddress
}

func (f *fakeLeases) ReleaseLease(_ context.Context, mac string, ip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byMAC[mac] == ip {
		delete(f.byMAC, mac)
		delete(f.byAddr, ip)
	}
	return nil
}

const (
	macEnrolled = "52:54:00:00:00:01"
	macUEFINode = "52:54:00:00:00:02"
	macNoPXE    = "52:54:00:00:00:03"
	macUnknown  = "52:54:00:00:00:99"
)

var serverIP = netip.MustParseAddr("10.9.0.1")

func newTestHandler(t testing.TB, mode Mode, edit ...func(*Config)) (*handler, *fakeHosts) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{DefaultBIOSFile, DefaultUEFIFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("ipxe"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Mode: mode, Interface: "br0", Subnet: netip.MustParsePrefix("10.9.0.0/24"),
		RangeStart: netip.MustParseAddr("10.9.0.100"), RangeEnd: netip.MustParseAddr("10.9.0.101"),
		Routers: []netip.Addr{serverIP}, HTTPPort: 8080, TFTP: true, IPXEDir: dir}
	for _, e := range edit {
		e(&cfg)
	}
	if _, err := New(cfg, nil, &fakeLeases{}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("New without Hosts: %v, want ErrBadConfig", err)
	}
	hosts := &fakeHosts{hosts: map[string]Host{
		macEnrolled: {NodeUUID: "node-1", PXEEnabled: true},
		macUEFINode: {NodeUUID: "node-2", PXEEnabled: true, BootMode: "uefi"},
		macNoPXE:    {NodeUUID: "node-3"},
	}}
	s, err := New(cfg, hosts, &fakeLeases{})
	if err != nil {
		t.Fatal(err)
	}
	return &handler{cfg: s.cfg, hosts: hosts, leases: s.leases, log: s.log, serverIP: serverIP,
		httpURL: "http://10.9.0.1:8080", biosFile: s.cfg.BIOSFile, uefiFile: s.cfg.UEFIFile, arm64File: s.cfg.ARM64File}, hosts
}

// discover builds a DISCOVER as a client kind would send it.
func discover(t testing.TB, mac, vendorClass string, arch *iana.Arch, userClass string) *dhcpv4.DHCPv4 {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	mods := []dhcpv4.Modifier{}
	if vendorClass != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClassIdentifier(vendorClass)))
	}
	if arch != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientArch(*arch)))
	}
	if userClass != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptUserClass(userClass)))
	}
	d, err := dhcpv4.NewDiscovery(hw, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func archp(a iana.Arch) *iana.Arch { return &a }

var client68 = netip.MustParseAddrPort("0.0.0.0:68")

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		vc     string
		arch   *iana.Arch
		uc     string
		kind   clientKind
		mode   string
		wantAr iana.Arch
	}{
		{"os dhcp client", "", nil, "", kindNone, "", iana.INTEL_X86PC},
		{"udhcpc", "udhcp 1.35.0", nil, "", kindNone, "", iana.INTEL_X86PC},
		{"bios pxe rom", "PXEClient:Arch:00000:UNDI:002001", archp(iana.INTEL_X86PC), "", kindPXE, "bios", iana.INTEL_X86PC},
		{"old pxe rom without option 93", "PXEClient", nil, "", kindPXE, "bios", iana.INTEL_X86PC},
		{"uefi x86-64 pxe", "PXEClient:Arch:00007:UNDI:003016", archp(iana.EFI_X86_64), "", kindPXE, "uefi", iana.EFI_X86_64},
		{"uefi http boot", "HTTPClient:Arch:00016:UNDI:003016", archp(iana.EFI_X86_64_HTTP), "", kindHTTP, "uefi", iana.EFI_X86_64_HTTP},
		{"ipxe on bios", "PXEClient:Arch:00000:UNDI:002001", archp(iana.INTEL_X86PC), "iPXE", kindIPXE, "bios", iana.INTEL_X86PC},
		{"ipxe on uefi", "PXEClient:Arch:00007:UNDI:003010", archp(iana.EFI_X86_64), "iPXE", kindIPXE, "uefi", iana.EFI_X86_64},
		{"arm64 pxe", "PXEClient:Arch:00011:UNDI:003000", archp(iana.EFI_ARM64), "", kindPXE, "uefi", iana.EFI_ARM64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := classify(discover(t, macEnrolled, tc.vc, tc.arch, tc.uc))
			if c.kind != tc.kind || c.mode != tc.mode || c.arch != tc.wantAr {
				t.Fatalf("classify = %+v, want kind %d mode %q arch %s", c, tc.kind, tc.mode, tc.wantAr)
			}
		})
	}
}

func TestProxyMode(t *testing.T) {
	t.Parallel()
	bios := "PXEClient:Arch:00000:UNDI:002001"
	uefi := "PXEClient:Arch:00007:UNDI:003016"
	for _, tc := range []struct {
		name    string
		mac     string
		vc      string
		arch    *iana.Arch
		uc      string
		unknown bool   // Config.BootUnknown
		file    string // "" = no reply
		vendor  string
	}{
		{"bios pxe gets undionly over tftp", macEnrolled, bios, archp(iana.INTEL_X86PC), "", false, "undionly.kpxe", "PXEClient"},
		{"uefi pxe gets snponly over tftp", macEnrolled, uefi, archp(iana.EFI_X86_64), "", false, "snponly.efi", "PXEClient"},
		{"http boot gets ipxe over http", macEnrolled, "HTTPClient:Arch:00016:UNDI:003016", archp(iana.EFI_X86_64_HTTP), "", false,
			"http://10.9.0.1:8080/ipxe-bin/snponly.efi", "HTTPClient"},
		{"ipxe gets the boot script", macEnrolled, bios, archp(iana.INTEL_X86PC), "iPXE", false, "http://10.9.0.1:8080/boot.ipxe", "PXEClient"},
		{"arm64 without a binary gets nothing", macEnrolled, "PXEClient:Arch:00011:UNDI:003000", archp(iana.EFI_ARM64), "", false, "", ""},
		{"unknown mac gets nothing", macUnknown, bios, archp(iana.INTEL_X86PC), "", false, "", ""},
		{"unknown mac with discovery", macUnknown, bios, archp(iana.INTEL_X86PC), "", true, "undionly.kpxe", "PXEClient"},
		{"port not pxe_enabled", macNoPXE, bios, archp(iana.INTEL_X86PC), "", true, "", ""},
		{"not a pxe client", macEnrolled, "", nil, "", true, "", ""},
		{"uefi node in uefi", macUEFINode, uefi, archp(iana.EFI_X86_64), "", false, "snponly.efi", "PXEClient"},
		{"uefi node in bios: mismatch", macUEFINode, bios, archp(iana.INTEL_X86PC), "", false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, hosts := newTestHandler(t, ModeProxy, func(c *Config) { c.BootUnknown = tc.unknown })
			req := discover(t, tc.mac, tc.vc, tc.arch, tc.uc)
			r, err := h.handle(t.Context(), req.ToBytes(), client68, viaServer)
			if err != nil {
				t.Fatal(err)
			}
			if tc.file == "" {
				if r != nil {
					t.Fatalf("reply %s, want none", r.msg.Summary())
				}
				return
			}
			if r == nil {
				t.Fatal("no reply")
			}
			m := r.msg
			if m.MessageType() != dhcpv4.MessageTypeOffer || !m.YourIPAddr.IsUnspecified() ||
				!m.ServerIPAddr.Equal(serverIP.AsSlice()) || !m.ServerIdentifier().Equal(serverIP.AsSlice()) {
				t.Errorf("proxy offer %s: want an OFFER without address from %s", m.Summary(), serverIP)
			}
			if m.BootFileName != tc.file || m.BootFileNameOption() != tc.file || m.ClassIdentifier() != tc.vendor {
				t.Errorf("file %q / option 67 %q / option 60 %q, want %q, %q", m.BootFileName, m.BootFileNameOption(),
					m.ClassIdentifier(), tc.file, tc.vendor)
			}
			if r.dst.String() != "255.255.255.255:68" {
				t.Errorf("sent to %s, want broadcast", r.dst)
			}
			if m.TransactionID != req.TransactionID || m.ClientHWAddr.String() != tc.mac {
				t.Errorf("xid/chaddr not echoed: %s", m.Summary())
			}
			_ = hosts
		})
	}

	t.Run("arm64 with its binary", func(t *testing.T) {
		t.Parallel()
		h, _ := newTestHandler(t, ModeProxy)
		if err := os.WriteFile(filepath.Join(h.cfg.IPXEDir, DefaultARM64File), []byte("ipxe"), 0o644); err != nil {
			t.Fatal(err)
		}
		for arch, want := range map[iana.Arch]string{
			iana.EFI_ARM64:      DefaultARM64File,
			iana.EFI_ARM64_HTTP: "http://10.9.0.1:8080/ipxe-bin/" + DefaultARM64File,
		} {
			vc := "PXEClient:Arch:00011:UNDI:003000"
			if arch == iana.EFI_ARM64_HTTP {
				vc = "HTTPClient:Arch:00019:UNDI:003000"
			}
			r, err := h.handle(t.Context(), discover(t, macEnrolled, vc, archp(arch), "").ToBytes(), client68, viaServer)
			if err != nil || r == nil || r.msg.BootFileName != want {
				t.Errorf("%s: reply %v err %v, want %s", arch, r, err, want)
			}
		}
	})

	t.Run("mismatch is reported", func(t *testing.T) {
		t.Parallel()
		h, hosts := newTestHandler(t, ModeProxy)
		req := discover(t, macUEFINode, bios, archp(iana.INTEL_X86PC), "")
		if r, err := h.handle(t.Context(), req.ToBytes(), client68, viaServer); r != nil || err != nil {
			t.Fatalf("reply %v err %v", r, err)
		}
		if msg := hosts.reports["node-2"]; !strings.Contains(msg, "boot_mode is uefi") || !strings.Contains(msg, "bios mode") {
			t.Fatalf("report %q", msg)
		}
	})

	t.Run("port 4011 request gets an ack to its source", func(t *testing.T) {
		t.Parallel()
		h, _ := newTestHandler(t, ModeProxy)
		req := discover(t, macEnrolled, uefi, archp(iana.EFI_X86_64), "")
		req.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeRequest))
		req.ClientIPAddr = net.IPv4(10, 9, 0, 50)
		from := netip.MustParseAddrPort("10.9.0.50:68")
		r, err := h.handle(t.Context(), req.ToBytes(), from, viaProxy)
		if err != nil || r == nil {
			t.Fatalf("reply %v err %v", r, err)
		}
		if r.msg.MessageType() != dhcpv4.MessageTypeAck || r.dst != from || r.msg.BootFileName != "snponly.efi" ||
			!r.msg.ClientIPAddr.Equal(req.ClientIPAddr) {
			t.Fatalf("ack %s to %s", r.msg.Summary(), r.dst)
		}
		// A request on 67 is the address server's business.
		if r, _ := h.handle(t.Context(), req.ToBytes(), from, viaServer); r != nil {
			t.Fatalf("proxy answered a REQUEST on port 67: %s", r.msg.Summary())
		}
	})

	t.Run("lookup failure", func(t *testing.T) {
		t.Parallel()
		h, hosts := newTestHandler(t, ModeProxy)
		boom := errors.New("database down")
		hosts.failWith = boom
		if _, err := h.handle(t.Context(), discover(t, macEnrolled, bios, archp(iana.INTEL_X86PC), "").ToBytes(),
			client68, viaServer); !errors.Is(err, boom) {
			t.Fatalf("err %v, want the lookup's", err)
		}
	})
}

func TestFullMode(t *testing.T) {
	t.Parallel()
	h, _ := newTestHandler(t, ModeFull)
	ctx := t.Context()
	do := func(req *dhcpv4.DHCPv4) *reply {
		t.Helper()
		r, err := h.handle(ctx, req.ToBytes(), client68, viaServer)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// An unknown machine's PXE ROM: an address, no boot file.
	r := do(discover(t, macUnknown, "PXEClient:Arch:00000:UNDI:002001", archp(iana.INTEL_X86PC), ""))
	if r == nil || r.msg.MessageType() != dhcpv4.MessageTypeOffer || r.msg.BootFileName != "" ||
		r.msg.Options.Has(dhcpv4.OptionBootfileName) {
		t.Fatalf("unknown PXE client: %v", r)
	}
	unknownIP := r.msg.YourIPAddr
	if !unknownIP.Equal(net.IPv4(10, 9, 0, 100)) || r.msg.SubnetMask().String() != "ffffff00" ||
		!r.msg.Router()[0].Equal(serverIP.AsSlice()) || r.msg.IPAddressLeaseTime(0) != offerHold {
		t.Fatalf("offer %s", r.msg.Summary())
	}
	// The enrolled machine's iPXE: address and script, no proxyDHCP wait.
	req := discover(t, macEnrolled, "PXEClient:Arch:00000:UNDI:002001", archp(iana.INTEL_X86PC), "iPXE")
	r = do(req)
	if r == nil || r.msg.BootFileName != "http://10.9.0.1:8080/boot.ipxe" || !r.msg.YourIPAddr.Equal(net.IPv4(10, 9, 0, 101)) ||
		r.msg.Options.Get(dhcpv4.GenericOptionCode(175)) == nil {
		t.Fatalf("enrolled iPXE client: %v", r)
	}
	// Its REQUEST gets an ACK with the lease time.
	request, err := dhcpv4.NewRequestFromOffer(r.msg, dhcpv4.WithOption(dhcpv4.OptUserClass("iPXE")))
	if err != nil {
		t.Fatal(err)
	}
	ack := do(request)
	if ack == nil || ack.msg.MessageType() != dhcpv4.MessageTypeAck || !ack.msg.YourIPAddr.Equal(r.msg.YourIPAddr) ||
		ack.msg.IPAddressLeaseTime(0) != time.Hour || ack.msg.BootFileName != "http://10.9.0.1:8080/boot.ipxe" {
		t.Fatalf("ack %v", ack)
	}
	// The range is exhausted: a third machine gets no offer.
	if r := do(discover(t, "52:54:00:00:00:77", "", nil, "")); r != nil {
		t.Fatalf("exhausted range offered %s", r.msg.Summary())
	}
	// A REQUEST for someone else's address is refused.
	bad, _ := dhcpv4.NewRequestFromOffer(r.msg)
	bad.ClientHWAddr, _ = net.ParseMAC("52:54:00:00:00:77")
	if r := do(bad); r == nil || r.msg.MessageType() != dhcpv4.MessageTypeNak || r.dst.String() != "255.255.255.255:68" {
		t.Fatalf("request for a taken address: %v", r)
	}
	// A REQUEST naming another server is not ours to answer.
	other, _ := dhcpv4.NewRequestFromOffer(r.msg)
	other.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 9, 0, 254)))
	if r := do(other); r != nil {
		t.Fatalf("answered a REQUEST for another server: %s", r.msg.Summary())
	}
	// Renewal: unicast to the client's address.
	renew, _ := dhcpv4.NewRenewFromAck(ack.msg)
	if r := do(renew); r == nil || r.msg.MessageType() != dhcpv4.MessageTypeAck || r.dst.String() != "10.9.0.101:68" {
		t.Fatalf("renew: %v", r)
	}
	// Release, then the address is free again.
	rel, _ := dhcpv4.NewReleaseFromACK(ack.msg)
	if r := do(rel); r != nil {
		t.Fatalf("release answered: %s", r.msg.Summary())
	}
	if r := do(discover(t, "52:54:00:00:00:77", "", nil, "")); r == nil || !r.msg.YourIPAddr.Equal(net.IPv4(10, 9, 0, 101)) {
		t.Fatalf("after release: %v", r)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	hosts := &fakeHosts{}
	good := Config{Mode: ModeFull, Interface: "br0", Subnet: netip.MustParsePrefix("10.0.0.0/24"),
		RangeStart: netip.MustParseAddr("10.0.0.10"), RangeEnd: netip.MustParseAddr("10.0.0.20"), HTTPPort: 8080}
	if _, err := New(good, hosts, &fakeLeases{}); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Config){
		"no mode":          func(c *Config) { c.Mode = "" },
		"no interface":     func(c *Config) { c.Interface = "" },
		"ipv6 address":     func(c *Config) { c.Address = netip.MustParseAddr("fe80::1") },
		"range outside":    func(c *Config) { c.RangeEnd = netip.MustParseAddr("10.0.1.1") },
		"range reversed":   func(c *Config) { c.RangeStart, c.RangeEnd = c.RangeEnd, c.RangeStart },
		"no subnet":        func(c *Config) { c.Subnet = netip.Prefix{} },
		"no http":          func(c *Config) { c.HTTPPort = 0 },
		"ipv6 dns":         func(c *Config) { c.DNS = []netip.Addr{netip.MustParseAddr("::1")} },
		"full needs store": func(c *Config) { c.Mode = ModeFull },
	} {
		cfg := good
		edit(&cfg)
		var leases Leases = &fakeLeases{}
		if name == "full needs store" {
			leases = nil
		}
		if _, err := New(cfg, hosts, leases); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
}

func TestListenError(t *testing.T) {
	t.Parallel()
	if err := listenError("br0", 67, &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE}); !errors.Is(err, ErrPortInUse) ||
		!strings.Contains(err.Error(), "dnsmasq") {
		t.Errorf("in use: %v", err)
	}
	if err := listenError("br0", 67, &os.SyscallError{Syscall: "bind", Err: syscall.EACCES}); !errors.Is(err, ErrPermission) ||
		!strings.Contains(err.Error(), "CAP_NET_BIND_SERVICE") {
		t.Errorf("permission: %v", err)
	}
}
