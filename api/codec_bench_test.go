package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// The JSON codec against the standard library, same run, same machine
// (BENCHMARKS.md, "JSON codec: hand-rolled vs encoding/json"):
//
//	go test -run '^$' -bench 'Codec' -benchmem -count 6 ./api/
//
// Encoding renders what GET /v1/nodes/detail (500 nodes) and GET
// /v1/nodes/{uuid} render at the latest microversion; the encoding/json
// variant is its best case, a static struct in Ironic's field order (a real
// replacement would also need per-microversion and ?fields= plans).
// Decoding reads a node create body, a PATCH body and a 60 KB PATCH body.

// stdLink and stdNode are the node document for encoding/json.
type stdLink struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

// pyTime is a time rendered as Python's isoformat() of an aware UTC time.
type pyTime time.Time

func (t pyTime) MarshalJSON() ([]byte, error) {
	u := time.Time(t).UTC()
	layout := `"2006-01-02T15:04:05+00:00"`
	if u.Nanosecond()/1000 != 0 {
		layout = `"2006-01-02T15:04:05.000000+00:00"`
	}
	return u.AppendFormat(nil, layout), nil
}

func pyTimePtr(t *time.Time) *pyTime {
	if t == nil || t.IsZero() {
		return nil
	}
	p := pyTime(*t)
	return &p
}

type stdNode struct {
	UUID                 string          `json:"uuid"`
	CreatedAt            *pyTime         `json:"created_at"`
	UpdatedAt            *pyTime         `json:"updated_at"`
	AutomatedClean       *bool           `json:"automated_clean"`
	BiosInterface        *string         `json:"bios_interface"`
	BootInterface        *string         `json:"boot_interface"`
	BootMode             *string         `json:"boot_mode"`
	CleanStep            json.RawMessage `json:"clean_step"`
	ConductorGroup       string          `json:"conductor_group"`
	ConsoleEnabled       bool            `json:"console_enabled"`
	ConsoleInterface     *string         `json:"console_interface"`
	DisablePowerOff      bool            `json:"disable_power_off"`
	DeployInterface      *string         `json:"deploy_interface"`
	DeployStep           json.RawMessage `json:"deploy_step"`
	Description          *string         `json:"description"`
	Driver               string          `json:"driver"`
	DriverInfo           json.RawMessage `json:"driver_info"`
	DriverInternalInfo   json.RawMessage `json:"driver_internal_info"`
	Extra                json.RawMessage `json:"extra"`
	Fault                *string         `json:"fault"`
	FirmwareInterface    *string         `json:"firmware_interface"`
	InspectionFinishedAt *pyTime         `json:"inspection_finished_at"`
	InspectionStartedAt  *pyTime         `json:"inspection_started_at"`
	InspectInterface     *string         `json:"inspect_interface"`
	InstanceInfo         json.RawMessage `json:"instance_info"`
	InstanceUUID         *string         `json:"instance_uuid"`
	LastError            *string         `json:"last_error"`
	Lessee               *string         `json:"lessee"`
	Maintenance          bool            `json:"maintenance"`
	MaintenanceReason    *string         `json:"maintenance_reason"`
	ManagementInterface  *string         `json:"management_interface"`
	Name                 *string         `json:"name"`
	NetworkData          json.RawMessage `json:"network_data"`
	NetworkInterface     *string         `json:"network_interface"`
	Owner                *string         `json:"owner"`
	ParentNode           *string         `json:"parent_node"`
	PowerInterface       *string         `json:"power_interface"`
	PowerState           *string         `json:"power_state"`
	Properties           json.RawMessage `json:"properties"`
	Protected            bool            `json:"protected"`
	ProtectedReason      *string         `json:"protected_reason"`
	ProvisionState       *string         `json:"provision_state"`
	ProvisionUpdatedAt   *pyTime         `json:"provision_updated_at"`
	RAIDConfig           json.RawMessage `json:"raid_config"`
	RAIDInterface        *string         `json:"raid_interface"`
	RescueInterface      *string         `json:"rescue_interface"`
	Reservation          *string         `json:"reservation"`
	ResourceClass        *string         `json:"resource_class"`
	Retired              bool            `json:"retired"`
	RetiredReason        *string         `json:"retired_reason"`
	SecureBoot           *bool           `json:"secure_boot"`
	ServiceStep          json.RawMessage `json:"service_step"`
	Shard                *string         `json:"shard"`
	StorageInterface     *string         `json:"storage_interface"`
	TargetPowerState     *string         `json:"target_power_state"`
	TargetProvisionState *string         `json:"target_provision_state"`
	TargetRAIDConfig     json.RawMessage `json:"target_raid_config"`
	Traits               []string        `json:"traits"`
	VendorInterface      *string         `json:"vendor_interface"`
	Links                []stdLink       `json:"links"`
	Conductor            string          `json:"conductor"`
	AllocationUUID       *string         `json:"allocation_uuid"`
	ChassisUUID          *string         `json:"chassis_uuid"`
	Ports                []stdLink       `json:"ports"`
	States               []stdLink       `json:"states"`
	Portgroups           []stdLink       `json:"portgroups"`
	Volume               []stdLink       `json:"volume"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func rawOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

func stdLinks(base, path string) []stdLink {
	return []stdLink{{base + "/v1/" + path, "self"}, {base + "/" + path, "bookmark"}}
}

// toStdNode builds the encoding/json document of n at the latest
// microversion (masking as the hand-rolled path masks).
func toStdNode(vw *view, n *store.Node) stdNode {
	i := &n.Interfaces
	traits := n.Traits
	if traits == nil {
		traits = []string{}
	}
	p := "nodes/" + n.UUID
	sn := stdNode{
		UUID: n.UUID, UpdatedAt: pyTimePtr(n.UpdatedAt), AutomatedClean: n.AutomatedClean,
		BiosInterface: orNull(i.Bios), BootInterface: orNull(i.Boot), BootMode: n.BootMode,
		CleanStep: rawOrEmpty(n.CleanStep), ConductorGroup: n.ConductorGroup, ConsoleEnabled: n.ConsoleEnabled,
		ConsoleInterface: orNull(i.Console), DeployInterface: orNull(i.Deploy), DeployStep: rawOrEmpty(n.DeployStep),
		Description: n.Description, Driver: n.Driver,
		DriverInfo:         appendMasked(nil, n.DriverInfo, false),
		DriverInternalInfo: appendDriverInternalInfo(nil, n.DriverInternalInfo),
		Extra:              rawOrEmpty(n.Extra), Fault: n.Fault,
		InspectionFinishedAt: pyTimePtr(n.InspectionFinishedAt), InspectionStartedAt: pyTimePtr(n.InspectionStartedAt),
		InspectInterface: orNull(i.Inspect), InstanceInfo: appendMasked(nil, n.InstanceInfo, true),
		InstanceUUID: n.InstanceUUID, LastError: n.LastError, Lessee: n.Lessee, Maintenance: n.Maintenance,
		MaintenanceReason: n.MaintenanceReason, ManagementInterface: orNull(i.Management), Name: n.Name,
		NetworkData: rawOrEmpty(n.NetworkData), NetworkInterface: orNull(i.Network), Owner: n.Owner,
		PowerInterface: orNull(i.Power), PowerState: orNull(string(n.PowerState)),
		Properties: rawOrEmpty(n.Properties), Protected: n.Protected, ProtectedReason: n.ProtectedReason,
		ProvisionState:     orNull(string(displayProvisionState(n.ProvisionState, vw.minor))),
		ProvisionUpdatedAt: pyTimePtr(n.ProvisionUpdatedAt), RAIDConfig: rawOrEmpty(n.RAIDConfig),
		RAIDInterface: orNull(i.RAID), RescueInterface: orNull(i.Rescue), ResourceClass: n.ResourceClass,
		Retired: n.Retired, RetiredReason: n.RetiredReason, SecureBoot: n.SecureBoot, Shard: n.Shard,
		DisablePowerOff: n.DisablePowerOff, FirmwareInterface: orNull(i.Firmware), ParentNode: n.ParentNode,
		ServiceStep:      rawOrEmpty(n.ServiceStep),
		StorageInterface: orNull(i.Storage), TargetPowerState: orNull(string(n.TargetPowerState)),
		TargetProvisionState: orNull(string(n.TargetProvisionState)), TargetRAIDConfig: rawOrEmpty(n.TargetRAIDConfig),
		Traits: traits, VendorInterface: orNull(i.Vendor), Links: stdLinks(vw.base, p), Conductor: vw.conductor,
		ChassisUUID: n.ChassisUUID, Ports: stdLinks(vw.base, p+"/ports"), States: stdLinks(vw.base, p+"/states"),
		Portgroups: stdLinks(vw.base, p+"/portgroups"), Volume: stdLinks(vw.base, p+"/volume"),
	}
	if !n.CreatedAt.IsZero() {
		sn.CreatedAt = pyTimePtr(&n.CreatedAt)
	}
	return sn
}

// codecNodes are the 500 nodes of the API benchmarks, with masked BMC
// credentials (the common case on real hardware).
func codecNodes(b *testing.B) (*view, []store.Node) {
	e, _ := benchEnv(b)
	nodes := e.srv.Store.(staticList).nodes
	for i := range nodes {
		nodes[i].DriverInfo = json.RawMessage(`{"ipmi_address": "10.0.0.9", "ipmi_username": "admin", "ipmi_password": "s3cret", "deploy_kernel": "http://k"}`)
	}
	base := "http://127.0.0.1:6385"
	return &view{minor: maxMinor, base: base, escBase: escapeURL(base), conductor: "localhost"}, nodes
}

func renderHand(vw *view, nodes []store.Node, b []byte) []byte {
	return nodeRes.appendList(b, vw, nodes, nodeRes.fullPlan(vw.minor), "")
}

func renderStd(vw *view, nodes []store.Node, buf *bytes.Buffer) error {
	doc := struct {
		Nodes []stdNode `json:"nodes"`
	}{Nodes: make([]stdNode, len(nodes))}
	for i := range nodes {
		doc.Nodes[i] = toStdNode(vw, &nodes[i])
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // Ironic does not escape <, > and &
	return enc.Encode(doc)
}

// TestCodecBenchEquivalence checks that the encoding/json variant renders
// the same document as the hand-rolled one, so the benchmark compares equals.
func TestCodecBenchEquivalence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := sampleNode()
	n.DriverInfo = json.RawMessage(`{"ipmi_address": "10.0.0.9", "ipmi_password": "s3cret"}`)
	n.LastError = strp("x <&> \u2028 \"q\"")
	e.put(n)
	nodes, err := e.st.ListNodes(t.Context(), store.ListNodes{})
	if err != nil {
		t.Fatal(err)
	}
	vw := &view{minor: maxMinor, base: "http://h", escBase: "http://h", conductor: "localhost"}
	hand := renderHand(vw, nodes, nil)
	var std bytes.Buffer
	if err := renderStd(vw, nodes, &std); err != nil {
		t.Fatal(err)
	}
	var a, c any
	if err := json.Unmarshal(hand, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(std.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, c) {
		t.Fatalf("renderings differ:\nhand %s\nstd  %s", hand, std.Bytes())
	}
	if got, want := nodeKeys(t, string(hand)[len(`{"nodes":[`):len(hand)-2]), nodeKeys(t, strings.TrimSuffix(std.String(), "\n")[len(`{"nodes":[`):std.Len()-3]); !reflect.DeepEqual(got, want) {
		t.Fatalf("key order differs:\nhand %v\nstd  %v", got, want)
	}
}

func BenchmarkCodecEncodeDetail500Hand(b *testing.B) {
	vw, nodes := codecNodes(b)
	buf := renderHand(vw, nodes, nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = renderHand(vw, nodes, buf[:0])
	}
}

func BenchmarkCodecEncodeDetail500Std(b *testing.B) {
	vw, nodes := codecNodes(b)
	var buf bytes.Buffer
	if err := renderStd(vw, nodes, &buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		_ = renderStd(vw, nodes, &buf)
	}
}

func BenchmarkCodecEncodeNodeHand(b *testing.B) {
	vw, nodes := codecNodes(b)
	plan := nodeRes.fullPlan(vw.minor)
	buf := nodeRes.appendObject(nil, vw, &nodes[42], plan)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = nodeRes.appendObject(buf[:0], vw, &nodes[42], plan)
	}
}

func BenchmarkCodecEncodeNodeStd(b *testing.B) {
	vw, nodes := codecNodes(b)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(toStdNode(vw, &nodes[42]))
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		_ = enc.Encode(toStdNode(vw, &nodes[42]))
	}
}

// Request bodies as python-ironicclient sends them.
var (
	codecCreateBody = []byte(`{"driver": "ipmi", "name": "rack1-u07", "driver_info": {"ipmi_address": "10.0.0.7", "ipmi_username": "admin", "ipmi_password": "secret", "deploy_kernel": "http://boot/vmlinuz", "deploy_ramdisk": "http://boot/initramfs"}, "properties": {"cpus": 8, "memory_mb": 16384, "local_gb": 100, "cpu_arch": "x86_64", "capabilities": "boot_mode:uefi"}, "extra": {"rack": "r1", "slot": 7}, "resource_class": "baremetal", "boot_interface": "ipxe", "deploy_interface": "direct"}`)
	codecPatchBody  = []byte(`[{"op": "add", "path": "/instance_info/image_source", "value": "http://images/img.raw"}, {"op": "add", "path": "/instance_info/image_checksum", "value": "d41d8cd98f00b204e9800998ecf8427e"}, {"op": "replace", "path": "/driver_info/ipmi_address", "value": "10.0.0.8"}, {"op": "remove", "path": "/extra/slot"}]`)
	codecLargeBody  = func() []byte {
		var sb strings.Builder
		sb.WriteString(`[{"op": "add", "path": "/extra/inventory", "value": {`)
		for i := range 600 {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, `"disk%03d": {"size": %d, "model": "QEMU HARDDISK \u00e9", "rotational": %t, "wwn": null}`, i, 1<<30+i, i%2 == 0)
		}
		sb.WriteString(`}}]`)
		return []byte(sb.String())
	}()
)

// decodeStd is the standard library's equivalent: one value, numbers kept
// as text, trailing data refused; object keys lose their order.
func decodeStd(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, jsonwire.ErrTrailingData
	}
	return v, nil
}

func benchDecode(b *testing.B, body []byte, decode func([]byte) (any, error)) {
	if _, err := decode(body); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecDecodeCreateOrdered(b *testing.B) {
	benchDecode(b, codecCreateBody, jsonwire.Decode)
}
func BenchmarkCodecDecodeCreateStd(b *testing.B)    { benchDecode(b, codecCreateBody, decodeStd) }
func BenchmarkCodecDecodePatchOrdered(b *testing.B) { benchDecode(b, codecPatchBody, jsonwire.Decode) }
func BenchmarkCodecDecodePatchStd(b *testing.B)     { benchDecode(b, codecPatchBody, decodeStd) }
func BenchmarkCodecDecodeLargeOrdered(b *testing.B) { benchDecode(b, codecLargeBody, jsonwire.Decode) }
func BenchmarkCodecDecodeLargeStd(b *testing.B)     { benchDecode(b, codecLargeBody, decodeStd) }
