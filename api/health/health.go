// Package health answers liveness and readiness probes: /healthz says the
// process is up, /readyz that every dependency it needs answers (the
// database, Temporal, the worker polling its task queue, ...). The API serves
// both on its own listener; roles without an API (worker, boot) serve them on
// a small HTTP listener of their own (Handler), when one is configured.
//
// A readiness answer names each dependency and whether it is ok; the reason a
// check failed is logged, not sent: the endpoints are public, and an error
// text can name internal hosts.
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// DefaultTimeout bounds each check of a readiness probe.
const DefaultTimeout = 2 * time.Second

// Check is one dependency's readiness check. Func returns nil when the
// dependency answers; it must return by its context's deadline.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// Status values of a Report and of its checks.
const (
	StatusOK          = "ok"
	StatusUnavailable = "unavailable"
)

// Report is a probe's answer.
type Report struct {
	// Status is StatusOK or StatusUnavailable.
	Status string `json:"status"`
	// Checks maps each check's name to StatusOK or StatusUnavailable
	// (readiness only).
	Checks map[string]string `json:"checks,omitempty"`
	// Failed names the checks that failed, sorted (readiness only).
	Failed []string `json:"failed,omitempty"`
}

// OK says whether the report is a success.
func (r Report) OK() bool { return r.Status == StatusOK }

// Code is the HTTP status of the report: 200 or 503.
func (r Report) Code() int {
	if r.OK() {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// Live is the liveness report: the process answers, so it is up.
func Live() Report { return Report{Status: StatusOK} }

// Checker runs readiness checks. The zero value has no checks and is always
// ready; set Checks before first use.
type Checker struct {
	Checks []Check
	// Timeout bounds each check (default DefaultTimeout).
	Timeout time.Duration
	// Log gets a line when a check starts failing (with the reason) and
	// when it recovers (nil: no logging).
	Log *slog.Logger

	mu   sync.Mutex
	last map[string]error // each check's previous outcome, to log changes only
}

// Ready runs every check concurrently, each under the timeout, and reports.
func (c *Checker) Ready(ctx context.Context) Report {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	errs := make([]error, len(c.Checks))
	var wg sync.WaitGroup
	for i, ch := range c.Checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			errs[i] = run(cctx, ch.Func)
		})
	}
	wg.Wait()
	r := Report{Status: StatusOK, Checks: make(map[string]string, len(c.Checks))}
	for i, ch := range c.Checks {
		if errs[i] != nil {
			r.Status = StatusUnavailable
			r.Checks[ch.Name] = StatusUnavailable
			r.Failed = append(r.Failed, ch.Name)
		} else {
			r.Checks[ch.Name] = StatusOK
		}
	}
	sort.Strings(r.Failed)
	c.logChanges(errs)
	return r
}

// run calls f, answering its context's error if f overstays the deadline
// (a check that ignores its context must not hold the probe).
func run(ctx context.Context, f func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Checker) logChanges(errs []error) {
	if c.Log == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = make(map[string]error, len(c.Checks))
	}
	for i, ch := range c.Checks {
		prev, seen := c.last[ch.Name]
		c.last[ch.Name] = errs[i]
		switch {
		case errs[i] != nil && (prev == nil || prev.Error() != errs[i].Error()):
			c.Log.Warn("readiness check failed", "check", ch.Name, "err", errs[i])
		case errs[i] == nil && seen && prev != nil:
			c.Log.Info("readiness check ok again", "check", ch.Name)
		}
	}
}

// Paths of the probes.
const (
	LivePath  = "/healthz"
	ReadyPath = "/readyz"
)

// Handler serves LivePath and ReadyPath (GET and HEAD) from c, for roles that
// have no API listener.
func Handler(c *Checker) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LivePath, func(w http.ResponseWriter, _ *http.Request) { write(w, Live()) })
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) { write(w, c.Ready(r.Context())) })
	return mux
}

func write(w http.ResponseWriter, r Report) {
	b, _ := json.Marshal(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(r.Code())
	_, _ = w.Write(b)
}
