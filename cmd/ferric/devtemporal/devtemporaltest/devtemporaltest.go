// Package devtemporaltest gives each test the embedded Temporal server (see
// devtemporal) on PostgreSQL databases of its own, in the test cluster named
// by FERRIC_TEST_DATABASE_URL.
package devtemporaltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/store/storetest"
)

// maxConns bounds each of the server's pools (eight of them): tests share
// one PostgreSQL server with its 100 connections.
const maxConns = 2

// Postgres returns the location of two fresh database names on the test
// cluster, temporal_test_<random> and temporal_test_<random>_visibility; the
// server creates them on start, and they are dropped when the test ends.
// Without FERRIC_TEST_DATABASE_URL it skips the test, or fails it when CI is
// set (storetest.URL).
func Postgres(t testing.TB) devtemporal.Postgres {
	t.Helper()
	url := storetest.URL(t)
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails
	name := "temporal_test_" + hex.EncodeToString(b[:])
	pg := devtemporal.Postgres{URL: url, Database: name, VisibilityDatabase: name + "_visibility", MaxConns: maxConns,
		AsyncCommit: true}
	t.Cleanup(func() { drop(t, url, pg.Database, pg.VisibilityDatabase) })
	return pg
}

// drop drops the databases, closing what still connects to them.
func drop(t testing.TB, url string, databases ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("drop test databases: %v", err)
		return
	}
	defer conn.Close(ctx)
	for _, db := range databases {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", db, err)
		}
	}
}

// Start starts the embedded server on pg (from Postgres) at a free
// loopback address, without the UI, and stops it when the test ends. It
// returns the server and its frontend address.
func Start(t testing.TB, pg devtemporal.Postgres, namespace string) (*devtemporal.Server, string) {
	t.Helper()
	addr := FreeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := devtemporal.Start(ctx, devtemporal.Config{Postgres: &pg, Address: addr, Namespace: namespace,
		LogLevel: "error", Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatalf("start the embedded temporal server on postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop the embedded temporal server: %v", err)
		}
	})
	return srv, addr
}

// FreeAddr returns a loopback host:port nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
