// Package storetest gives each test its own empty, migrated ferric schema in
// the Postgres database named by FERRIC_TEST_DATABASE_URL.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferric-project/ferric/store"
)

// EnvURL names the environment variable holding the test database's URL.
const EnvURL = "FERRIC_TEST_DATABASE_URL"

// maxConns bounds each test's pool: tests run in parallel against one server
// (max_connections 100 by default).
const maxConns = 24

// URL returns the test database URL. Without one it skips the test, or fails
// it when the CI environment variable is set: CI must run the store tests.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set; CI must provide a Postgres database", EnvURL)
		}
		t.Skipf("%s is not set; start Postgres (see store/pgcluster) and set it to run this test", EnvURL)
	}
	return url
}

// New returns a Store on a fresh schema test_<random> of the test database,
// with the migrations applied. The schema is dropped and the store closed
// when the test ends. See URL for when it skips.
func New(t testing.TB) *store.Store {
	t.Helper()
	s := NewUnmigrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// NewUnmigrated is New without the migrations: the schema is empty.
func NewUnmigrated(t testing.TB) *store.Store {
	t.Helper()
	url := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	schema := "test_" + hex.EncodeToString(b[:])

	if err := execAlone(ctx, url, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() { dropSchema(t, url, schema) })

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	s := store.New(pool)
	t.Cleanup(s.Close) // runs before dropSchema
	return s
}

// Reset empties every table of s's schema but the record of its
// migrations, so that the cases of one test can share a schema, one after
// another: far cheaper than a schema each. A table whose rows others still
// reference (without ON DELETE CASCADE) is emptied after them.
func Reset(t testing.TB, s *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := s.Pool().Query(ctx, `SELECT tablename FROM pg_tables
		WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'`)
	if err != nil {
		t.Fatalf("reset: list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("reset: list tables: %v", err)
	}
	for len(tables) > 0 {
		var left []string
		var last error
		for _, name := range tables {
			if _, err := s.Pool().Exec(ctx, `DELETE FROM `+pgx.Identifier{name}.Sanitize()); err != nil {
				left, last = append(left, name), err // still referenced: after the others
			}
		}
		if len(left) == len(tables) {
			t.Fatalf("reset: %v", last)
		}
		tables = left
	}
}

func dropSchema(t testing.TB, url, schema string) {
	// t.Context is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := execAlone(ctx, url, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

// execAlone runs one statement on a connection of its own to the database
// at url, outside any test's pool.
func execAlone(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvURL, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
