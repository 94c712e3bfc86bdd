package ipmi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/command/app"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/inventory"
	"github.com/ferric-project/ferric/drivers/ipmi/ipmisim"
)

// ascii is an 8-bit ASCII/Latin-1 FRU field.
func ascii(s string) (types.TypeLength, []byte) {
	return types.TypeLength(0xc0 | len(s)), []byte(s)
}

// sixBit packs s (characters 0x20-0x5f) as 6-bit ASCII, four characters
// in three bytes, least significant bits first.
func sixBit(s string) (types.TypeLength, []byte) {
	for len(s)%4 != 0 {
		s += " "
	}
	var out []byte
	for i := 0; i < len(s); i += 4 {
		var v uint32
		for j := range 4 {
			v |= uint32(s[i+j]-0x20) << (6 * j)
		}
		out = append(out, byte(v), byte(v>>8), byte(v>>16))
	}
	return types.TypeLength(0x80 | len(out)), out
}

func product(mfr, name, serial string) *types.FRUProductInfoArea {
	p := &types.FRUProductInfoArea{}
	p.ManufacturerTypeLength, p.Manufacturer = ascii(mfr)
	p.NameTypeLength, p.Name = ascii(name)
	p.SerialNumberTypeLength, p.SerialNumber = ascii(serial)
	return p
}

func board(mfr, name, serial string) *types.FRUBoardInfoArea {
	b := &types.FRUBoardInfoArea{}
	b.ManufacturerTypeLength, b.Manufacturer = ascii(mfr)
	b.ProductNameTypeLength, b.ProductName = ascii(name)
	b.SerialNumberTypeLength, b.SerialNumber = ascii(serial)
	return b
}

func TestFRUText(t *testing.T) {
	t.Parallel()
	six := func(s string) []any { tl, raw := sixBit(s); return []any{tl, raw} }
	for _, tt := range []struct {
		name string
		tl   types.TypeLength
		raw  []byte
		want string
	}{
		{"8-bit ASCII", 0xc5, []byte("Dell "), "Dell"},
		{"Latin-1", 0xc6, []byte("Soci\xe9t\xe9"), "Société"},
		{"NUL padding and control characters", 0xc8, []byte("R640\x00\x00\x01\x7f"), "R640"},
		{"6-bit ASCII", six("IPMI SERIAL")[0].(types.TypeLength), six("IPMI SERIAL")[1].([]byte), "IPMI SERIAL"},
		{"BCD plus", 0x43, []byte{0x21, 0xb3, 0xa4}, "123-4"},
		{"binary as hex", 0x04, []byte{0xde, 0xad, 0xbe, 0xef}, "deadbeef"},
		{"empty", 0xc0, nil, ""},
		{"only spaces", 0xc3, []byte("   "), ""},
		{"length does not match", 0x83, []byte{1}, ""},
	} {
		if got := fruText(tt.tl, tt.raw); got != tt.want {
			t.Errorf("%s: fruText(%#x, % x) = %q, want %q", tt.name, uint8(tt.tl), tt.raw, got, tt.want)
		}
	}
}

// TestFactsDocument is the mapping from what a BMC reports to the
// inventory document; every document it makes validates.
func TestFactsDocument(t *testing.T) {
	t.Parallel()
	dev := &app.GetDeviceIDResponse{MajorFirmwareRevision: 9, MinorFirmwareRevision: 8, MajorIPMIVersion: 2,
		ManufacturerID: 0x1291, ProductID: 0x0f02}
	mac := net.HardwareAddr{0x52, 0x54, 0, 0xab, 0xcd, 0xef}
	v6 := func(s string, st types.LanIPv6AddressStatus) ipv6Address {
		return ipv6Address{ip: net.ParseIP(s), status: st}
	}
	active := types.LanIPv6AddressStatus_Active
	for _, tt := range []struct {
		name   string
		facts  bmcFacts
		vendor inventory.SystemVendor
		addr   inventory.NullString
		v6     inventory.NullString
		mac    string
		bmc    inventory.BMC
	}{
		{
			name: "product area, LAN and device ID",
			facts: bmcFacts{device: dev, product: product("Supermicro", "SYS-1029P", "PSN-4711"),
				board: board("BoardCo", "X11DPi", "BSN123"), ipv4: net.IPv4(192, 0, 2, 17), mac: mac},
			vendor: inventory.SystemVendor{Manufacturer: "Supermicro", ProductName: "SYS-1029P", SerialNumber: "PSN-4711"},
			addr:   "192.0.2.17", mac: "52:54:00:ab:cd:ef",
			bmc: inventory.BMC{FirmwareVersion: "9.08", IPMIVersion: "2.0", ManufacturerID: 4753, ProductID: 3842},
		},
		{
			name:   "product area without a serial number: the board's",
			facts:  bmcFacts{product: product("Dell Inc.", "PowerEdge R640", ""), board: board("Dell", "0X45NX", "CN7475")},
			vendor: inventory.SystemVendor{Manufacturer: "Dell Inc.", ProductName: "PowerEdge R640", SerialNumber: "CN7475"},
		},
		{
			name:   "board area only",
			facts:  bmcFacts{board: board("BoardCo", "X11DPi", "BSN123")},
			vendor: inventory.SystemVendor{Manufacturer: "BoardCo", ProductName: "X11DPi", SerialNumber: "BSN123"},
		},
		{
			name: "no FRU data, an unconfigured LAN, a refusal noted",
			facts: bmcFacts{device: &app.GetDeviceIDResponse{MajorFirmwareRevision: 1, MinorFirmwareRevision: 2,
				MajorIPMIVersion: 1, MinorIPMIVersion: 5}, ipv4: net.IPv4zero, mac: make(net.HardwareAddr, 6),
				unavailable: map[string]string{"fru": "no FRU data"}},
			bmc: inventory.BMC{FirmwareVersion: "1.02", IPMIVersion: "1.5",
				Unavailable: map[string]string{"fru": "no FRU data"}},
		},
		{
			name: "IPv6: the first active global address, without its prefix length",
			facts: bmcFacts{ipv6: []ipv6Address{v6("::", active), v6("fe80::1", active),
				v6("2001:db8::9", types.LanIPv6AddressStatus_Disabled), v6("2001:db8::17", active),
				v6("2001:db8::18", active)}},
			v6: "2001:db8::17",
		},
		{
			name:  "IPv6: a link-local address when there is no other",
			facts: bmcFacts{ipv6: []ipv6Address{v6("fe80::1", types.LanIPv6AddressStatus_Pending), v6("fe80::2", active)}},
			v6:    "fe80::2",
		},
		{
			name:  "IPv6: an IPv4-mapped address is not one",
			facts: bmcFacts{ipv6: []ipv6Address{v6("::ffff:192.0.2.1", active)}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := tt.facts.document()
			inv := doc.Inventory
			if inv.SystemVendor != tt.vendor || inv.BMCAddress != tt.addr || inv.BMCV6Address != tt.v6 || inv.BMCMAC != tt.mac {
				t.Errorf("inventory = %+v, want vendor %+v, address %q, v6 %q, mac %q", inv, tt.vendor, tt.addr, tt.v6, tt.mac)
			}
			if doc.PluginData.BMC == nil || !reflect.DeepEqual(*doc.PluginData.BMC, tt.bmc) {
				t.Errorf("plugin_data.bmc = %+v, want %+v", doc.PluginData.BMC, tt.bmc)
			}
			raw, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if err := inventory.Validate(raw); err != nil {
				t.Errorf("Validate(%s) = %v", raw, err)
			}
			var m map[string]map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"interfaces", "cpu", "memory", "disks", "boot"} {
				if v, ok := m["inventory"][k]; ok {
					t.Errorf("inventory.%s = %s; a BMC does not know it", k, v)
				}
			}
			if sum := inventory.Summarize(doc); !reflect.DeepEqual(sum, inventory.Summary{}) {
				t.Errorf("Summarize = %+v; want nothing to set", sum)
			}
		})
	}
}

// inspect runs InspectHardware and decodes what it returns, after checking
// that the API would accept it.
func inspect(t *testing.T, ctx context.Context, n *Node) inventory.Document {
	t.Helper()
	raw, err := n.InspectHardware(ctx)
	if err != nil {
		t.Fatalf("InspectHardware() = %v", err)
	}
	if err := inventory.Validate(raw); err != nil {
		t.Fatalf("Validate(%s) = %v", raw, err)
	}
	var doc inventory.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.PluginData.BMC == nil {
		t.Fatalf("no plugin_data.bmc in %s", raw)
	}
	return doc
}

func packFRU(t testing.TB, cfg types.FRUPackConfig) []byte {
	t.Helper()
	b, err := types.PackFRU(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInspectAgainstGoIPMIServer(t *testing.T) {
	fru := packFRU(t, types.FRUPackConfig{
		Board:   &types.FRUPackBoard{Mfg: "BoardCo", Product: "X11DPi", Serial: "BSN123", PartNumber: "PN-1"},
		Product: &types.FRUPackProduct{Manufacturer: "Supermicro", Name: "SYS-1029P", Version: "1.0"}, // no serial
	})
	lan := ipmisim.LAN{IP: netip.MustParseAddr("192.0.2.17"), MAC: net.HardwareAddr{0x52, 0x54, 0, 0xab, 0xcd, 0xef},
		IPv6: []netip.Addr{netip.MustParseAddr("fe80::5054:ff:feab:cdef"), netip.MustParseAddr("2001:db8::17")}}
	for _, mode := range sessionModes() {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			h := newHardware(t, testConfig(mode.idle))
			ctx := timeout(t, 20*time.Second)

			t.Run("FRU, LAN and device ID through the registry", func(t *testing.T) {
				sim := startSim(t, ipmisim.Options{FRU: fru, LAN: lan})
				r := drivers.NewRegistry()
				h.Register(r)
				in, err := r.Inspect(InterfaceName, drivers.Node{UUID: "node-1", DriverInfo: sim.DriverInfo(nil)})
				if err != nil {
					t.Fatalf("registry: inspect interface %q: %v", InterfaceName, err)
				}
				doc := inspect(t, ctx, in.(*Node))
				want := inventory.SystemVendor{Manufacturer: "Supermicro", ProductName: "SYS-1029P",
					SerialNumber: "BSN123"} // the product area has no serial: the board's
				inv := doc.Inventory
				if inv.SystemVendor != want || inv.BMCAddress != "192.0.2.17" || inv.BMCMAC != "52:54:00:ab:cd:ef" ||
					inv.BMCV6Address != "2001:db8::17" {
					t.Errorf("inventory = %+v", inv)
				}
				if b := doc.PluginData.BMC; b.FirmwareVersion != "1.02" || b.IPMIVersion != "2.0" ||
					b.ManufacturerID != 0x1291 || b.ProductID != 0x0f02 || len(b.Unavailable) != 0 {
					t.Errorf("plugin_data.bmc = %+v", b)
				}
			})

			t.Run("a BMC without FRU data or IPv6 still inspects", func(t *testing.T) {
				sim := startSim(t, ipmisim.Options{LAN: ipmisim.LAN{IP: netip.MustParseAddr("192.0.2.18")}})
				doc := inspect(t, ctx, newNode(t, h, sim.DriverInfo(nil)))
				if doc.Inventory.SystemVendor != (inventory.SystemVendor{}) || doc.Inventory.BMCAddress != "192.0.2.18" ||
					doc.Inventory.BMCMAC != "" {
					t.Errorf("inventory = %+v", doc.Inventory)
				}
				u := doc.PluginData.BMC.Unavailable
				if !strings.Contains(u["fru"], "no FRU data") || !strings.Contains(u["lan6"], "0x80") || len(u) != 2 {
					t.Errorf("unavailable = %q; want fru (no data) and lan6 (parameter not supported)", u)
				}
			})

			t.Run("an erased FRU EEPROM is no FRU data", func(t *testing.T) {
				erased := []byte(strings.Repeat("\xff", 256))
				sim := startSim(t, ipmisim.Options{FRU: erased})
				doc := inspect(t, ctx, newNode(t, h, sim.DriverInfo(nil)))
				if u := doc.PluginData.BMC.Unavailable["fru"]; !strings.Contains(u, "version 0xff") {
					t.Errorf("unavailable fru = %q", u)
				}
			})

			t.Run("a user without the LAN privilege gets the FRU", func(t *testing.T) {
				sim := startSim(t, ipmisim.Options{FRU: fru, LAN: lan,
					Users: []ipmisim.User{{Name: "viewer", Password: "view-pass", Privilege: "USER"}}})
				n := newNode(t, h, sim.DriverInfo(map[string]any{"ipmi_username": "viewer",
					"ipmi_password": "view-pass", "ipmi_priv_level": "USER"}))
				doc := inspect(t, ctx, n)
				u := doc.PluginData.BMC.Unavailable
				if doc.Inventory.SystemVendor.ProductName != "SYS-1029P" || doc.Inventory.BMCAddress != "" ||
					!strings.Contains(u["lan"], "0xd4") {
					t.Errorf("inventory = %+v, unavailable %q", doc.Inventory, u)
				}
				if strings.Contains(u["lan"], "view-pass") {
					t.Errorf("unavailable reveals the password: %q", u)
				}
			})

			t.Run("a BMC that reports nothing fails the inspection, classified", func(t *testing.T) {
				sim := startSim(t, ipmisim.Options{FRU: fru, LAN: lan,
					Users: []ipmisim.User{{Name: "cb", Password: "cb-pass", Privilege: "CALLBACK"}}})
				n := newNode(t, h, sim.DriverInfo(map[string]any{"ipmi_username": "cb", "ipmi_password": "cb-pass",
					"ipmi_priv_level": "CALLBACK"}))
				doc, err := n.InspectHardware(ctx)
				if !errors.Is(err, drivers.ErrAuth) || doc != nil || !strings.Contains(err.Error(), "reported nothing") {
					t.Errorf("InspectHardware() as a CALLBACK user = %s, %v; want ErrAuth", doc, err)
				}
			})

			t.Run("an unreachable BMC fails the inspection", func(t *testing.T) {
				sim := startSim(t, ipmisim.Options{})
				info := sim.DriverInfo(nil)
				if err := sim.Close(); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				doc, err := newNode(t, h, info).InspectHardware(ctx)
				if !errors.Is(err, drivers.ErrUnreachable) || doc != nil {
					t.Errorf("InspectHardware() = %s, %v; want ErrUnreachable", doc, err)
				}
			})
		})
	}
}

// TestInspectPaced: an inspection sends a dozen commands; with
// MinCommandInterval between them it is not cut off by CallTimeout.
func TestInspectPaced(t *testing.T) {
	t.Parallel()
	cfg := testConfig(20 * time.Second)
	cfg.CallTimeout, cfg.MinCommandInterval = 300*time.Millisecond, 40*time.Millisecond
	h := newHardware(t, cfg)
	sim := startSim(t, ipmisim.Options{FRU: packFRU(t, types.FRUPackConfig{
		Board:   &types.FRUPackBoard{Mfg: "B", Product: "P", Serial: "S"},
		Product: &types.FRUPackProduct{Manufacturer: "M"}}),
		LAN: ipmisim.LAN{IPv6: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}})
	start := time.Now()
	doc := inspect(t, timeout(t, 10*time.Second), newNode(t, h, sim.DriverInfo(nil)))
	if d := time.Since(start); d < cfg.CallTimeout {
		t.Errorf("took %s, less than CallTimeout: the test no longer needs pacing room", d)
	}
	if doc.Inventory.SystemVendor.SerialNumber != "S" || doc.Inventory.BMCV6Address != "2001:db8::1" {
		t.Errorf("inventory = %+v", doc.Inventory)
	}
}
