package inventory

import (
	"errors"
	"strings"
	"testing"
)

// TestRunHooks: Ironic 29's default hooks on small inventories: which
// interfaces are valid under each add_ports policy, the pxelinux form of
// boot.pxe_interface, what plugin_data gains, and the failures with
// Ironic's messages.
func TestRunHooks(t *testing.T) {
	t.Parallel()
	const ifaces = `"interfaces":[` +
		`{"name":"eth0","mac_address":"52:54:00:AA:BB:01","ipv4_address":"192.0.2.10"},` +
		`{"name":"eth1","mac_address":"52:54:00:aa:bb:02","ipv4_address":null,"ipv6_address":"fe80::1%eth1"},` +
		`{"name":"eth2","mac_address":"52:54:00:aa:bb:03"},` +
		`{"name":"lo","mac_address":"00:00:00:00:00:00","ipv4_address":"127.0.0.1"},` +
		`{"name":"bad","mac_address":"zz"},{"mac_address":"52:54:00:aa:bb:09"}]`
	inv := func(boot string) string {
		return `{` + ifaces + `,"cpu":{"architecture":"aarch64"},"boot":{"pxe_interface":` + boot + `}}`
	}
	names := func(l []HookInterface) string {
		var out []string
		for _, h := range l {
			s := h.Name
			if h.PXE {
				s += "*"
			}
			out = append(out, s)
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		name, inv, pd, policy string
		all, valid            string
		err                   string
	}{
		{name: "pxe, known (pxelinux form)", inv: inv(`"01-52-54-00-aa-bb-01"`), all: "eth0*,eth1,eth2,lo", valid: "eth0*"},
		{name: "pxe, unknown: every interface but lo", inv: inv(`null`), all: "eth0,eth1,eth2,lo", valid: "eth0,eth1,eth2"},
		{name: "active", inv: inv(`"52:54:00:aa:bb:01"`), policy: "active", all: "eth0*,eth1,eth2,lo", valid: "eth0*,eth1"},
		{name: "all", inv: inv(`"52:54:00:aa:bb:02"`), policy: "all", all: "eth0,eth1*,eth2,lo", valid: "eth0,eth1*,eth2"},
		{name: "disabled still validates", inv: inv(`null`), policy: "disabled", all: "eth0,eth1,eth2,lo",
			valid: "eth0,eth1,eth2"},
		{name: "ramdisk error", inv: inv(`null`), pd: `{"error":"The following errors were encountered:\n* boom"}`,
			err: "Ramdisk reported error: The following errors were encountered:\n* boom"},
		{name: "no valid interface", inv: `{"interfaces":[{"name":"x","mac_address":"nope"}],"cpu":{"architecture":"x86_64"}}`,
			err: "no valid network interfaces"},
		{name: "nothing matches active", inv: `{"interfaces":[{"name":"eth0","mac_address":"52:54:00:aa:bb:01"}],"cpu":{"architecture":"x86_64"}}`,
			policy: "active", err: `no network interfaces match the configuration (add_ports set to "active")`},
		{name: "no architecture", inv: `{"interfaces":[{"name":"eth0","mac_address":"52:54:00:aa:bb:01"}],"cpu":{"count":2}}`,
			err: `Inventory has malformed or missing CPU architecture information: {"count":2}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd := tt.pd
			if pd == "" {
				pd = `{"root_disk":null,"error":null,"logs":"H4sI","macs":"old"}`
			}
			p, err := RunHooks([]byte(tt.inv), []byte(pd), tt.policy)
			if tt.err != "" {
				if !errors.Is(err, ErrHook) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if names(p.All) != tt.all || names(p.Valid) != tt.valid {
				t.Errorf("all %s valid %s, want %s and %s", names(p.All), names(p.Valid), tt.all, tt.valid)
			}
			got := string(p.PluginData)
			// Ironic's dict order: the posted keys (an existing one keeps its
			// place), then all_interfaces and valid_interfaces; no logs.
			if !strings.HasPrefix(got, `{"root_disk":null,"error":null,"macs":[`) || strings.Contains(got, "logs") ||
				!strings.Contains(got, `],"all_interfaces":{"eth0":{"name":"eth0","mac_address":"52:54:00:AA:BB:01","ipv4_address":"192.0.2.10","pxe_enabled":`) ||
				!strings.Contains(got, `"ipv6_address":"fe80::1"`) {
				t.Errorf("plugin_data %s", got)
			}
			if p.CPUArch != "aarch64" {
				t.Errorf("cpu_arch %q", p.CPUArch)
			}
		})
	}
}

// TestRunHooksFalsyError: an "error" Python finds false (an empty list or
// object, a zero, however written) is no ramdisk error; anything else is.
func TestRunHooksFalsyError(t *testing.T) {
	t.Parallel()
	inv := []byte(`{"interfaces":[{"name":"eth0","mac_address":"52:54:00:aa:bb:01"}],"cpu":{"architecture":"x86_64"}}`)
	for _, e := range []string{`null`, `[ ]`, `{ }`, `0.00`, `0e0`, `""`, `false`} {
		if _, err := RunHooks(inv, []byte(`{"error":`+e+`}`), ""); err != nil {
			t.Errorf("error %s: %v, want none", e, err)
		}
	}
	for _, e := range []string{`"disk on fire"`, `[1]`, `1`, `true`} {
		if _, err := RunHooks(inv, []byte(`{"error":`+e+`}`), ""); !errors.Is(err, ErrHook) {
			t.Errorf("error %s: %v, want a ramdisk error", e, err)
		}
	}
}
