// Package agent is ferric's ramdisk agent (ferric-agent): it runs on the
// machine being provisioned, finds its node through ferric's API by MAC
// address, then heartbeats with a per-operation token, pulls commands from
// the heartbeat answers and runs them one at a time (write an image onto a
// disk, wipe disk metadata, report disks, inspect the hardware, power off,
// reboot).
//
// It talks HTTP to ferric's API only (agent/wire is the protocol). It never
// holds Temporal or database credentials: the machine is untrusted.
//
// Flags and the kernel command line are read by cmd/ferric-agent only; this
// package takes a Config.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ferric-project/ferric/agent/inspect"
	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/inventory"
)

// Defaults of Config.
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultProgressInterval  = time.Second
	DefaultLookupRetryMin    = time.Second
	DefaultLookupRetryMax    = 30 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
	DefaultPowerActionGrace  = 30 * time.Second
)

// Config configures an Agent. Zero durations take the defaults above.
type Config struct {
	// APIURL is ferric's API base URL, e.g. "http://10.0.2.2:6385".
	APIURL string
	// Version is reported as the heartbeat's agent_version.
	Version string

	// HeartbeatInterval is the idle heartbeat period, used when the lookup
	// answer has no heartbeat_interval.
	HeartbeatInterval time.Duration
	// ProgressInterval is the heartbeat period while a command runs.
	ProgressInterval time.Duration
	// LookupRetryMin and LookupRetryMax bound the lookup backoff (failures
	// and 404 "not expected now" alike).
	LookupRetryMin, LookupRetryMax time.Duration
	// RequestTimeout bounds one API request.
	RequestTimeout time.Duration
	// ExitOnUnauthorized makes Run return ErrUnauthorized when the token is
	// rejected. Otherwise the agent drops the token and looks its node up
	// again until the API issues a new one.
	ExitOnUnauthorized bool
	// PowerActionGrace is how long power_off/reboot wait for the API to
	// acknowledge their result before acting anyway.
	PowerActionGrace time.Duration

	// MACs used for lookup; nil: MACAddresses(SysfsRoot).
	MACs []string
	// SysfsRoot ("/sys") and DevRoot ("/dev") are used for discovery;
	// they, ProcRoot ("/proc") and RunRoot ("/run", udev's database) for
	// inspection.
	SysfsRoot, DevRoot, ProcRoot, RunRoot string
	// ListDisks overrides disk discovery (tests); nil: Disks(SysfsRoot, DevRoot).
	ListDisks func() ([]wire.Disk, error)
	// Collect overrides inspection (tests); nil: inspect.Collect over the
	// roots above and the running system's interface addresses.
	Collect func(ctx context.Context) (inventory.Document, error)
	// Power runs power_off and reboot; nil: those commands fail.
	Power Power
	// HTTPClient talks to the API; nil: a client trusting RootCAs (or the
	// system's roots).
	HTTPClient *http.Client
	// RootCAs, when set, is the only CA the API's certificate may chain to
	// (kernel command line ferric.ca=), and the API URL must be https://:
	// the agent then refuses plain HTTP, redirects to it included.
	RootCAs *x509.CertPool
	// Images writes images; its OpenDevice is also used by erase_metadata.
	Images ImageWriter
	// Log; nil: discard.
	Log *slog.Logger
}

// Agent is the ramdisk agent. Create it with New and start it with Run.
type Agent struct {
	cfg Config
	api apiClient
	log *slog.Logger
}

// New checks cfg, fills in defaults and returns an Agent.
func New(cfg Config) (*Agent, error) {
	if cfg.APIURL == "" {
		return nil, errors.New("agent: no API URL")
	}
	if !strings.HasPrefix(cfg.APIURL, "http://") && !strings.HasPrefix(cfg.APIURL, "https://") {
		return nil, fmt.Errorf("agent: API URL %q is not http(s)", cfg.APIURL)
	}
	if cfg.RootCAs != nil && !strings.HasPrefix(cfg.APIURL, "https://") {
		return nil, fmt.Errorf("agent: a CA is set (%s=) but the API URL %q is plain HTTP: refusing it", wire.CACmdlineKey, cfg.APIURL)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&cfg.ProgressInterval, DefaultProgressInterval)
	def(&cfg.LookupRetryMin, DefaultLookupRetryMin)
	def(&cfg.LookupRetryMax, DefaultLookupRetryMax)
	def(&cfg.RequestTimeout, DefaultRequestTimeout)
	def(&cfg.PowerActionGrace, DefaultPowerActionGrace)
	if cfg.LookupRetryMax < cfg.LookupRetryMin {
		cfg.LookupRetryMax = cfg.LookupRetryMin
	}
	if cfg.SysfsRoot == "" {
		cfg.SysfsRoot = "/sys"
	}
	if cfg.DevRoot == "" {
		cfg.DevRoot = "/dev"
	}
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.RunRoot == "" {
		cfg.RunRoot = "/run"
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Images.Log == nil {
		cfg.Images.Log = cfg.Log
	}
	if cfg.Images.Client == nil {
		cfg.Images.Client = NewImageClient()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = apiHTTPClient(cfg.RootCAs)
	}
	return &Agent{
		cfg: cfg,
		api: apiClient{base: strings.TrimRight(cfg.APIURL, "/"), hc: hc},
		log: cfg.Log,
	}, nil
}

// Run looks the node up, then heartbeats and runs commands until ctx ends.
// It returns ctx's error, or ErrUnauthorized with ExitOnUnauthorized.
func (a *Agent) Run(ctx context.Context) error {
	macs := a.cfg.MACs
	if macs == nil {
		var err error
		if macs, err = MACAddresses(a.cfg.SysfsRoot); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
	}
	if len(macs) == 0 {
		return errors.New("agent: no network interface with a MAC address")
	}
	hist := &history{seen: map[string]bool{}, done: map[string]wire.CommandResult{}}
	var token string
	inspected := map[string]bool{}
	for {
		lr, err := a.lookup(ctx, macs, token)
		if err != nil {
			return err
		}
		if lr.Config.AgentToken != "" {
			token = lr.Config.AgentToken
		}
		a.inspectIfWaiting(ctx, lr.Node.UUID, lr.Node.ProvisionState, inspected)
		interval := a.cfg.HeartbeatInterval
		if lr.Config.HeartbeatInterval > 0 {
			interval = time.Duration(lr.Config.HeartbeatInterval) * time.Second
		}
		a.log.InfoContext(ctx, "node found", "node", lr.Node.UUID, "provision_state", lr.Node.ProvisionState,
			"heartbeat_interval", interval)
		err = a.session(ctx, lr.Node.UUID, token, interval, hist, inspected)
		if !errors.Is(err, ErrUnauthorized) || a.cfg.ExitOnUnauthorized {
			return err
		}
		a.log.WarnContext(ctx, "agent token rejected; looking the node up again", "node", lr.Node.UUID)
		token = "" // a dead token is never presented again
	}
}

// lookup retries until the API answers with the node and a token is known
// (from this answer or, when the API does not reveal it again, held).
func (a *Agent) lookup(ctx context.Context, macs []string, held string) (*wire.LookupResponse, error) {
	delay := a.cfg.LookupRetryMin
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
		lr, err := a.api.lookup(rctx, macs)
		cancel()
		switch {
		case err == nil && (lr.Config.AgentToken != "" || held != ""):
			return lr, nil
		case err == nil:
			a.log.WarnContext(ctx, "lookup answered without an agent token and none is held; retrying", "node", lr.Node.UUID)
		case errors.Is(err, ErrNotFound):
			a.log.InfoContext(ctx, "node not expected now; retrying", "addresses", macs, "attempt", attempt, "retry_in", delay)
		default:
			a.log.WarnContext(ctx, "lookup failed; retrying", "err", err, "attempt", attempt, "retry_in", delay)
		}
		if err := sleep(ctx, jitter(delay)); err != nil {
			return nil, err
		}
		delay = min(delay*2, a.cfg.LookupRetryMax)
	}
}

// running is the command being executed.
type running struct {
	cmd    wire.Command
	cancel context.CancelFunc
	prog   *Progress
	done   chan outcome
}

func (r *running) snapshot() wire.CommandResult {
	w, t := r.prog.Get()
	return wire.CommandResult{ID: r.cmd.ID, Name: r.cmd.Name, Status: wire.StatusRunning, BytesWritten: w, BytesTotal: t}
}

// history is what the agent remembers across sessions: every command ID
// received (none runs twice) and the final result of each finished one (sent
// again when the API asks for the command again, e.g. after a new lookup).
type history struct {
	seen map[string]bool
	done map[string]wire.CommandResult
}

// outcome is a finished command.
type outcome struct {
	result      wire.CommandResult
	disksPassed bool                            // send disks with the next heartbeat
	after       func(ctx context.Context) error // power action, once the result is acknowledged
}

// inspectIfWaiting posts the inventory (POST /v1/continue_inspection, as
// ironic-python-agent sends it) when the node is in inspect wait and no
// post for it was answered yet; inspected records the nodes whose post was
// accepted or refused (4xx: the same post would be refused again, e.g. as
// a duplicate). A post that failed otherwise (5xx after its retries, no
// answer) is tried again on the next call: a lookup or a heartbeat answer
// that finds the node in inspect wait.
func (a *Agent) inspectIfWaiting(ctx context.Context, nodeUUID, state string, inspected map[string]bool) {
	if state != wire.StateInspectWait || inspected[nodeUUID] {
		return
	}
	err := a.continueInspection(ctx, nodeUUID)
	var se *StatusError
	switch {
	case err == nil:
		a.log.InfoContext(ctx, "inspection data accepted", "node", nodeUUID)
	case errors.Is(err, ErrNotFound) || errors.As(err, &se) && se.Code < 500:
		a.log.WarnContext(ctx, "inspection data refused; not posting it again", "node", nodeUUID, "err", err)
	default:
		a.log.WarnContext(ctx, "inspection data not accepted; trying again while the node waits for it",
			"node", nodeUUID, "err", err)
		return
	}
	inspected[nodeUUID] = true
}

// session heartbeats for one node and token until the token is rejected or
// ctx ends. Commands run one at a time, in the order received; a final
// result is resent on every heartbeat until one is acknowledged (2xx). A
// heartbeat answer saying the node is in inspect wait has the inventory
// posted (inspectIfWaiting): the lookup may have found the node still
// inspecting, or the post made then may have failed.
func (a *Agent) session(ctx context.Context, node, token string, interval time.Duration, hist *history,
	inspected map[string]bool,
) error {
	log := a.log.With("node", node)
	var (
		queue       []wire.Command
		cur         *running
		pending     []wire.CommandResult // final results not yet acknowledged
		sendDisks   = true
		failures    int
		after       func(context.Context) error
		afterResult wire.CommandResult
		afterBy     time.Time
	)
	defer func() {
		if cur != nil { // token rejected or ctx ended: stop the command, keep its outcome
			cur.cancel()
			out := <-cur.done
			hist.done[out.result.ID] = out.result
		}
	}()
	for {
		if cur == nil && after == nil && len(queue) > 0 {
			cur = a.start(ctx, queue[0], log)
			queue = queue[1:]
		}
		hb := wire.Heartbeat{AgentToken: token, AgentVersion: a.cfg.Version}
		hb.Results = append(hb.Results, pending...)
		if cur != nil {
			hb.Results = append(hb.Results, cur.snapshot())
		}
		if sendDisks {
			disks, err := a.disks()
			if err != nil {
				log.WarnContext(ctx, "disk discovery failed", "err", err)
			}
			hb.Disks = disks
		}
		sent := len(pending)
		rctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
		resp, err := a.api.heartbeat(rctx, node, &hb)
		cancel()
		wait := interval
		if cur != nil {
			wait = min(wait, a.cfg.ProgressInterval)
		}
		switch {
		case errors.Is(err, ErrUnauthorized):
			if cur != nil {
				log.WarnContext(ctx, "token rejected: aborting the running command", "command", cur.cmd.ID)
			}
			return err
		case err != nil:
			failures++
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait = min(wait, jitter(a.cfg.LookupRetryMin<<min(failures-1, 5)))
			log.WarnContext(ctx, "heartbeat failed; retrying", "err", err, "failures", failures, "retry_in", wait)
		default:
			failures = 0
			pending = pending[sent:]
			sendDisks = false
			for _, c := range resp.Commands {
				if c.ID == "" {
					continue
				}
				if hist.seen[c.ID] {
					if r, ok := hist.done[c.ID]; ok && !slices.ContainsFunc(pending, func(p wire.CommandResult) bool { return p.ID == c.ID }) {
						pending = append(pending, r) // asked again: report again, never rerun
					}
					continue
				}
				hist.seen[c.ID] = true
				queue = append(queue, c)
				log.InfoContext(ctx, "command received", "command", c.ID, "name", c.Name)
			}
			a.inspectIfWaiting(ctx, node, resp.ProvisionState, inspected)
		}
		if after != nil && (len(pending) == 0 || time.Now().After(afterBy)) {
			log.InfoContext(ctx, "running power action", "command", afterResult.ID, "name", afterResult.Name)
			if err := after(ctx); err != nil {
				log.ErrorContext(ctx, "power action failed", "command", afterResult.ID, "err", err)
				afterResult.Status, afterResult.Error = wire.StatusFailed, err.Error()
				pending = append(pending, afterResult) // the latest report per ID wins
				hist.done[afterResult.ID] = afterResult
			}
			after = nil
			continue
		}
		if cur == nil && after == nil && len(queue) > 0 {
			continue // start the next command and report it at once
		}
		var done <-chan outcome
		if cur != nil {
			done = cur.done
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		case out := <-done:
			t.Stop()
			cur = nil
			pending = append(pending, out.result)
			hist.done[out.result.ID] = out.result
			sendDisks = sendDisks || out.disksPassed
			if out.after != nil {
				after, afterResult, afterBy = out.after, out.result, time.Now().Add(a.cfg.PowerActionGrace)
			}
		}
	}
}

// start runs cmd in its own goroutine; the session owns it (cancel + done).
func (a *Agent) start(ctx context.Context, cmd wire.Command, log *slog.Logger) *running {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{cmd: cmd, cancel: cancel, prog: &Progress{}, done: make(chan outcome, 1)}
	log = log.With("command", cmd.ID, "name", cmd.Name)
	log.InfoContext(ctx, "command started")
	go func() {
		start := time.Now()
		out := a.execute(ctx, cmd, r.prog)
		if out.result.Status == wire.StatusFailed {
			log.ErrorContext(ctx, "command failed", "err", out.result.Error, "seconds", time.Since(start).Seconds())
		} else {
			log.InfoContext(ctx, "command succeeded", "seconds", time.Since(start).Seconds())
		}
		r.done <- out
	}()
	return r
}

// execute runs one command to its outcome.
func (a *Agent) execute(ctx context.Context, cmd wire.Command, prog *Progress) outcome {
	var (
		out    outcome
		result any
		err    error
	)
	decode := func(v any) error {
		if len(cmd.Params) == 0 || string(cmd.Params) == "null" {
			return nil
		}
		if err := json.Unmarshal(cmd.Params, v); err != nil {
			return fmt.Errorf("decode %s params: %w", cmd.Name, err)
		}
		return nil
	}
	switch cmd.Name {
	case wire.CmdWriteImage:
		var p wire.WriteImage
		if err = decode(&p); err != nil {
			break
		}
		if p.Device == "" {
			if p.Device, err = a.firstDisk(); err != nil {
				break
			}
		}
		result, err = a.cfg.Images.Write(ctx, p, prog)
	case wire.CmdEraseMetadata:
		var p wire.EraseMetadata
		if err = decode(&p); err == nil {
			result, err = a.eraseEach(p.Device, func(d string) error { return EraseMetadata(a.cfg.Images.OpenDevice, d) })
		}
	case wire.CmdEraseDevices:
		var p wire.EraseDevices
		if err = decode(&p); err == nil {
			result, err = a.eraseEach(p.Device, func(d string) error {
				return EraseDevice(ctx, a.cfg.Images.OpenDevice, d, prog)
			})
		}
	case wire.CmdWriteConfigDrive:
		var p wire.WriteConfigDrive
		if err = decode(&p); err != nil {
			break
		}
		if p.Device == "" {
			if p.Device, err = a.firstDisk(); err != nil {
				break
			}
		}
		result, err = WriteConfigDrive(ctx, a.cfg.Images.OpenDevice, a.cfg.Images.Client, p)
	case wire.CmdDeleteRAID:
		var devices []string
		if devices, err = a.devicesOr(""); err != nil {
			break
		}
		erased := 0
		for _, d := range devices {
			var n int
			if n, err = DeleteRAID(a.cfg.Images.OpenDevice, d); err != nil {
				break
			}
			erased += n
		}
		result = map[string]any{"devices": devices, "superblocks_erased": erased}
	case wire.CmdCreateRAID:
		var p wire.CreateRAID
		if err = decode(&p); err != nil {
			break
		}
		err = CreateRAID(p)
	case wire.CmdReportDisks:
		var disks []wire.Disk
		disks, err = a.disks()
		result, out.disksPassed = disks, true
	case wire.CmdInspect:
		result, err = a.inspect(ctx)
	case wire.CmdPowerOff, wire.CmdReboot:
		if a.cfg.Power == nil {
			err = fmt.Errorf("%s: no power control configured", cmd.Name)
			break
		}
		out.after = a.cfg.Power.PowerOff
		if cmd.Name == wire.CmdReboot {
			out.after = a.cfg.Power.Reboot
		}
	default:
		err = fmt.Errorf("%w: %q", ErrUnknownCommand, cmd.Name)
	}
	r := wire.CommandResult{ID: cmd.ID, Name: cmd.Name, Status: wire.StatusSucceeded}
	r.BytesWritten, r.BytesTotal = prog.Get()
	if err != nil {
		r.Status, r.Error = wire.StatusFailed, err.Error()
		return outcome{result: r}
	}
	if result != nil {
		if b, merr := json.Marshal(result); merr == nil {
			r.Result = b
		}
	}
	out.result = r
	return out
}

// continueInspection collects the inventory and posts it to POST
// /v1/continue_inspection, retrying a few times on failures other than a
// refusal (4xx).
func (a *Agent) continueInspection(ctx context.Context, nodeUUID string) error {
	doc, err := a.inspect(ctx)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	body, err := inspectionPayload(doc)
	if err != nil {
		return err
	}
	delay := a.cfg.LookupRetryMin
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
		err = a.api.continueInspection(rctx, nodeUUID, body)
		cancel()
		var se *StatusError
		if err == nil || attempt >= 5 || errors.Is(err, ErrNotFound) || (errors.As(err, &se) && se.Code < 500) {
			return err
		}
		a.log.WarnContext(ctx, "posting inspection data failed; retrying", "err", err, "attempt", attempt)
		if err := sleep(ctx, jitter(delay)); err != nil {
			return err
		}
		delay = min(delay*2, a.cfg.LookupRetryMax)
	}
}

// inspect collects the hardware inventory document.
func (a *Agent) inspect(ctx context.Context) (inventory.Document, error) {
	if a.cfg.Collect != nil {
		return a.cfg.Collect(ctx)
	}
	return inspect.Collect(ctx, inspect.Config{
		SysfsRoot: a.cfg.SysfsRoot,
		ProcRoot:  a.cfg.ProcRoot,
		DevRoot:   a.cfg.DevRoot,
		RunRoot:   a.cfg.RunRoot,
		Version:   a.cfg.Version,
	})
}

func (a *Agent) disks() ([]wire.Disk, error) {
	if a.cfg.ListDisks != nil {
		return a.cfg.ListDisks()
	}
	return Disks(a.cfg.SysfsRoot, a.cfg.DevRoot)
}

// eraseEach runs erase on [device], or on every disk when device is "",
// up to the first failure; the result names the devices.
func (a *Agent) eraseEach(device string, erase func(device string) error) (any, error) {
	devices, err := a.devicesOr(device)
	if err != nil {
		return nil, err
	}
	result := map[string][]string{"devices": devices}
	for _, d := range devices {
		if err := erase(d); err != nil {
			return result, err
		}
	}
	return result, nil
}

// devicesOr returns [device], or every disk when device is "".
func (a *Agent) devicesOr(device string) ([]string, error) {
	if device != "" {
		return []string{device}, nil
	}
	disks, err := a.disks()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(disks))
	for _, d := range disks {
		out = append(out, d.Name)
	}
	return out, nil
}

func (a *Agent) firstDisk() (string, error) {
	disks, err := a.disks()
	if err != nil {
		return "", err
	}
	if len(disks) == 0 {
		return "", ErrNoDevice
	}
	return disks[0].Name, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitter spreads d over [0.75d, 1.25d) so a rack of agents does not retry in step.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + rand.N(d/2+1)
}

// apiHTTPClient is the client of the API: with roots, it trusts only them
// and follows no redirect away from https.
func apiHTTPClient(roots *x509.CertPool) *http.Client {
	if roots == nil {
		return &http.Client{}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return fmt.Errorf("agent: refusing a redirect to plain HTTP (%s)", req.URL.Redacted())
		}
		if len(via) >= 10 {
			return errors.New("agent: too many redirects")
		}
		return nil
	}}
}
