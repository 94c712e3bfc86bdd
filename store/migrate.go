package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockClass is the first key of the advisory lock that serializes
// migrations; the second is a hash of the current schema, so that test
// schemas migrate independently.
const migrationLockClass = 0x0FE1

// migrationNames returns the names of the embedded migrations, in the order
// Migrate applies them.
func migrationNames() ([]string, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Migrate applies the embedded migrations that the current schema (the first
// of search_path) lacks, in name order, each in its own transaction, and
// records them in schema_migrations. Concurrent callers are serialized by a
// transaction-scoped advisory lock, so several processes may start at once;
// applying an up-to-date schema is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	for _, name := range names {
		body, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		if err := s.applyMigration(ctx, name, string(body)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, name, body string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(current_schema(), '')))`, int32(migrationLockClass)); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		// Created under the lock: concurrent CREATE TABLE IF NOT EXISTS can
		// otherwise fail on the catalog's unique indexes.
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    text        PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var done bool
		if err := tx.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, name).Scan(&done); err != nil {
			return fmt.Errorf("check migration %s: %w", name, err)
		}
		if done {
			return nil
		}
		// No arguments: pgx sends the file with the simple protocol, which
		// allows several statements.
		if _, err := tx.Exec(ctx, body); err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, name); err != nil {
			return fmt.Errorf("record migration %s: %w", name, err)
		}
		return nil
	})
}

// PendingMigrations returns the embedded migrations the current schema
// has not applied, in name order (all of them when nothing was ever
// applied): a process whose binary is newer than its database must not
// serve until "ferric migrate" has run.
func (s *Store) PendingMigrations(ctx context.Context) ([]string, error) {
	names, err := migrationNames()
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, unavailable(fmt.Errorf("look for schema_migrations: %w", err))
	}
	var applied []string
	if exists {
		if err := s.pool.QueryRow(ctx,
			`SELECT COALESCE(array_agg(version), '{}'::text[]) FROM schema_migrations`).Scan(&applied); err != nil {
			return nil, unavailable(fmt.Errorf("read schema_migrations: %w", err))
		}
	}
	var pending []string
	for _, n := range names {
		if !slices.Contains(applied, n) {
			pending = append(pending, n)
		}
	}
	return pending, nil
}
