package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/inspection/rules"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestBootServerServesRamdiskToAgentSessions(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	cfg := config{role: "boot", bootHTTPAddr: "127.0.0.1:0", ramdiskDir: filepath.Join(t.TempDir(), "missing"),
		agentAPIURL: "http://10.0.2.2:6385"}
	if srv, err := newBootServer(cfg, log, st); srv != nil || err != nil {
		t.Fatalf("newBootServer without a ramdisk = %v, %v; want nil, nil (skipped)", srv, err)
	}
	cfg.ramdiskDir = t.TempDir()
	for _, f := range []string{"vmlinuz", "initramfs"} {
		if err := os.WriteFile(filepath.Join(cfg.ramdiskDir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := newBootServer(cfg, log, st)
	if err != nil || srv == nil {
		t.Fatalf("newBootServer = %v, %v", srv, err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	n, err := st.CreateNode(ctx, store.Node{Driver: "ipmi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePort(ctx, store.Port{Address: "52:54:00:12:34:56", NodeUUID: n.UUID}); err != nil {
		t.Fatal(err)
	}
	script := func() string {
		t.Helper()
		resp, err := http.Get("http://" + srv.HTTPAddr() + "/ipxe/52-54-00-12-34-56")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if s := script(); strings.Contains(s, "vmlinuz") {
		t.Fatalf("node without agent session boots the ramdisk:\n%s", s)
	}
	if err := st.OpenAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	s := script()
	for _, want := range []string{"/images/vmlinuz", "initramfs", "console=ttyS0", "ferric.api_url=http://10.0.2.2:6385"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if err := st.CloseAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	if s := script(); strings.Contains(s, "vmlinuz") {
		t.Fatalf("closed session still boots the ramdisk:\n%s", s)
	}
}

func TestParseBootFlags(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	dev, err := parse("dev", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if dev.tftpAddr != "127.0.0.1:6969" || dev.bootHTTPAddr != "127.0.0.1:8080" || dev.ramdiskDir != "ramdisk/out" ||
		dev.agentAPIURL != "http://10.0.2.2:6385" || !dev.automatedClean || dev.ipxeDir != "/usr/lib/ipxe" {
		t.Errorf("dev defaults = %+v", dev)
	}
	api, err := parse("api", nil, env(map[string]string{"FERRIC_DATABASE_URL": "postgres://x"}), io.Discard)
	if err != nil || api.tftpAddr != "" || api.bootHTTPAddr != "" {
		t.Errorf("api starts a boot server by default: %+v, %v", api, err)
	}
	boot, err := parse("boot", []string{"-tftp-address", "127.0.0.1:7000", "-dhcp-interface", "br0"}, env(map[string]string{
		"FERRIC_DATABASE_URL": "postgres://x", "FERRIC_AGENT_API_URL": "http://192.0.2.1:6385",
		"FERRIC_BOOT_PUBLIC_URL": "http://192.0.2.1:8080", "FERRIC_AUTOMATED_CLEAN": "false"}), io.Discard)
	if err != nil || boot.tftpAddr != "127.0.0.1:7000" || boot.bootHTTPAddr != ":8080" ||
		boot.agentAPIURL != "http://192.0.2.1:6385" || boot.bootPublicURL != "http://192.0.2.1:8080" || boot.automatedClean ||
		boot.dhcp.mode != "proxy" || boot.dhcp.iface != "br0" {
		t.Errorf("boot = %+v, %v", boot, err)
	}
	if dev.dhcp.mode != "off" || api.dhcp.mode != "off" {
		t.Errorf("dhcp mode: dev %q, api %q; want off unless asked", dev.dhcp.mode, api.dhcp.mode)
	}
}

func TestParseDHCPFlags(t *testing.T) {
	t.Parallel()
	db := func(k string) string { return map[string]string{"FERRIC_DATABASE_URL": "postgres://x"}[k] }
	full, err := parse("all", []string{"-dhcp-mode", "full", "-dhcp-address", "10.0.0.1", "-dhcp-subnet", "10.0.0.7/24",
		"-dhcp-range", "10.0.0.100-10.0.0.200", "-dhcp-router", "10.0.0.1", "-dhcp-dns", "10.0.0.2, 10.0.0.3",
		"-dhcp-boot-unknown"}, db, io.Discard)
	if err != nil || full.dhcp.mode != "full" || full.dhcp.address.String() != "10.0.0.1" ||
		full.dhcp.subnet.String() != "10.0.0.0/24" || full.dhcp.rangeStart.String() != "10.0.0.100" ||
		full.dhcp.rangeEnd.String() != "10.0.0.200" || len(full.dhcp.routers) != 1 || len(full.dhcp.dns) != 2 ||
		!full.dhcp.bootUnknown || full.dhcp.uefiFile != "snponly.efi" {
		t.Fatalf("full = %+v, %v", full.dhcp, err)
	}
	for _, args := range [][]string{
		{"-dhcp-mode", "auto", "-dhcp-interface", "br0"},
		{"-dhcp-mode", "proxy"},
		{"-dhcp-mode", "full", "-dhcp-interface", "br0"},
		{"-dhcp-mode", "full", "-dhcp-interface", "br0", "-dhcp-subnet", "10.0.0.0/24", "-dhcp-range", "10.0.0.9"},
		{"-dhcp-mode", "proxy", "-dhcp-address", "fe80::1"},
		{"-dhcp-mode", "full", "-dhcp-interface", "br0", "-dhcp-subnet", "10.0.0.0/24", "-dhcp-range", "10.0.0.2-10.0.0.9",
			"-dhcp-dns", "dns.example"},
	} {
		if _, err := parse("all", args, db, io.Discard); err == nil {
			t.Errorf("parse %q: no error", args)
		}
	}
}

func TestBootConfigsDiscovery(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := t.Context()
	n, err := st.CreateNode(ctx, store.Node{Driver: "ipmi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePort(ctx, store.Port{Address: "52:54:00:12:34:56", NodeUUID: n.UUID}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		unknown bool
		mac     string
		ramdisk bool
	}{
		{false, "52:54:00:ff:ff:ff", false}, // unknown: local disk (no boot offer reaches it anyway)
		{true, "52:54:00:ff:ff:ff", true},   // discovery: the ramdisk
		{true, "52:54:00:12:34:56", false},  // enrolled, not provisioning: its disk
	} {
		_, ok, err := bootConfigs{st: st, cmdline: "x", bootUnknown: tc.unknown}.BootConfig(ctx, tc.mac)
		if err != nil || ok != tc.ramdisk {
			t.Errorf("bootUnknown=%v %s: ramdisk %v (%v), want %v", tc.unknown, tc.mac, ok, err, tc.ramdisk)
		}
	}
}

// TestParseInspectionRulesFlags: the built-in inspection rules and the mask
// are read when the command line is, for the roles that run a worker: a
// mask ferric does not know, a missing file or one that does not parse is
// an error before anything starts; an API process does not read them.
func TestParseInspectionRulesFlags(t *testing.T) {
	t.Parallel()
	db := func(k string) string { return map[string]string{"FERRIC_DATABASE_URL": "postgres://x"}[k] }
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("- actions: [{op: add-trait, args: [CUSTOM_X]}]\n  priority: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("- {actions: [{op: nope, args: {}}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse("worker", []string{"-inspection-built-in-rules", good, "-inspection-rules-mask", "sensitive"}, db, io.Discard)
	if err != nil || len(c.inspRules.BuiltIn) != 1 || c.inspRules.BuiltIn[0].Priority != 5 || c.inspRules.Mask != rules.MaskSensitive {
		t.Fatalf("worker: %+v, %v", c.inspRules, err)
	}
	if c, err := parse("all", nil, db, io.Discard); err != nil || c.inspRules.Mask != rules.MaskAlways || c.inspRules.BuiltIn != nil {
		t.Errorf("defaults: %+v, %v", c.inspRules, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-inspection-rules-mask", "sometimes"}, `inspection rules mask "sometimes"`},
		{[]string{"-inspection-built-in-rules", filepath.Join(dir, "missing.yaml")}, "no such file"},
		{[]string{"-inspection-built-in-rules", bad}, "Unsupported action 'nope'."},
	} {
		if _, err := parse("worker", tt.args, db, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("worker %q: %v, want %q", tt.args, err, tt.want)
		}
	}
	if _, err := parse("api", []string{"-inspection-built-in-rules", bad}, db, io.Discard); err != nil {
		t.Errorf("api with a worker's rules file: %v", err)
	}
}
