package ipmi

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"strings"
	"unicode"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/app"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/inventory"
)

// fruDevice is the FRU device an inspection reads: 0, the FRU of the board
// the BMC sits on, where vendors keep the system's product information (the
// one ipmitool's "fru print 0" shows).
const fruDevice = 0

// maxIPv6Reads bounds how many dynamic and how many static IPv6 address
// slots an inspection reads (a BMC may have a dozen).
const maxIPv6Reads = 4

// inspectCalls bounds the commands an inspection sends, so that its time
// limit can allow for MinCommandInterval between them: Get Device ID; the
// FRU's area info, header, product and board areas; the LAN's IPv4 address
// (twice when "this channel" is refused) and MAC; the IPv6 status and
// addresses.
const inspectCalls = 1 + 4 + 3 + 1 + 2*maxIPv6Reads

var _ drivers.Inspector = (*Node)(nil)

// InspectHardware inspects the node out of band: it asks the BMC what it
// knows and returns it as an inventory document (drivers/inventory's
// schema). From FRU device 0 come system_vendor's manufacturer,
// product_name and serial_number (the product info area, falling back to
// the board info area field by field); from the BMC's LAN configuration
// (the channel the session runs on) bmc_address, bmc_mac and bmc_v6address;
// from Get Device ID the BMC's own firmware and IPMI versions, in
// plugin_data.bmc. A BMC knows nothing of the host's NICs, CPUs, memory or
// disks, so the document has none: no property is derived from them and no
// port created. Nor does it know the boot mode.
//
// Facts the BMC does not report (no FRU data, a parameter it does not
// support, a FRU area that does not decode, a privilege the user lacks) are
// left out and named in plugin_data.bmc.unavailable; the inspection fails
// only when the BMC cannot be reached, or reports nothing at all (then with
// the first refusal, classified as any other command's).
func (n *Node) InspectHardware(ctx context.Context) (json.RawMessage, error) {
	var f bmcFacts
	limit := n.h.cfg.CallTimeout + inspectCalls*n.h.cfg.MinCommandInterval
	err := n.doWithin(ctx, "inspect", true, limit, func(ctx context.Context, x *exchanger) error {
		f = bmcFacts{channel: types.ChannelNumberSelf} // a retry on a fresh session starts over
		return n.inspect(ctx, x, &f)
	})
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(f.document())
	if err != nil {
		return nil, fmt.Errorf("ipmi %s: encode inventory: %w", n.info.HostPort(), err)
	}
	return doc, nil
}

// bmcFacts is what an inspection learnt, before it becomes a document.
type bmcFacts struct {
	device  *app.GetDeviceIDResponse  // nil: unavailable
	product *types.FRUProductInfoArea // nil: none or unreadable
	board   *types.FRUBoardInfoArea   // nil: none, unreadable or not needed
	channel uint8                     // the LAN channel the session runs on
	ipv4    net.IP
	mac     net.HardwareAddr
	ipv6    []ipv6Address // in the order read: dynamic, then static
	// unavailable is fact group -> why the BMC did not report it.
	unavailable map[string]string
}

// ipv6Address is one of the BMC's IPv6 address slots.
type ipv6Address struct {
	ip     net.IP
	status types.LanIPv6AddressStatus
}

func (f *bmcFacts) learnt() bool {
	return f.device != nil || f.product != nil || f.board != nil || f.ipv4 != nil || f.mac != nil || len(f.ipv6) > 0
}

// inspect reads every fact group. A group the BMC refuses is noted and
// skipped; a lost exchange (no answer, cancelled) ends the inspection so
// that do can retry it on a fresh session.
func (n *Node) inspect(ctx context.Context, x *exchanger, f *bmcFacts) error {
	var first error
	for _, g := range []struct {
		name string
		read func(context.Context, *bmcFacts) error
	}{{"device_id", x.readDeviceID}, {"fru", x.readFRU}, {"lan", x.readLAN}, {"lan6", x.readLAN6}} {
		err := g.read(ctx, f)
		if err == nil {
			continue
		}
		if lost(ctx, err) {
			return err
		}
		if f.unavailable == nil {
			f.unavailable = map[string]string{}
		}
		f.unavailable[g.name] = libError{err: err, secret: n.info.Password}.Error()
		if first == nil {
			first = err // each says what it read: "get device id: ..."
		}
	}
	if !f.learnt() && first != nil {
		return fmt.Errorf("the BMC reported nothing: %w", first)
	}
	return nil
}

// lost reports whether err means that an exchange failed (no answer, the
// context ended) rather than that the BMC answered with a completion code
// or with data that does not decode.
func lost(ctx context.Context, err error) bool {
	if _, answered := types.IsResponseError(err); answered {
		return false
	}
	return ctxErr(ctx) != nil || errors.Is(classify(ctx, err, phaseCommand), drivers.ErrUnreachable)
}

func (x *exchanger) readDeviceID(ctx context.Context, f *bmcFacts) error {
	return x.call(ctx, func(c *client.Client) error {
		res, err := c.GetDeviceID(ctx)
		if err != nil {
			return fmt.Errorf("get device id: %w", err)
		}
		f.device = res
		return nil
	})
}

// errNoFRUData: FRU device 0 has nothing to read.
var errNoFRUData = errors.New("no FRU data")

// readFRU reads FRU device 0's common header and its product info area,
// and its board info area when the product area lacks a manufacturer, name
// or serial number. Only the areas are read, not the whole device (often 2
// KiB, 64 reads).
func (x *exchanger) readFRU(ctx context.Context, f *bmcFacts) error {
	var size uint16
	if err := x.call(ctx, func(c *client.Client) error {
		res, err := c.GetFRUInventoryAreaInfo(ctx, fruDevice)
		if err != nil {
			return err
		}
		size = res.AreaSizeBytes
		return nil
	}); err != nil {
		if re, ok := types.IsResponseError(err); ok && re.CompletionCode() == types.CodeRequestedDataNotPresent {
			return fmt.Errorf("%w: get FRU inventory area info: %w", errNoFRUData, err)
		}
		return fmt.Errorf("get FRU inventory area info: %w", err)
	}
	if size < uint16(types.FRUCommonHeaderSize) {
		return fmt.Errorf("%w: FRU device %d holds %d bytes", errNoFRUData, fruDevice, size)
	}
	var hdr types.FRUCommonHeader
	if err := x.call(ctx, func(c *client.Client) error {
		res, err := c.ReadFRUData(ctx, fruDevice, 0, types.FRUCommonHeaderSize)
		if err != nil {
			return err
		}
		return hdr.Unpack(res.Data)
	}); err != nil {
		return fmt.Errorf("read FRU common header: %w", err)
	}
	if hdr.FormatVersion != types.FRUFormatVersion { // an erased EEPROM reads 0xff
		return fmt.Errorf("%w: FRU common header version %#02x, want %#02x", errNoFRUData, hdr.FormatVersion,
			types.FRUFormatVersion)
	}
	var errs []error
	if off := uint16(hdr.ProductOffset8B) * 8; off > 0 && off < size {
		err := x.call(ctx, func(c *client.Client) error {
			a, err := c.GetFRUAreaProduct(ctx, fruDevice, off)
			if err == nil {
				f.product = a
			}
			return err
		})
		if err != nil {
			if lost(ctx, err) {
				return err
			}
			errs = append(errs, fmt.Errorf("product info area: %w", err))
		}
	}
	v := systemVendor(f.product, nil)
	if off := uint16(hdr.BoardOffset8B) * 8; off > 0 && off < size &&
		(v.Manufacturer == "" || v.ProductName == "" || v.SerialNumber == "") {
		err := x.call(ctx, func(c *client.Client) error {
			a, err := c.GetFRUAreaBoard(ctx, fruDevice, off)
			if err == nil {
				f.board = a
			}
			return err
		})
		if err != nil {
			if lost(ctx, err) {
				return err
			}
			errs = append(errs, fmt.Errorf("board info area: %w", err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // what did decode is kept
	}
	if f.product == nil && f.board == nil {
		return fmt.Errorf("%w: FRU device %d has neither a product nor a board info area", errNoFRUData, fruDevice)
	}
	return nil
}

// readLAN reads the BMC's IPv4 and MAC addresses on the channel the
// session runs on ("this channel"), or on channel 1 when the BMC does not
// take "this channel" here.
func (x *exchanger) readLAN(ctx context.Context, f *bmcFacts) error {
	ip := &types.LanConfigParam_IP{}
	get := func(p types.LanConfigParameter) error {
		return x.call(ctx, func(c *client.Client) error { return c.GetLanConfigParamFor(ctx, f.channel, p) })
	}
	err := get(ip)
	if re, answered := types.IsResponseError(err); answered && re.CompletionCode() != types.CodeInsufficientPrivilege {
		f.channel = 1
		err = get(ip)
	}
	if err != nil {
		return fmt.Errorf("get LAN IP address: %w", err)
	}
	f.ipv4 = ip.IP
	mac := &types.LanConfigParam_MAC{}
	if err := get(mac); err != nil {
		return fmt.Errorf("get LAN MAC address: %w", err)
	}
	f.mac = mac.MAC
	return nil
}

// readLAN6 reads the BMC's IPv6 addresses (IPMI 2.0 errata: LAN
// parameters 55, 56 and 59), up to maxIPv6Reads dynamic (SLAAC, DHCPv6)
// and as many static ones. Most BMCs without IPv6 answer "parameter not
// supported".
func (x *exchanger) readLAN6(ctx context.Context, f *bmcFacts) error {
	get := func(p types.LanConfigParameter) error {
		return x.call(ctx, func(c *client.Client) error { return c.GetLanConfigParamFor(ctx, f.channel, p) })
	}
	st := &types.LanConfigParam_IPv6Status{}
	if err := get(st); err != nil {
		return fmt.Errorf("get IPv6 status: %w", err)
	}
	for i := range min(int(st.DynamicAddressMax), maxIPv6Reads) {
		a := &types.LanConfigParam_IPv6DynamicAddress{SetSelector: uint8(i)}
		if err := get(a); err != nil {
			return fmt.Errorf("get IPv6 dynamic address %d: %w", i, err)
		}
		f.ipv6 = append(f.ipv6, ipv6Address{ip: a.IPv6, status: a.Status})
	}
	for i := range min(int(st.StaticAddressMax), maxIPv6Reads) {
		a := &types.LanConfigParam_IPv6StaticAddress{SetSelector: uint8(i)}
		if err := get(a); err != nil {
			return fmt.Errorf("get IPv6 static address %d: %w", i, err)
		}
		if a.Enabled {
			f.ipv6 = append(f.ipv6, ipv6Address{ip: a.IPv6, status: a.Status})
		}
	}
	return nil
}

// document is the inventory document of what the BMC reported.
func (f *bmcFacts) document() inventory.Document {
	bmc := &inventory.BMC{}
	if d := f.device; d != nil {
		// As ipmitool: the major revision, then the (BCD) minor in two digits.
		bmc.FirmwareVersion = fmt.Sprintf("%d.%02d", d.MajorFirmwareRevision, d.MinorFirmwareRevision)
		bmc.IPMIVersion = fmt.Sprintf("%d.%d", d.MajorIPMIVersion, d.MinorIPMIVersion)
		bmc.ManufacturerID = int(d.ManufacturerID & 0x0fffff)
		bmc.ProductID = int(d.ProductID)
	}
	if len(f.unavailable) > 0 {
		bmc.Unavailable = maps.Clone(f.unavailable)
	}
	return inventory.Document{
		Inventory: inventory.Inventory{
			BMCAddress:   inventory.NullString(ipv4Text(f.ipv4)),
			BMCV6Address: inventory.NullString(pickIPv6(f.ipv6)),
			BMCMAC:       macText(f.mac),
			SystemVendor: systemVendor(f.product, f.board),
		},
		PluginData: inventory.PluginData{BMC: bmc},
	}
}

// systemVendor takes each of manufacturer, product name and serial number
// from the product info area, else from the board info area.
func systemVendor(p *types.FRUProductInfoArea, b *types.FRUBoardInfoArea) inventory.SystemVendor {
	var v inventory.SystemVendor
	if p != nil {
		v.Manufacturer = fruText(p.ManufacturerTypeLength, p.Manufacturer)
		v.ProductName = fruText(p.NameTypeLength, p.Name)
		v.SerialNumber = fruText(p.SerialNumberTypeLength, p.SerialNumber)
	}
	if b != nil {
		v.Manufacturer = cmp.Or(v.Manufacturer, fruText(b.ManufacturerTypeLength, b.Manufacturer))
		v.ProductName = cmp.Or(v.ProductName, fruText(b.ProductNameTypeLength, b.ProductName))
		v.SerialNumber = cmp.Or(v.SerialNumber, fruText(b.SerialNumberTypeLength, b.SerialNumber))
	}
	return v
}

// fruText decodes a FRU type/length field (Platform Management FRU
// Information Storage Definition, section 13) as text: 8-bit ASCII as
// Latin-1 (the 16-bit Unicode of non-English language codes is not
// decoded), 6-bit packed ASCII and BCD plus as their characters, binary as
// hex (as ipmitool prints it). Control characters (NUL padding) are dropped
// and surrounding spaces trimmed; "" is unknown.
func fruText(tl types.TypeLength, raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	switch tl.TypeCode() {
	case 0: // binary
		s = hex.EncodeToString(raw)
	case 3: // 8-bit ASCII + Latin-1
		r := make([]rune, len(raw))
		for i, b := range raw {
			r[i] = rune(b)
		}
		s = string(r)
	default: // BCD plus, 6-bit ASCII
		chars, err := tl.Chars(raw)
		if err != nil {
			return ""
		}
		s = string(chars)
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// ipv4Text is an IPv4 address, "" for none or 0.0.0.0 (unconfigured).
func ipv4Text(ip net.IP) string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || !a.Unmap().Is4() || a.Unmap().IsUnspecified() {
		return ""
	}
	return a.Unmap().String()
}

// macText is a MAC address in lower case, "" for none or all zeros.
func macText(mac net.HardwareAddr) string {
	if len(mac) != 6 || strings.Trim(mac.String(), "0:") == "" {
		return ""
	}
	return mac.String()
}

// pickIPv6 is the address IPA would report as bmc_v6address: the first
// active one, a global address before a link-local one, without its prefix
// length; "" when there is none.
func pickIPv6(addrs []ipv6Address) string {
	var linkLocal string
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.ip)
		if !ok || !ip.Is6() || ip.Is4In6() || ip.IsUnspecified() || a.status != types.LanIPv6AddressStatus_Active {
			continue
		}
		if !ip.IsLinkLocalUnicast() {
			return ip.String()
		}
		if linkLocal == "" {
			linkLocal = ip.String()
		}
	}
	return linkLocal
}
