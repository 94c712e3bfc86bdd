// Package devtemporal runs a single-process Temporal server, plus the
// Temporal Web UI, the way the Temporal CLI's "server start-dev" does, with
// its state in SQLite files or in two databases of a PostgreSQL server. It
// exists for "ferric dev" (make run) and tests: production runs against a
// real Temporal cluster.
package devtemporal

import (
	"context"
	"database/sql"
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
	"go.temporal.io/server/common/persistence"
	"go.temporal.io/server/common/persistence/serialization"
	persistencesql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/resolver"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// clusterName is the name of the one cluster the server forms.
const clusterName = "active"

// Config says where the server keeps its data and where it listens.
type Config struct {
	// DBFile is the SQLite file of workflow state (visibility goes to a
	// second file beside it, "-visibility" before ".db"); both are created
	// with the schema when missing. Used when Postgres is nil.
	DBFile string
	// Postgres, when set, keeps state and visibility in PostgreSQL instead:
	// the databases and schema are created, or updated, on start.
	Postgres *Postgres
	// HistoryShards is the number of history shards of a new store; 0 means
	// 1 on SQLite (one connection serializes every write anyway) and
	// DefaultPostgresShards on PostgreSQL. Temporal fixes the number when it
	// first starts on a store: an existing store keeps its own, whatever
	// this says (Server.HistoryShards tells).
	HistoryShards int32
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
	srv    temporal.Server
	ui     *server.Server
	cfg    Config
	shards int32
}

// Start creates the schema if needed (on PostgreSQL: the databases too, and
// updates an older schema), registers the namespace and starts the server
// and, when configured, the UI. It returns once the frontend accepts
// connections.
func Start(ctx context.Context, cfg Config) (*Server, error) {
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
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}

	var (
		sqlCfg, visCfg *config.SQL
		shards         = cfg.HistoryShards
	)
	if cfg.Postgres != nil {
		changes, err := PreparePostgres(ctx, *cfg.Postgres)
		if err != nil {
			return nil, err
		}
		for _, ch := range changes {
			if ch.From != ch.To {
				cfg.Log.Info("temporal schema set up", "database", ch.Database, "from", ch.From, "to", ch.To)
			}
		}
		if sqlCfg, visCfg, err = cfg.Postgres.sqlConfigs(); err != nil {
			return nil, err
		}
		if shards == 0 {
			shards = DefaultPostgresShards
		}
	} else {
		if sqlCfg, visCfg, err = sqliteConfigs(cfg.DBFile); err != nil {
			return nil, err
		}
		if shards == 0 {
			shards = 1
		}
	}
	ns, err := sqlite.NewNamespaceConfig(clusterName, cfg.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("temporal namespace config: %w", err)
	}
	// Despite its package, this works with any SQL plugin.
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("temporal namespace %s: %w", cfg.Namespace, err)
	}
	stored, err := storedShards(sqlCfg)
	if err != nil {
		return nil, err
	}
	if stored > 0 {
		if cfg.HistoryShards != 0 && cfg.HistoryShards != stored {
			cfg.Log.Info("temporal store keeps the number of history shards it was created with",
				"history_shards", stored, "asked", cfg.HistoryShards)
		}
		shards = stored
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
			DefaultStore:     "default",
			VisibilityStore:  "visibility",
			NumHistoryShards: shards,
			DataStores: map[string]config.DataStore{
				"default":    {SQL: sqlCfg},
				"visibility": {SQL: visCfg},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: cfg.Address},
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
		temporal.WithDynamicConfigClient(dynamicConfig(cfg.Postgres != nil)),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s := &Server{srv: srv, cfg: cfg, shards: shards}
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

// sqliteConfigs returns the configuration of the two SQLite files, created
// with the schema when missing.
//
// Two files: workflow state, and visibility (the list the UI shows).
// Temporal's SQLite plugin shares one connection per file among all its
// services, so one file serializes everything; visibility writes (a quarter
// of the server's CPU at fleet scale) then wait behind workflow state and
// the other way round. WAL with synchronous=normal: a process crash loses
// nothing committed. A larger page cache and mmap save the pure-Go SQLite
// most of its read syscalls.
func sqliteConfigs(dbFile string) (state, visibility *config.SQL, err error) {
	if err := os.MkdirAll(filepath.Dir(dbFile), 0o755); err != nil {
		return nil, nil, fmt.Errorf("temporal data dir: %w", err)
	}
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
	state, visibility = sqlFile(dbFile), sqlFile(SQLiteVisibilityFile(dbFile))
	for _, c := range []*config.SQL{state, visibility} {
		if _, err := os.Stat(c.DatabaseName); errors.Is(err, os.ErrNotExist) {
			if err := sqlite.SetupSchema(c); err != nil {
				return nil, nil, fmt.Errorf("temporal sqlite schema %s: %w", c.DatabaseName, err)
			}
		}
	}
	return state, visibility, nil
}

// SQLiteVisibilityFile returns the visibility file that goes with the
// SQLite state file dbFile.
func SQLiteVisibilityFile(dbFile string) string {
	return strings.TrimSuffix(dbFile, ".db") + "-visibility.db"
}

// storedShards returns the number of history shards recorded in the store,
// 0 for a store the server has not started on yet.
func storedShards(cfg *config.SQL) (int32, error) {
	db, err := persistencesql.NewSQLDB(sqlplugin.DbKindMain, cfg, resolver.NewNoopResolver(), tlog.NewNoopLogger(),
		metrics.NoopMetricsHandler)
	if err != nil {
		return 0, fmt.Errorf("temporal store %s: %w", cfg.DatabaseName, err)
	}
	defer db.Close()
	row, err := db.GetClusterMetadata(context.Background(), &sqlplugin.ClusterMetadataFilter{ClusterName: clusterName})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("temporal store %s: read cluster metadata: %w", cfg.DatabaseName, err)
	}
	md, err := serialization.NewSerializer().DeserializeClusterMetadata(persistence.NewDataBlob(row.Data, row.DataEncoding))
	if err != nil {
		return 0, fmt.Errorf("temporal store %s: cluster metadata: %w", cfg.DatabaseName, err)
	}
	return md.GetHistoryShardCount(), nil
}

// DynamicConfig is the server tuning measured on this class of machine
// (shared/peers/temporal/README.md): one task queue partition, fast transfer
// and timer queue polling so regular activities and timers are not delayed.
// It is the tuning of the SQLite store; Start adds PostgreSQL's to it.
func DynamicConfig() dynamicconfig.StaticClient {
	return dynamicConfig(false)
}

// PostgresDynamicConfig is the tuning Start gives a server on PostgreSQL:
// DynamicConfig plus PostgreSQL's. Tests that run a Temporal server of its
// own write it into the server's dynamic config file.
func PostgresDynamicConfig() dynamicconfig.StaticClient {
	return dynamicConfig(true)
}

// dynamicConfig is DynamicConfig, plus, for a PostgreSQL store, the settings
// that let writes overlap (BENCHMARKS.md, "Temporal persistence"): several
// persistence operations in flight per shard, and visibility records
// written as fast as workflows close.
func dynamicConfig(postgres bool) dynamicconfig.StaticClient {
	value := func(v any) []dynamicconfig.ConstrainedValue { return []dynamicconfig.ConstrainedValue{{Value: v}} }
	dc := dynamicconfig.StaticClient{
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  value(1),
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): value(1),
		dynamicconfig.TransferProcessorMaxPollRPS.Key():         value(1000),
		dynamicconfig.TimerProcessorMaxPollRPS.Key():            value(1000),
		dynamicconfig.EnableEagerWorkflowStart.Key():            value(true),
		// The history service keeps every run's mutable state cached for
		// an hour, up to 128,000 entries: ~15 KB each, so a 10,000-node
		// fleet (60,000 runs in a quarter of an hour) held 0.9 GB of live
		// heap after its nodes were deleted (BENCHMARKS.md, "Memory at
		// 10,000 nodes"). The runs that need their state are the few in
		// flight; an evicted one is read back from the database.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): value(HistoryCacheEntries),
	}
	if postgres {
		dc[dynamicconfig.ShardIOConcurrency.Key()] = value(1)
		dc[dynamicconfig.VisibilityProcessorMaxPollRPS.Key()] = value(20)
	}
	return dc
}

// HistoryCacheEntries bounds the history service's cache of workflow
// mutable states (Temporal's default: 128,000).
const HistoryCacheEntries = 8192

// HistoryShards returns the number of history shards the server runs with.
func (s *Server) HistoryShards() int32 { return s.shards }

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
