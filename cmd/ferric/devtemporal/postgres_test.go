package devtemporal_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/server/common/config"
	tlog "go.temporal.io/server/common/log"
	postgresplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	v12 "go.temporal.io/server/schema/postgresql/v12"
	"go.temporal.io/server/tools/common/schema"
	toolsql "go.temporal.io/server/tools/sql"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/cmd/ferric/devtemporal/devtemporaltest"
)

// TestPreparePostgresIsIdempotent sets up fresh databases, then prepares
// them again: the second time nothing is done (no change, no new entry in
// the schema history).
func TestPreparePostgresIsIdempotent(t *testing.T) {
	pg := devtemporaltest.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	changes, err := devtemporal.PreparePostgres(ctx, pg)
	if err != nil {
		t.Fatalf("first prepare: %v", err)
	}
	want := []devtemporal.SchemaChange{
		{Database: pg.Database, From: "", To: v12.Version},
		{Database: pg.VisibilityDatabase, From: "", To: v12.VisibilityVersion},
	}
	if !equalChanges(changes, want) {
		t.Fatalf("first prepare: %+v, want %+v", changes, want)
	}
	logged := historyRows(ctx, t, pg)

	changes, err = devtemporal.PreparePostgres(ctx, pg)
	if err != nil {
		t.Fatalf("second prepare: %v", err)
	}
	want = []devtemporal.SchemaChange{
		{Database: pg.Database, From: v12.Version, To: v12.Version},
		{Database: pg.VisibilityDatabase, From: v12.VisibilityVersion, To: v12.VisibilityVersion},
	}
	if !equalChanges(changes, want) {
		t.Errorf("second prepare: %+v, want nothing done: %+v", changes, want)
	}
	if again := historyRows(ctx, t, pg); again != logged {
		t.Errorf("schema history rows after the second prepare: %v, before: %v", again, logged)
	}
}

// TestPreparePostgresUpdatesOlderSchema prepares databases whose recorded
// schema is older than the server's (version 0.0, as Temporal's SQL tool
// leaves them before its update-schema step): the versioned updates run,
// and the result has every table and column of a fresh setup (it may keep
// tables that later versions stopped using, as Temporal's own upgrades do).
func TestPreparePostgresUpdatesOlderSchema(t *testing.T) {
	fresh, old := devtemporaltest.Postgres(t), devtemporaltest.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := devtemporal.PreparePostgres(ctx, fresh); err != nil {
		t.Fatalf("prepare fresh databases: %v", err)
	}

	admin, err := pgx.Connect(ctx, old.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, db := range []string{old.Database, old.VisibilityDatabase} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatalf("create %s: %v", db, err)
		}
		conn, err := toolsql.NewConnection(sqlConfig(t, old.URL, db), tlog.NewNoopLogger())
		if err != nil {
			t.Fatalf("connect to %s: %v", db, err)
		}
		err = schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, tlog.NewNoopLogger()).Run()
		conn.Close()
		if err != nil {
			t.Fatalf("stamp %s with version 0.0: %v", db, err)
		}
	}

	changes, err := devtemporal.PreparePostgres(ctx, old)
	if err != nil {
		t.Fatalf("prepare databases at 0.0: %v", err)
	}
	want := []devtemporal.SchemaChange{
		{Database: old.Database, From: "0.0", To: v12.Version},
		{Database: old.VisibilityDatabase, From: "0.0", To: v12.VisibilityVersion},
	}
	if !equalChanges(changes, want) {
		t.Fatalf("prepare databases at 0.0: %+v, want %+v", changes, want)
	}
	for i, db := range []string{fresh.Database, fresh.VisibilityDatabase} {
		updated := columns(ctx, t, old.URL, []string{old.Database, old.VisibilityDatabase}[i])
		var missing []string
		for _, c := range columns(ctx, t, fresh.URL, db) {
			if !slices.Contains(updated, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			t.Errorf("the updated schema lacks columns of a fresh setup: %s", strings.Join(missing, ", "))
		}
	}
}

func equalChanges(a, b []devtemporal.SchemaChange) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sqlConfig is Temporal's SQL configuration of database on url's server.
func sqlConfig(t *testing.T, url, database string) *config.SQL {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return &config.SQL{PluginName: postgresplugin.PluginNamePGX, ConnectAddr: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
		User: cfg.User, Password: cfg.Password, DatabaseName: database,
		ConnectAttributes: map[string]string{"sslmode": "disable"}}
}

// historyRows counts the rows of the schema history of both databases.
func historyRows(ctx context.Context, t *testing.T, pg devtemporal.Postgres) [2]int {
	t.Helper()
	var n [2]int
	for i, db := range []string{pg.Database, pg.VisibilityDatabase} {
		conn := connectTo(ctx, t, pg.URL, db)
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_update_history`).Scan(&n[i]); err != nil {
			t.Fatalf("count schema history of %s: %v", db, err)
		}
		conn.Close(ctx)
	}
	return n
}

// columns lists database's tables and columns with their types.
func columns(ctx context.Context, t *testing.T, url, database string) []string {
	t.Helper()
	conn := connectTo(ctx, t, url, database)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name NOT LIKE 'schema_%' ORDER BY table_name, column_name`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) == 0 {
		t.Fatalf("no tables in %s", database)
	}
	return cols
}

func connectTo(ctx context.Context, t *testing.T, url, database string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", database, err)
	}
	return conn
}
