package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
)

// Where ferric dev's embedded Temporal server keeps workflow history.
const (
	persistenceSQLite   = "sqlite"
	persistencePostgres = "postgres"
	// defaultTemporalPersistence is the choice for a new data folder, by
	// measurement (BENCHMARKS.md, "Temporal persistence").
	defaultTemporalPersistence = persistencePostgres
)

// devTemporalStore returns the embedded Temporal server's configuration
// for ferric dev: SQLite files in dataDir/temporal, or two databases of the
// PostgreSQL server at databaseURL (the private cluster, or
// FERRIC_DATABASE_URL's server). A data folder whose history is in one
// keeps it unless asked otherwise, and a request that would leave its
// history behind is refused.
func devTemporalStore(ctx context.Context, cfg config, dataDir, databaseURL string, log *slog.Logger) (devtemporal.Config, error) {
	tc := devtemporal.Config{
		DBFile:        filepath.Join(dataDir, "temporal", "temporal.db"),
		HistoryShards: int32(cfg.temporalShards),
	}
	pg := devtemporal.Postgres{
		URL:                databaseURL,
		Database:           cfg.temporalDatabase,
		VisibilityDatabase: cfg.temporalDatabase + "_visibility",
		// As SQLite's synchronous=normal: a crash of ferric loses nothing
		// committed; a crash of the PostgreSQL server may lose the last
		// moment of Temporal's writes (ferric's own database is unaffected).
		AsyncCommit: true,
	}
	hasSQLite, err := fileExists(tc.DBFile)
	if err != nil {
		return tc, err
	}
	hasPostgres, err := devtemporal.PostgresStoreExists(ctx, pg)
	if err != nil {
		return tc, err
	}
	choice, err := choosePersistence(cfg.temporalPersistence, hasSQLite, hasPostgres)
	if err != nil {
		return tc, fmt.Errorf("%w\n%s", err, switchAdvice(choice, tc.DBFile, pg))
	}
	switch {
	case cfg.temporalPersistence == "" && hasSQLite:
		log.Info("the data folder holds Temporal's history in SQLite: keeping SQLite (-temporal-persistence postgres to switch; see README)",
			"file", tc.DBFile)
	case choice == persistencePostgres && hasSQLite:
		log.Warn("SQLite Temporal files in the data folder are not used: Temporal's history is in PostgreSQL", "file", tc.DBFile)
	case choice == persistenceSQLite && hasPostgres:
		log.Warn("Temporal databases in PostgreSQL are not used: Temporal's history is in SQLite", "database", pg.Database)
	}
	if choice == persistencePostgres {
		tc.Postgres = &pg
	}
	return tc, nil
}

// choosePersistence decides where Temporal's history goes, given the
// choice asked for ("" = none) and where the data folder already has some.
// It refuses a choice that would start on an empty store while the other
// one holds the folder's history: workflows in flight would be lost.
func choosePersistence(asked string, hasSQLite, hasPostgres bool) (string, error) {
	switch {
	case asked == "" && hasSQLite:
		return persistenceSQLite, nil
	case asked == "" && hasPostgres:
		return persistencePostgres, nil
	case asked == "":
		return defaultTemporalPersistence, nil
	case asked == persistenceSQLite && hasPostgres && !hasSQLite:
		return asked, errors.New("-temporal-persistence sqlite: this data folder's Temporal history is in PostgreSQL; " +
			"starting on SQLite would leave it, and every operation in flight, behind")
	case asked == persistencePostgres && hasSQLite && !hasPostgres:
		return asked, errors.New("-temporal-persistence postgres: this data folder's Temporal history is in SQLite; " +
			"starting on PostgreSQL would leave it, and every operation in flight, behind")
	}
	return asked, nil
}

// switchAdvice says how to switch anyway.
func switchAdvice(to, sqliteFile string, pg devtemporal.Postgres) string {
	if to == persistencePostgres {
		return fmt.Sprintf("To keep it, run without -temporal-persistence (or with sqlite). To switch and discard it "+
			"(nodes are kept: they live in ferric's database), stop ferric dev, let operations finish first, and remove %s*",
			filepath.Join(filepath.Dir(sqliteFile), "temporal"))
	}
	return fmt.Sprintf("To keep it, run without -temporal-persistence (or with postgres). To switch and discard it "+
		"(nodes are kept: they live in ferric's database), let operations finish first and drop the databases %s and %s "+
		"(psql: DROP DATABASE %s; DROP DATABASE %s;)", pg.Database, pg.VisibilityDatabase, pg.Database, pg.VisibilityDatabase)
}

func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("temporal data: %w", err)
	}
	return true, nil
}
