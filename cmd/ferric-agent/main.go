// Command ferric-agent is ferric's ramdisk agent. It runs on the machine
// being provisioned (started by the ramdisk's /init, see agent.InitScript),
// finds its node through ferric's API and runs the commands it is given.
//
// Configuration, in increasing precedence: FERRIC_* environment variables,
// the kernel command line (ferric.api_url=..., ferric.heartbeat_interval=...,
// ferric.debug=1, ferric.ca=<base64 DER CA certificates>; ipa-api-url= is
// accepted as an alias), then flags. With a CA, the API must be https.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferric-project/ferric/agent"
	"github.com/ferric-project/ferric/agent/wire"
)

// version is set at build time: -ldflags '-X main.version=...'.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.ReadFile, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ferric-agent:", err)
		os.Exit(1)
	}
}

type config struct {
	agent.Config
	debug       bool
	showVersion bool
}

func run(ctx context.Context, args []string, getenv func(string) string, readFile func(string) ([]byte, error), stderr io.Writer) error {
	cfg, err := parse(args, getenv, readFile, stderr)
	if err != nil {
		return err
	}
	if cfg.showVersion {
		fmt.Fprintln(stderr, "ferric-agent", version)
		return nil
	}
	level := slog.LevelInfo
	if cfg.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Log = log
	cfg.Power = agent.SystemPower{}
	a, err := agent.New(cfg.Config)
	if err != nil {
		return err
	}
	log.Info("ferric-agent starting", "version", version, "api_url", cfg.APIURL)
	err = a.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func parse(args []string, getenv func(string) string, readFile func(string) ([]byte, error), stderr io.Writer) (config, error) {
	cfg := config{Config: agent.Config{Version: version}}
	fs := flag.NewFlagSet("ferric-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cmdlinePath := "/proc/cmdline"
	for i, a := range args { // -cmdline must be known before defaults are computed
		if v, ok := strings.CutPrefix(a, "-cmdline="); ok {
			cmdlinePath = v
		} else if (a == "-cmdline" || a == "--cmdline") && i+1 < len(args) {
			cmdlinePath = args[i+1]
		}
	}
	kernel := map[string]string{}
	if b, err := readFile(cmdlinePath); err == nil {
		kernel = parseCmdline(string(b))
	}
	pick := func(env string, keys ...string) string {
		for _, k := range keys {
			if v, ok := kernel[k]; ok {
				return v
			}
		}
		return getenv(env)
	}
	apiURL := pick("FERRIC_API_URL", "ferric.api_url", "ipa-api-url")
	hb, err := parseInterval(pick("FERRIC_AGENT_HEARTBEAT_INTERVAL", "ferric.heartbeat_interval"))
	if err != nil {
		return cfg, fmt.Errorf("heartbeat interval: %w", err)
	}
	debug := pick("FERRIC_AGENT_DEBUG", "ferric.debug")
	caValue := pick("FERRIC_AGENT_CA", wire.CACmdlineKey)
	var caFile string
	fs.String("cmdline", cmdlinePath, "kernel command line to read ferric.* keys from")
	fs.StringVar(&cfg.APIURL, "api-url", apiURL, "ferric API base URL (kernel: ferric.api_url, env: FERRIC_API_URL)")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", hb, "idle heartbeat period when the API gives none (kernel: ferric.heartbeat_interval)")
	fs.DurationVar(&cfg.ProgressInterval, "progress-interval", agent.DefaultProgressInterval, "heartbeat period while a command runs")
	fs.BoolVar(&cfg.ExitOnUnauthorized, "exit-on-unauthorized", false, "exit non-zero when the token is rejected instead of looking the node up again")
	fs.StringVar(&cfg.SysfsRoot, "sysfs", "/sys", "sysfs mount point (MAC and disk discovery, inspection)")
	fs.StringVar(&cfg.ProcRoot, "proc", "/proc", "procfs mount point (inspection)")
	fs.StringVar(&cfg.RunRoot, "run", "/run", "directory holding udev's database udev/data (inspection; optional)")
	fs.IntVar(&cfg.Images.BufferSize, "image-buffer-size", agent.DefaultBufferSize, "bytes per image buffer")
	fs.IntVar(&cfg.Images.Buffers, "image-buffers", agent.DefaultBuffers, "image buffers in flight")
	fs.DurationVar(&cfg.Images.StallTimeout, "image-stall-timeout", agent.DefaultStallTimeout, "fail a download that sends nothing for this long")
	fs.BoolVar(&cfg.debug, "debug", debug == "1" || debug == "true", "debug logging (kernel: ferric.debug=1)")
	fs.BoolVar(&cfg.showVersion, "version", false, "print the version and exit")
	fs.StringVar(&caFile, "ca-file", "", "PEM file of the CA the API's certificate must chain to (instead of the kernel's "+
		wire.CACmdlineKey+"= or FERRIC_AGENT_CA, base64); with a CA, plain HTTP is refused")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.APIURL == "" && !cfg.showVersion {
		return cfg, fmt.Errorf("no API URL: set ferric.api_url= on the kernel command line or -api-url")
	}
	switch {
	case caFile != "":
		b, err := readFile(caFile)
		if err != nil {
			return cfg, fmt.Errorf("-ca-file: %w", err)
		}
		if cfg.RootCAs, err = wire.ParseCA(b); err != nil {
			return cfg, fmt.Errorf("-ca-file %s: %w", caFile, err)
		}
	case caValue != "":
		var err error
		if cfg.RootCAs, err = wire.DecodeCA(caValue); err != nil {
			return cfg, fmt.Errorf("%s=: %w", wire.CACmdlineKey, err)
		}
	}
	return cfg, nil
}

// parseCmdline splits a kernel command line into key=value pairs (a bare
// key maps to ""). Double quotes group a value with spaces, as the kernel
// does.
func parseCmdline(s string) map[string]string {
	out := map[string]string{}
	var b strings.Builder
	quoted := false
	flush := func() {
		if b.Len() == 0 {
			return
		}
		k, v, _ := strings.Cut(b.String(), "=")
		out[k] = v
		b.Reset()
	}
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			flush()
		default:
			b.WriteRune(r)
		}
	}
	flush()
	return out
}

// parseInterval reads "10s" or "10" (seconds); "" is 0 (the default).
func parseInterval(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}
