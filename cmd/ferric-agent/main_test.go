package main

import (
	"io"
	"io/fs"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/agent"
	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/tlsfile/tlsfiletest"
)

func TestParseCmdline(t *testing.T) {
	t.Parallel()
	got := parseCmdline("BOOT_IMAGE=/vmlinuz console=ttyS0 quiet ferric.api_url=http://10.0.2.2:6385 " +
		`ferric.note="two words" ferric.heartbeat_interval=5` + "\n")
	want := map[string]string{
		"BOOT_IMAGE": "/vmlinuz", "console": "ttyS0", "quiet": "",
		"ferric.api_url": "http://10.0.2.2:6385", "ferric.note": "two words", "ferric.heartbeat_interval": "5",
	}
	if !maps.Equal(got, want) {
		t.Fatalf("parseCmdline() = %v, want %v", got, want)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	files := func(cmdline string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if name == "/proc/cmdline" || name == "/tmp/cmdline" {
				return []byte(cmdline), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		cmdline  string
		url      string
		interval time.Duration
		err      bool
	}{
		{"kernel command line", nil, nil, "quiet ferric.api_url=http://10.0.2.2:6385 ferric.heartbeat_interval=7", "http://10.0.2.2:6385", 7 * time.Second, false},
		{"IPA's key", nil, nil, "ipa-api-url=http://a:6385", "http://a:6385", 0, false},
		{"env below kernel", nil, map[string]string{"FERRIC_API_URL": "http://env"}, "ferric.api_url=http://kernel", "http://kernel", 0, false},
		{"env alone", nil, map[string]string{"FERRIC_API_URL": "http://env"}, "quiet", "http://env", 0, false},
		{"flag above kernel", []string{"-api-url", "http://flag", "-heartbeat-interval", "2s"}, nil, "ferric.api_url=http://kernel", "http://flag", 2 * time.Second, false},
		{"other cmdline file", []string{"-cmdline", "/tmp/cmdline"}, nil, "ferric.api_url=http://x", "http://x", 0, false},
		{"no URL", nil, nil, "quiet", "", 0, true},
		{"bad interval", nil, nil, "ferric.api_url=http://x ferric.heartbeat_interval=soon", "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parse(tc.args, env(tc.env), files(tc.cmdline), io.Discard)
			if (err != nil) != tc.err {
				t.Fatalf("parse() error = %v, want error %v", err, tc.err)
			}
			if err == nil && (cfg.APIURL != tc.url || cfg.HeartbeatInterval != tc.interval) {
				t.Errorf("parse() = %q, %v; want %q, %v", cfg.APIURL, cfg.HeartbeatInterval, tc.url, tc.interval)
			}
		})
	}
}

func TestParseCA(t *testing.T) {
	t.Parallel()
	ca := tlsfiletest.NewCA(t, "ferric CA")
	enc, err := wire.EncodeCA(ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	files := func(cmdline string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			switch name {
			case "/proc/cmdline":
				return []byte(cmdline), nil
			case "/etc/ca.pem":
				return ca.PEM, nil
			}
			return nil, fs.ErrNotExist
		}
	}
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name, cmdline string
		args          []string
		ca, err       bool
	}{
		{"kernel", "ferric.api_url=https://api:6385 ferric.ca=" + enc, nil, true, false},
		{"file", "ferric.api_url=https://api:6385", []string{"-ca-file", "/etc/ca.pem"}, true, false},
		{"none", "ferric.api_url=http://api:6385", nil, false, false},
		{"garbage", "ferric.api_url=https://api:6385 ferric.ca=!!!", nil, false, true},
		{"missing file", "ferric.api_url=https://api:6385", []string{"-ca-file", "/nope"}, false, true},
	} {
		cfg, err := parse(tc.args, noEnv, files(tc.cmdline), io.Discard)
		if (err != nil) != tc.err || (err == nil && (cfg.RootCAs != nil) != tc.ca) {
			t.Errorf("%s: CA set %v, error %v", tc.name, cfg.RootCAs != nil, err)
		}
	}
	// The agent refuses plain HTTP once a CA is given.
	cfg, err := parse(nil, noEnv, files("ferric.api_url=http://api:6385 ferric.ca="+enc), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.New(cfg.Config); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("agent with a CA and an http:// API: %v", err)
	}
}
