package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// guard is the DBTX every Queries runs on: it marks errors that mean "the
// database cannot be reached" with ErrUnavailable, at the one place every
// statement passes, so that callers (the API's 503, the workflows' retries)
// tell an outage from a refusal without knowing pgx.
type guard struct{ db DBTX }

func (g guard) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := g.db.Exec(ctx, sql, args...)
	return tag, unavailable(err)
}

func (g guard) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := g.db.Query(ctx, sql, args...)
	if err != nil {
		return rows, unavailable(err)
	}
	return guardRows{rows}, nil
}

func (g guard) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return guardRow{g.db.QueryRow(ctx, sql, args...)}
}

type guardRow struct{ row pgx.Row }

func (r guardRow) Scan(dst ...any) error { return unavailable(r.row.Scan(dst...)) }

type guardRows struct{ pgx.Rows }

func (r guardRows) Scan(dst ...any) error { return unavailable(r.Rows.Scan(dst...)) }
func (r guardRows) Err() error            { return unavailable(r.Rows.Err()) }

// unavailable wraps err with ErrUnavailable when it says the server cannot
// be reached or went away; other errors pass through unchanged.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !connectionLost(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// connectionLost classifies a pgx error: a failed connect, a broken or
// closed connection, a network error, or the server refusing work because it
// is shutting down or starting up.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: admin/crash
		// shutdown, cannot connect now; 53300: too many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" ||
			pe.Code == "57P03" || pe.Code == "53300"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}
