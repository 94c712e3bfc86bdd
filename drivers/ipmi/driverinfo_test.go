package ipmi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/ipmi"
)

func TestParseDriverInfo(t *testing.T) {
	const pw = "s3cr3t-Pw!"
	tests := []struct {
		name    string
		info    string
		want    ipmi.DriverInfo // checked when wantErr is nil
		wantErr error           // matched with errors.Is
		wantMsg string          // the error names the problem for a human
	}{
		{name: "address only, Ironic defaults", info: `{"ipmi_address":"10.0.0.9"}`,
			want: ipmi.DriverInfo{Address: "10.0.0.9", Port: 623, PrivLevel: "ADMINISTRATOR", CipherSuite: -1,
				ProtocolVersion: "2.0", DisableBootTimeout: true}},
		{name: "everything set", info: `{"ipmi_address":"bmc-1.example.com","ipmi_port":6230,"ipmi_username":"admin",
			"ipmi_password":"` + pw + `","ipmi_priv_level":"OPERATOR","ipmi_cipher_suite":17,
			"ipmi_protocol_version":"1.5","ipmi_disable_boot_timeout":false,"ipmi_bridging":"no","other_key":1}`,
			want: ipmi.DriverInfo{Address: "bmc-1.example.com", Port: 6230, Username: "admin", Password: pw,
				PrivLevel: "OPERATOR", CipherSuite: 17, ProtocolVersion: "1.5"}},
		{name: "numeric strings as Ironic accepts them", info: `{"ipmi_address":"fd00::9","ipmi_port":"1623",
			"ipmi_cipher_suite":"3","ipmi_priv_level":"user","ipmi_disable_boot_timeout":"False","ipmi_password":1234}`,
			want: ipmi.DriverInfo{Address: "fd00::9", Port: 1623, Password: "1234", PrivLevel: "USER",
				CipherSuite: 3, ProtocolVersion: "2.0"}},
		{name: "empty driver_info", info: ``, wantErr: drivers.ErrBadConfig, wantMsg: ipmi.MissingAddress},
		{name: "missing address", info: `{"ipmi_username":"root","ipmi_password":"` + pw + `"}`,
			wantErr: drivers.ErrBadConfig, wantMsg: ipmi.MissingAddress},
		{name: "blank address", info: `{"ipmi_address":"  "}`, wantErr: drivers.ErrBadConfig,
			wantMsg: ipmi.MissingAddress},
		{name: "address with port", info: `{"ipmi_address":"10.0.0.9:623"}`, wantErr: drivers.ErrBadConfig,
			wantMsg: "ipmi_address must be an IP address or a host name"},
		{name: "address not a string", info: `{"ipmi_address":10}`, wantErr: drivers.ErrBadConfig,
			wantMsg: "ipmi_address must be a string"},
		{name: "port zero", info: `{"ipmi_address":"h","ipmi_port":0}`, wantErr: drivers.ErrBadConfig,
			wantMsg: "ipmi_port must be an integer between 1 and 65535"},
		{name: "port too big", info: `{"ipmi_address":"h","ipmi_port":"70000"}`, wantErr: drivers.ErrBadConfig,
			wantMsg: "ipmi_port must be an integer between 1 and 65535"},
		{name: "port not a number", info: `{"ipmi_address":"h","ipmi_port":"ipmi"}`, wantErr: drivers.ErrBadConfig,
			wantMsg: "ipmi_port must be an integer between 1 and 65535"},
		{name: "port fractional", info: `{"ipmi_address":"h","ipmi_port":623.5}`, wantErr: drivers.ErrBadConfig,
			wantMsg: "ipmi_port must be an integer"},
		{name: "unknown privilege", info: `{"ipmi_address":"h","ipmi_priv_level":"ROOT","ipmi_password":"` + pw + `"}`,
			wantErr: drivers.ErrBadConfig, wantMsg: "ipmi_priv_level must be one of ADMINISTRATOR, CALLBACK, OPERATOR, USER"},
		{name: "cipher suite out of range", info: `{"ipmi_address":"h","ipmi_cipher_suite":42}`,
			wantErr: drivers.ErrBadConfig, wantMsg: "ipmi_cipher_suite must be an integer between 0 and 19"},
		{name: "protocol version", info: `{"ipmi_address":"h","ipmi_protocol_version":"3.0"}`,
			wantErr: drivers.ErrBadConfig, wantMsg: "ipmi_protocol_version"},
		{name: "username too long", info: `{"ipmi_address":"h","ipmi_username":"abcdefghijklmnopq"}`,
			wantErr: drivers.ErrBadConfig, wantMsg: "ipmi_username must be at most 16 characters"},
		{name: "password too long", info: `{"ipmi_address":"h","ipmi_password":"` + strings.Repeat(pw, 3) + `"}`,
			wantErr: drivers.ErrBadConfig, wantMsg: "ipmi_password must be at most 20 bytes"},
		{name: "password of the wrong type", info: `{"ipmi_address":"h","ipmi_password":["` + pw + `"]}`,
			wantErr: drivers.ErrBadConfig, wantMsg: "ipmi_password must be a string"},
		{name: "malformed JSON around the password", info: `{"ipmi_address":"h","ipmi_password":"` + pw + `",}`,
			wantErr: drivers.ErrBadConfig, wantMsg: "driver_info must be a JSON object"},
		{name: "not an object", info: `["` + pw + `"]`, wantErr: drivers.ErrBadConfig,
			wantMsg: "driver_info must be a JSON object"},
		{name: "bad boolean", info: `{"ipmi_address":"h","ipmi_disable_boot_timeout":"maybe"}`,
			wantErr: drivers.ErrBadConfig, wantMsg: "ipmi_disable_boot_timeout must be a boolean"},
		{name: "bridging is unsupported", info: `{"ipmi_address":"h","ipmi_bridging":"single"}`,
			wantErr: drivers.ErrUnsupported, wantMsg: "ipmi_bridging"},
		{name: "Kg key is unsupported", info: `{"ipmi_address":"h","ipmi_hex_kg_key":"00ff"}`,
			wantErr: drivers.ErrUnsupported, wantMsg: "ipmi_hex_kg_key"},
		{name: "every problem is reported at once", info: `{"ipmi_port":-1,"ipmi_priv_level":"x","ipmi_password":"` + pw + `"}`,
			wantErr: drivers.ErrBadConfig, wantMsg: ipmi.MissingAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ipmi.ParseDriverInfo(json.RawMessage(tt.info))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseDriverInfo() error = %v", err)
				}
				if got != tt.want {
					t.Fatalf("ParseDriverInfo() = %+v, want %+v", got, tt.want)
				}
				if strings.Contains(got.String(), pw) {
					t.Errorf("String() reveals the password: %s", got)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseDriverInfo() error = %v, want errors.Is %v", err, tt.wantErr)
			}
			if !errors.Is(err, drivers.ErrBadConfig) {
				t.Errorf("error %v does not wrap drivers.ErrBadConfig", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	r := drivers.NewRegistry()
	h := ipmi.New(ipmi.Config{})
	h.Register(r)

	typ, err := r.Type(ipmi.TypeName)
	if err != nil {
		t.Fatalf("Type(ipmi) = %v", err)
	}
	if typ.InMemory {
		t.Error("ipmi is marked InMemory")
	}
	for _, key := range []string{"ipmi_address", "ipmi_port", "ipmi_username", "ipmi_password", "ipmi_priv_level",
		"ipmi_cipher_suite"} {
		if typ.Properties[key] == "" {
			t.Errorf("Properties lacks %s", key)
		}
	}
	ifaces, err := r.ResolveInterfaces(ipmi.TypeName, nil)
	if err != nil {
		t.Fatalf("ResolveInterfaces() = %v", err)
	}
	want := map[drivers.Kind]string{drivers.KindPower: "ipmitool", drivers.KindManagement: "ipmitool",
		drivers.KindVendor: "ipmitool", drivers.KindDeploy: "direct", drivers.KindBoot: "pxe"}
	for k, v := range want {
		if ifaces[k] != v {
			t.Errorf("default %s interface = %q, want %q", k, ifaces[k], v)
		}
	}
	if _, err := r.ResolveInterfaces(ipmi.TypeName, map[drivers.Kind]string{drivers.KindVendor: "no-vendor",
		drivers.KindBoot: "ipxe", drivers.KindDeploy: "fake"}); err != nil {
		t.Errorf("ResolveInterfaces(no-vendor, ipxe, fake) = %v", err)
	}

	good := drivers.Node{UUID: "n1", DriverInfo: json.RawMessage(`{"ipmi_address":"10.0.0.9","ipmi_password":"x"}`)}
	p, err := r.Power("ipmitool", good)
	if err != nil {
		t.Fatalf("Power() = %v", err)
	}
	if _, ok := p.(drivers.Rebooter); !ok {
		t.Error("power interface is not a drivers.Rebooter")
	}
	if _, ok := p.(drivers.SoftPower); !ok {
		t.Error("power interface is not a drivers.SoftPower")
	}
	v, err := r.Vendor("ipmitool", good)
	if err != nil {
		t.Fatalf("Vendor() = %v", err)
	}
	for _, m := range []string{"send_raw", "bmc_reset"} {
		if _, ok := v.VendorMethods()[m]; !ok {
			t.Errorf("vendor method %s missing", m)
		}
	}

	bad := drivers.Node{UUID: "n2", DriverInfo: json.RawMessage(`{"ipmi_port":"x"}`)}
	errs := r.Validate(ifaces, bad)
	for _, k := range []drivers.Kind{drivers.KindPower, drivers.KindManagement, drivers.KindVendor} {
		if !errors.Is(errs[k], drivers.ErrBadConfig) {
			t.Errorf("Validate()[%s] = %v, want ErrBadConfig", k, errs[k])
		}
	}
}
