package main

import (
	"log/slog"

	"github.com/gofiber/fiber/v2"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/api"
	"github.com/ferric-project/ferric/api/health"
	"github.com/ferric-project/ferric/cmd/ferric/metrics"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/store"
)

// newAPI wires the REST API over the store, the Temporal client and the
// driver registry (used only for its pure, I/O-free calls), with the
// configured authentication.
func newAPI(cfg config, log *slog.Logger, st *store.Store, tc client.Client, reg *drivers.Registry, checker *health.Checker, eager bool, m *metrics.Metrics, tr *tracing) (*fiber.App, error) {
	authn, err := newAuthenticator(cfg.auth, log)
	if err != nil {
		return nil, err
	}
	s := &api.Server{
		Auth:       authn,
		Policy:     cfg.auth.policy(),
		Store:      st,
		Workflows:  tc,
		Drivers:    reg,
		Log:        log.With("component", "api"),
		TaskQueue:  cfg.taskQueue,
		EagerStart: eager,
		Conductor:  cfg.conductor,
		PublicURL:  cfg.publicURL,
		Agents:     st,
		Inspection: st,
		Health:     checker,

		Metrics:        m,
		MetricsHandler: m.Handler(),

		AgentHeartbeatInterval: cfg.agentHeartbeat,
	}
	if tr.temporal != nil {
		s.Tracer = tr.provider
	}
	return s.App(), nil
}
