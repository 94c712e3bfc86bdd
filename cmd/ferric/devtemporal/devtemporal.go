// Package devtemporal runs a single-process Temporal server backed by a SQLite
// file, plus the Temporal Web UI, the way the Temporal CLI's "server
// start-dev" does. It exists for "ferric dev" (make run): production runs
// against a real Temporal cluster.
package devtemporal

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// Config says where the server keeps its data and where it listens.
type Config struct {
	// DBFile is the SQLite file; created with the schema when missing.
	DBFile string
	// Address is the frontend gRPC host:port, e.g. 127.0.0.1:7233.
	Address string
	// UIAddress is the Web UI host:port, e.g. 127.0.0.1:8233; "" disables the UI.
	UIAddress string
	// Namespace is created on start if missing.
	Namespace string
	// LogLevel of the server's own logger (debug, info, warn, error).
	LogLevel string
	// Log receives ferric's own messages.
	Log *slog.Logger
}

// Server is a running dev server.
type Server struct {
	srv temporal.Server
	ui  *server.Server
	cfg Config
}

// Start creates the schema if needed, registers the namespace and starts the
// server and, when configured, the UI. It returns once the frontend accepts
// connections.
func Start(cfg Config) (*Server, error) {
	host, portStr, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("temporal address %q: %w", cfg.Address, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("temporal address %q: %w", cfg.Address, err)
	}
	if err := portFree(cfg.Address); err != nil {
		return nil, err
	}
	if cfg.UIAddress != "" {
		if err := portFree(cfg.UIAddress); err != nil {
			return nil, err
		}
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	if err := os.MkdirAll(filepath.Dir(cfg.DBFile), 0o755); err != nil {
		return nil, fmt.Errorf("temporal data dir: %w", err)
	}

	// Two files: workflow state, and visibility (the list the UI shows).
	// Temporal's SQLite plugin shares one connection per file among all its
	// services, so one file serializes everything; visibility writes (a
	// quarter of the server's CPU at fleet scale) then wait behind workflow
	// state and the other way round. WAL with synchronous=normal: a process
	// crash loses nothing committed. A larger page cache and mmap save the
	// pure-Go SQLite most of its read syscalls.
	sqlFile := func(name string) *config.SQL {
		return &config.SQL{
			PluginName:   sqliteplugin.PluginName,
			DatabaseName: name,
			ConnectAttributes: map[string]string{
				"mode":         "rwc",
				"journal_mode": "wal",
				"synchronous":  "normal",
				"cache_size":   "-65536",
				"mmap_size":    "268435456",
				"temp_store":   "memory",
			},
		}
	}
	sqlCfg := sqlFile(cfg.DBFile)
	visCfg := sqlFile(strings.TrimSuffix(cfg.DBFile, ".db") + "-visibility.db")
	for _, c := range []*config.SQL{sqlCfg, visCfg} {
		if _, err := os.Stat(c.DatabaseName); errors.Is(err, os.ErrNotExist) {
			if err := sqlite.SetupSchema(c); err != nil {
				return nil, fmt.Errorf("temporal sqlite schema %s: %w", c.DatabaseName, err)
			}
		}
	}
	ns, err := sqlite.NewNamespaceConfig("active", cfg.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("temporal namespace config: %w", err)
	}
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("temporal namespace %s: %w", cfg.Namespace, err)
	}

	free := func() int {
		p, ferr := freePort(host)
		if ferr != nil && err == nil {
			err = ferr
		}
		return p
	}
	// Static membership, as the Temporal CLI's dev server: each service is
	// the one host at its gRPC address. Ringpop would instead seed itself
	// from the cluster_membership rows of earlier runs, whose ports are dead,
	// and keep tasks waiting for about a minute after every restart; static
	// membership never reads those rows, so old data folders work as they are.
	services := make(map[string]config.Service, len(temporal.DefaultServices))
	hosts := make(map[primitives.ServiceName]static.Hosts, len(temporal.DefaultServices))
	for _, name := range temporal.DefaultServices {
		grpcPort := port
		if name != string(primitives.FrontendService) {
			grpcPort = free()
		}
		services[name] = config.Service{RPC: config.RPC{GRPCPort: grpcPort, BindOnIP: host}}
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(dialHost(host), strconv.Itoa(grpcPort)))
	}
	conf := &config.Config{
		Global: config.Global{
			// Ringpop is not used; the join duration still sets how long
			// the services may take to start (twice this).
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second},
			Metrics: &metrics.Config{Prometheus: &metrics.PrometheusConfig{
				ListenAddress: net.JoinHostPort(host, strconv.Itoa(free())), HandlerPath: "/metrics"}},
		},
		Persistence: config.Persistence{
			DefaultStore:     "sqlite-default",
			VisibilityStore:  "sqlite-visibility",
			NumHistoryShards: 1,
			DataStores: map[string]config.DataStore{
				"sqlite-default":    {SQL: sqlCfg},
				"sqlite-visibility": {SQL: visCfg},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: cfg.Address},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: cfg.Address},
	}
	if err != nil {
		return nil, err
	}

	logger := tlog.NewZapLogger(tlog.BuildZapLogger(tlog.Config{Level: cfg.LogLevel, Format: "json"}))
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal claim mapper: %w", err)
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(DynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s := &Server{srv: srv, cfg: cfg}
	if cfg.UIAddress != "" {
		uiHost, uiPortStr, _ := net.SplitHostPort(cfg.UIAddress)
		uiPort, _ := strconv.Atoi(uiPortStr)
		s.ui = server.NewServer(server_options.WithConfigProvider(&uiconfig.Config{
			Host:                uiHost,
			Port:                uiPort,
			TemporalGRPCAddress: cfg.Address,
			EnableUI:            true,
			DefaultNamespace:    cfg.Namespace,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
			DisableNewsFetch:    true,
		}))
		go func() {
			if err := s.ui.Start(); err != nil {
				cfg.Log.Error("temporal ui stopped", "err", err)
			}
		}()
	}
	return s, nil
}

// DynamicConfig is the server tuning measured on this class of machine
// (shared/peers/temporal/README.md): one task queue partition, fast transfer
// and timer queue polling so regular activities and timers are not delayed.
func DynamicConfig() dynamicconfig.StaticClient {
	one := []dynamicconfig.ConstrainedValue{{Value: 1}}
	fast := []dynamicconfig.ConstrainedValue{{Value: 1000}}
	return dynamicconfig.StaticClient{
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():      one,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key():     one,
		dynamicconfig.TransferProcessorMaxPollRPS.Key():             fast,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():                fast,
		dynamicconfig.EnableEagerWorkflowStart.Key():                []dynamicconfig.ConstrainedValue{{Value: true}},
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
	}
}

// Stop stops the UI and the server.
func (s *Server) Stop() error {
	if s.ui != nil {
		s.ui.Stop()
	}
	return s.srv.Stop()
}

func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("address %s is in use (another ferric dev or Temporal running?): %w", addr, err)
	}
	return l.Close()
}

// dialHost is the address the services reach each other on when they listen
// on host: loopback when host is a wildcard address.
func dialHost(host string) string {
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return host
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
