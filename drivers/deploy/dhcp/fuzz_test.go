package dhcp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// FuzzHandle feeds arbitrary datagrams to the handler in both modes and on
// both ports: truncated packets, bad options and oversized ones must be
// dropped (an error or no reply), never crash it, and a reply must be one
// the library can decode again.
func FuzzHandle(f *testing.F) {
	t := f
	var handlers [8]*handler
	for sel := range handlers {
		mode := ModeProxy
		if sel&1 == 1 {
			mode = ModeFull
		}
		handlers[sel], _ = newTestHandler(f, mode, func(c *Config) { c.BootUnknown = sel&4 == 4 })
	}
	seed := func(d *dhcpv4.DHCPv4) []byte { return d.ToBytes() }
	pxe := discover(t, macEnrolled, "PXEClient:Arch:00007:UNDI:003016", archp(iana.EFI_X86_64), "")
	ipxe := discover(t, macEnrolled, "PXEClient:Arch:00000:UNDI:002001", archp(iana.INTEL_X86PC), "iPXE")
	plain := discover(t, macUnknown, "", nil, "")
	f.Add(seed(pxe), uint8(0))
	f.Add(seed(ipxe), uint8(1))
	f.Add(seed(plain), uint8(2))
	req := seed(pxe)
	f.Add(req[:100], uint8(0))                                     // truncated header
	f.Add(req[:240], uint8(1))                                     // header only, no options
	f.Add(append(bytes.Clone(req[:240]), 53, 1), uint8(2))         // option without its value
	f.Add(append(bytes.Clone(req[:240]), 93, 1, 0, 255), uint8(3)) // odd-length client architecture
	f.Add(append(bytes.Clone(req[:240]), 77, 0, 255), uint8(0))    // empty user class
	f.Add(append(bytes.Clone(req), make([]byte, maxPacket)...), uint8(1))
	f.Add([]byte{}, uint8(2))
	f.Fuzz(func(t *testing.T, raw []byte, sel uint8) {
		v := viaServer
		if sel&2 == 2 {
			v = viaProxy
		}
		h := handlers[sel&7]
		r, err := h.handle(t.Context(), raw, netip.MustParseAddrPort("10.9.0.50:68"), v)
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errUnsupported) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if r == nil {
			return
		}
		if len(raw) > maxPacket {
			t.Fatalf("answered a %d-byte datagram", len(raw))
		}
		if _, err := dhcpv4.FromBytes(r.msg.ToBytes()); err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
	})
}
