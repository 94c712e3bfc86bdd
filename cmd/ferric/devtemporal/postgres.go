package devtemporal

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/server/common/config"
	tlog "go.temporal.io/server/common/log"
	postgresplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	v12 "go.temporal.io/server/schema/postgresql/v12"
	"go.temporal.io/server/tools/common/schema"
	toolsql "go.temporal.io/server/tools/sql"
)

// Database names used when Postgres leaves them empty.
const (
	DefaultDatabase           = "temporal"
	DefaultVisibilityDatabase = "temporal_visibility"
)

// DefaultPostgresShards is the number of history shards of a new store on
// PostgreSQL, by measurement (BENCHMARKS.md, "Temporal persistence"): on a
// 2-core machine one shard ran the fleet bench 10-20% faster than 4 or 8
// and with less CPU, since the processors of every shard poll and write on
// the same cores and asynchronous commits make a shard's writes cheap. A
// larger machine may ask for more with -temporal-history-shards; Temporal
// keeps a store's number for good.
const DefaultPostgresShards = 1

// defaultPostgresMaxConns bounds each of the server's connection pools: one
// per service (frontend, history, matching, worker) and database (state,
// visibility), so at most eight times this many connections.
const defaultPostgresMaxConns = 8

// Embedded schema names (go.temporal.io/server/schema) of the two databases.
const (
	stateSchema      = "postgresql/v12/temporal"
	visibilitySchema = "postgresql/v12/visibility"
)

// Postgres says where the server keeps its state and visibility on
// PostgreSQL: two databases of one server.
type Postgres struct {
	// URL locates the server: postgres://user:password@host:port/db?params.
	// Its database (default "postgres") is the one connected to for creating
	// the two below; its query parameters (sslmode, sslrootcert, ...) apply
	// to every connection, except pgxpool's pool_* settings.
	URL string
	// Database holds workflow state and VisibilityDatabase the visibility
	// records (what the UI lists); both are created when missing.
	// Defaults: DefaultDatabase, DefaultVisibilityDatabase.
	Database, VisibilityDatabase string
	// MaxConns bounds each of the server's connection pools, one per service
	// and database; idle connections are kept up to the same number, so that
	// a burst does not reconnect. 0 means 8.
	MaxConns int
	// AsyncCommit turns synchronous_commit off on the server's connections:
	// a commit returns before its WAL reaches the disk. A crash of the
	// PostgreSQL server (not of ferric) can then lose the last fraction of a
	// second of Temporal's writes, as SQLite with synchronous=normal can on a
	// power cut. For development only.
	AsyncCommit bool
}

// withDefaults fills in the defaults.
func (p Postgres) withDefaults() Postgres {
	if p.Database == "" {
		p.Database = DefaultDatabase
	}
	if p.VisibilityDatabase == "" {
		p.VisibilityDatabase = DefaultVisibilityDatabase
	}
	if p.MaxConns == 0 {
		p.MaxConns = defaultPostgresMaxConns
	}
	return p
}

// parsedURL splits p.URL into what Temporal's SQL configuration takes.
type parsedURL struct {
	addr, user, password, database string
	params                         url.Values
}

func (p Postgres) parse() (parsedURL, error) {
	u, err := url.Parse(p.URL)
	if err != nil {
		return parsedURL{}, fmt.Errorf("temporal postgres url: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return parsedURL{}, fmt.Errorf("temporal postgres url: want postgres://user:password@host:port/db, got scheme %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return parsedURL{}, errors.New("temporal postgres url: no host")
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	pu := parsedURL{
		addr:     net.JoinHostPort(u.Hostname(), port),
		user:     u.User.Username(),
		database: strings.TrimPrefix(u.Path, "/"),
		params:   u.Query(),
	}
	pu.password, _ = u.User.Password()
	for k, v := range pu.params {
		// pgxpool's settings (a ferric database URL may carry them) are
		// not connection parameters: the server would refuse them. A
		// search_path (ferric's schema, e.g. a test's) names no schema of
		// Temporal's own databases, whose tables live in public.
		if strings.HasPrefix(k, "pool_") || k == "search_path" ||
			(k == "options" && strings.Contains(strings.Join(v, " "), "search_path")) {
			pu.params.Del(k)
		}
	}
	if pu.database == "" {
		pu.database = "postgres"
	}
	return pu, nil
}

// connURL is the URL of database on the same server with the same
// parameters.
func (pu parsedURL) connURL(database string) string {
	u := url.URL{Scheme: "postgres", Host: pu.addr, Path: "/" + database, RawQuery: pu.params.Encode()}
	if pu.password != "" {
		u.User = url.UserPassword(pu.user, pu.password)
	} else if pu.user != "" {
		u.User = url.User(pu.user)
	}
	return u.String()
}

// sqlConfigs returns Temporal's configuration of the state and visibility
// databases.
func (p Postgres) sqlConfigs() (state, visibility *config.SQL, err error) {
	p = p.withDefaults()
	pu, err := p.parse()
	if err != nil {
		return nil, nil, err
	}
	mk := func(database string) *config.SQL {
		attrs := make(map[string]string, len(pu.params)+1)
		for k := range pu.params {
			attrs[k] = pu.params.Get(k)
		}
		if p.AsyncCommit {
			attrs["synchronous_commit"] = "off"
		}
		return &config.SQL{
			PluginName:        postgresplugin.PluginNamePGX,
			ConnectAddr:       pu.addr,
			ConnectProtocol:   "tcp",
			User:              pu.user,
			Password:          pu.password,
			DatabaseName:      database,
			ConnectAttributes: attrs,
			MaxConns:          p.MaxConns,
			MaxIdleConns:      p.MaxConns,
		}
	}
	return mk(p.Database), mk(p.VisibilityDatabase), nil
}

// SchemaChange says what preparing one database did.
type SchemaChange struct {
	Database string
	// From is the stored schema version before ("" when there was no
	// schema), To the version after; equal when nothing was done.
	From, To string
}

// PreparePostgres creates p's two databases when missing, sets up Temporal's
// schema in a database that has none, and runs the versioned updates on one
// whose stored version is older than this server's. It is safe to call on
// every start: an up-to-date store is left as it is. Start calls it.
//
// A new schema is created in one transaction (schema.sql of the embedded
// files, stamped with its version), so that a failure leaves no half-made
// schema behind. The versioned updates run statement by statement, as
// Temporal's own tool runs them: some build indexes concurrently, which a
// transaction does not allow, and they are written to be run again after
// a partial failure. Two callers preparing the same databases at once are
// serialized by an advisory lock.
func PreparePostgres(ctx context.Context, p Postgres) ([]SchemaChange, error) {
	p = p.withDefaults()
	pu, err := p.parse()
	if err != nil {
		return nil, err
	}
	stateCfg, visCfg, err := p.sqlConfigs()
	if err != nil {
		return nil, err
	}
	admin, err := pgx.Connect(ctx, pu.connURL(pu.database))
	if err != nil {
		return nil, fmt.Errorf("temporal postgres: connect to %s: %w", pu.addr, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var changes []SchemaChange
	for _, db := range []struct {
		cfg     *config.SQL
		schema  string
		version string
	}{
		{stateCfg, stateSchema, v12.Version},
		{visCfg, visibilitySchema, v12.VisibilityVersion},
	} {
		if err := createDatabase(ctx, admin, db.cfg.DatabaseName); err != nil {
			return nil, err
		}
		ch, err := prepareSchema(ctx, pu.connURL(db.cfg.DatabaseName), db.cfg, db.schema, db.version)
		if err != nil {
			return nil, fmt.Errorf("temporal postgres: database %s: %w", db.cfg.DatabaseName, err)
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// createDatabase creates database unless it exists. The check comes first,
// so that a role without CREATEDB can use databases made for it.
func createDatabase(ctx context.Context, conn *pgx.Conn, database string) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, database).
		Scan(&exists); err != nil {
		return fmt.Errorf("temporal postgres: look up database %s: %w", database, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created concurrently
			return nil
		}
		return fmt.Errorf("temporal postgres: create database %s: %w", database, err)
	}
	return nil
}

// prepareSchema sets up or updates the schema of one database, holding an
// advisory lock on it meanwhile.
func prepareSchema(ctx context.Context, connURL string, cfg *config.SQL, schemaName, want string) (SchemaChange, error) {
	ch := SchemaChange{Database: cfg.DatabaseName}
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return ch, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	h := fnv.New64a()
	_, _ = h.Write([]byte("ferric/devtemporal schema " + cfg.DatabaseName)) // never fails
	lockKey := int64(h.Sum64())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return ch, fmt.Errorf("lock: %w", err)
	}
	// Closing the connection releases the lock too.
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey) }()

	ch.From, err = storedVersion(ctx, conn, cfg.DatabaseName)
	if err != nil {
		return ch, err
	}
	ch.To = ch.From
	logger := tlog.NewNoopLogger()
	if ch.From == "" {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return ch, fmt.Errorf("begin: %w", err)
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // after Commit: a no-op
		task := schema.NewSetupSchemaTask(&txDB{ctx: ctx, tx: tx, dbName: cfg.DatabaseName},
			&schema.SetupConfig{SchemaName: schemaName, InitialVersion: want}, logger)
		if err := task.Run(); err != nil {
			return ch, fmt.Errorf("set up schema %s: %w", schemaName, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return ch, fmt.Errorf("set up schema %s: commit: %w", schemaName, err)
		}
		ch.To = want
		return ch, nil
	}
	older, err := versionLess(ch.From, want)
	if err != nil || !older {
		return ch, err
	}
	c := *cfg // NewConnection keeps the config; pass a copy
	tc, err := toolsql.NewConnection(&c, logger)
	if err != nil {
		return ch, fmt.Errorf("connect: %w", err)
	}
	defer tc.Close()
	task := schema.NewUpdateSchemaTask(tc, &schema.UpdateConfig{DBName: cfg.DatabaseName, SchemaName: schemaName}, logger)
	if err := task.Run(); err != nil {
		return ch, fmt.Errorf("update schema %s from %s: %w", schemaName, ch.From, err)
	}
	if ch.To, err = storedVersion(ctx, conn, cfg.DatabaseName); err != nil {
		return ch, err
	}
	return ch, nil
}

// storedVersion reads the schema version Temporal's schema tables record
// for database; "" when there is none.
func storedVersion(ctx context.Context, conn *pgx.Conn, database string) (string, error) {
	var v string
	err := conn.QueryRow(ctx, `SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = $1`,
		database).Scan(&v)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows), errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// versionLess reports whether schema version a ("1.19") is older than b.
func versionLess(a, b string) (bool, error) {
	pa, err := parseVersion(a)
	if err != nil {
		return false, err
	}
	pb, err := parseVersion(b)
	if err != nil {
		return false, err
	}
	for i := range max(len(pa), len(pb)) {
		x, y := 0, 0
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return x < y, nil
		}
	}
	return false, nil
}

// parseVersion splits a dotted schema version into its numbers.
func parseVersion(v string) ([]int, error) {
	var parts []int
	for f := range strings.SplitSeq(v, ".") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("schema version %q: not dotted numbers", v)
		}
		parts = append(parts, n)
	}
	return parts, nil
}

// PostgresStoreExists reports whether p's state database exists and holds
// a Temporal schema.
func PostgresStoreExists(ctx context.Context, p Postgres) (bool, error) {
	p = p.withDefaults()
	pu, err := p.parse()
	if err != nil {
		return false, err
	}
	admin, err := pgx.Connect(ctx, pu.connURL(pu.database))
	if err != nil {
		return false, fmt.Errorf("temporal postgres: connect to %s: %w", pu.addr, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, p.Database).
		Scan(&exists); err != nil {
		return false, fmt.Errorf("temporal postgres: look up database %s: %w", p.Database, err)
	}
	if !exists {
		return false, nil
	}
	conn, err := pgx.Connect(ctx, pu.connURL(p.Database))
	if err != nil {
		return false, fmt.Errorf("temporal postgres: connect to %s: %w", p.Database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	v, err := storedVersion(ctx, conn, p.Database)
	if err != nil {
		return false, fmt.Errorf("temporal postgres: database %s: %w", p.Database, err)
	}
	return v != "", nil
}

// txDB runs the schema tool's statements in one transaction. The tool's
// interface takes no context: ctx is the caller's, for this one setup.
type txDB struct {
	ctx    context.Context
	tx     pgx.Tx
	dbName string
}

var _ schema.DB = (*txDB)(nil)

// Exec runs one statement.
func (d *txDB) Exec(stmt string, args ...any) error {
	_, err := d.tx.Exec(d.ctx, stmt, args...)
	return err
}

// DropAllTables is not needed: the setup never overwrites.
func (d *txDB) DropAllTables() error {
	return errors.New("devtemporal: dropping tables is not supported")
}

// CreateSchemaVersionTables creates the tables recording the version.
func (d *txDB) CreateSchemaVersionTables() error {
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS schema_version(version_partition INT not null, db_name VARCHAR(255) not null, ` +
			`creation_time TIMESTAMP, curr_version VARCHAR(64), min_compatible_version VARCHAR(64), ` +
			`PRIMARY KEY (version_partition, db_name))`,
		`CREATE TABLE IF NOT EXISTS schema_update_history(version_partition INT not null, year int not null, ` +
			`month int not null, update_time TIMESTAMP not null, description VARCHAR(255), manifest_md5 VARCHAR(64), ` +
			`new_version VARCHAR(64), old_version VARCHAR(64), PRIMARY KEY (version_partition, year, month, update_time))`,
	} {
		if err := d.Exec(stmt); err != nil {
			return err
		}
	}
	return nil
}

// ReadSchemaVersion returns the stored version; an error when there is none.
func (d *txDB) ReadSchemaVersion() (string, error) {
	var v string
	err := d.tx.QueryRow(d.ctx, `SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = $1`,
		d.dbName).Scan(&v)
	return v, err
}

// UpdateSchemaVersion records the version.
func (d *txDB) UpdateSchemaVersion(newVersion, minCompatibleVersion string) error {
	return d.Exec(`INSERT INTO schema_version(version_partition, db_name, creation_time, curr_version, min_compatible_version) `+
		`VALUES (0, $1, now() AT TIME ZONE 'UTC', $2, $3) ON CONFLICT (version_partition, db_name) DO UPDATE `+
		`SET creation_time = excluded.creation_time, curr_version = excluded.curr_version, `+
		`min_compatible_version = excluded.min_compatible_version`, d.dbName, newVersion, minCompatibleVersion)
}

// WriteSchemaUpdateLog records a change in the history table.
func (d *txDB) WriteSchemaUpdateLog(oldVersion, newVersion, manifestMD5, desc string) error {
	return d.Exec(`INSERT INTO schema_update_history(version_partition, year, month, update_time, old_version, `+
		`new_version, manifest_md5, description) SELECT 0, extract(year FROM t)::int, extract(month FROM t)::int, t, $1, $2, $3, $4 `+
		`FROM (SELECT clock_timestamp() AT TIME ZONE 'UTC' AS t) n`, oldVersion, newVersion, manifestMD5, desc)
}

// Close does nothing: the caller owns the transaction.
func (d *txDB) Close() {}

// Type names the kind of database, as the schema tool's SQL connection does.
func (d *txDB) Type() string { return "sql" }
