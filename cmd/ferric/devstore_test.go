package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal/devtemporaltest"
)

func TestChoosePersistence(t *testing.T) {
	for _, tc := range []struct {
		asked                  string
		hasSQLite, hasPostgres bool
		want                   string
		refused                bool
	}{
		{asked: "", want: defaultTemporalPersistence},
		{asked: "", hasSQLite: true, want: persistenceSQLite},
		{asked: "", hasPostgres: true, want: persistencePostgres},
		{asked: "", hasSQLite: true, hasPostgres: true, want: persistenceSQLite},
		{asked: persistenceSQLite, want: persistenceSQLite},
		{asked: persistencePostgres, want: persistencePostgres},
		{asked: persistenceSQLite, hasSQLite: true, want: persistenceSQLite},
		{asked: persistencePostgres, hasPostgres: true, want: persistencePostgres},
		{asked: persistenceSQLite, hasPostgres: true, refused: true},
		{asked: persistencePostgres, hasSQLite: true, refused: true},
		{asked: persistenceSQLite, hasSQLite: true, hasPostgres: true, want: persistenceSQLite},
		{asked: persistencePostgres, hasSQLite: true, hasPostgres: true, want: persistencePostgres},
	} {
		got, err := choosePersistence(tc.asked, tc.hasSQLite, tc.hasPostgres)
		if tc.refused {
			if err == nil {
				t.Errorf("asked %q, sqlite %v, postgres %v: %q, want a refusal", tc.asked, tc.hasSQLite, tc.hasPostgres, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("asked %q, sqlite %v, postgres %v: %q, %v; want %q", tc.asked, tc.hasSQLite, tc.hasPostgres, got, err, tc.want)
		}
	}
}

// TestDevTemporalStore checks the choice against a real data folder and
// PostgreSQL server: a folder with SQLite Temporal files keeps them, asking
// for PostgreSQL there is refused with what to remove, and a fresh folder
// gets the default.
func TestDevTemporalStore(t *testing.T) {
	pg := devtemporaltest.Postgres(t) // names of databases that do not exist yet
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	cfg := config{temporalDatabase: pg.Database}

	fresh := t.TempDir()
	tc, err := devTemporalStore(ctx, cfg, fresh, pg.URL, log)
	if err != nil {
		t.Fatalf("fresh folder: %v", err)
	}
	if got := tc.Postgres != nil; got != (defaultTemporalPersistence == persistencePostgres) {
		t.Errorf("fresh folder: postgres %v, want the default %s", got, defaultTemporalPersistence)
	}
	if tc.Postgres != nil && (tc.Postgres.Database != pg.Database || tc.Postgres.VisibilityDatabase != pg.Database+"_visibility") {
		t.Errorf("fresh folder: databases %s, %s", tc.Postgres.Database, tc.Postgres.VisibilityDatabase)
	}

	old := t.TempDir()
	file := filepath.Join(old, "temporal", "temporal.db")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tc, err = devTemporalStore(ctx, cfg, old, pg.URL, log)
	if err != nil || tc.Postgres != nil || tc.DBFile != file {
		t.Errorf("folder with SQLite files: postgres %v, file %s, %v; want SQLite %s", tc.Postgres != nil, tc.DBFile, err, file)
	}
	cfg.temporalPersistence = persistencePostgres
	_, err = devTemporalStore(ctx, cfg, old, pg.URL, log)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(old, "temporal", "temporal")) {
		t.Errorf("folder with SQLite files, postgres asked: %v; want a refusal naming the files", err)
	}
}
