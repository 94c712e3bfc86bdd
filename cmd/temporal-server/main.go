// Command temporal-server runs a Temporal server (go.temporal.io/server, the
// version go.mod pins) from a configuration file, as the upstream
// "temporal-server start --config-file FILE" does.
//
// It exists because the upstream main (go.temporal.io/server/cmd/server)
// needs github.com/urfave/cli/v2, which ferric does not otherwise depend on;
// this main makes the same calls without it: config.Load, the configured
// authorizer and claim mapper, temporal.NewServer with all (or the named)
// services, and a stop on SIGINT or SIGTERM. The schema is set up beforehand
// with the upstream temporal-sql-tool (go.temporal.io/server/cmd/tools/sql,
// which builds from ferric's go.sum).
//
// ferric's own roles never start it: tests and benches use it to run
// Temporal as a process of its own, the way production does.
//
//	temporal-server -config-file temporal.yaml [-services frontend,history,matching,worker]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/temporal"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "temporal-server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("temporal-server", flag.ContinueOnError)
	configFile := fs.String("config-file", "", "the server's configuration file (YAML, as go.temporal.io/server/config/*.yaml)")
	services := fs.String("services", strings.Join(temporal.DefaultServices, ","), "services to run, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configFile == "" {
		return fmt.Errorf("-config-file is required")
	}
	cfg, err := config.Load(config.WithConfigFile(*configFile))
	if err != nil {
		return fmt.Errorf("load %s: %w", *configFile, err)
	}
	logger := log.NewZapLogger(log.BuildZapLogger(cfg.Log))
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return fmt.Errorf("authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return fmt.Errorf("claim mapper: %w", err)
	}
	s, err := temporal.NewServer(
		temporal.ForServices(strings.Split(*services, ",")),
		temporal.WithConfig(cfg),
		temporal.WithLogger(logger),
		temporal.InterruptOn(temporal.InterruptCh()),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
	)
	if err != nil {
		return fmt.Errorf("create server: %w", err)
	}
	// Start returns once an interrupt has stopped every service.
	if err := s.Start(); err != nil {
		return fmt.Errorf("run server: %w", err)
	}
	return nil
}
