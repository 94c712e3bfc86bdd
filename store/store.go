// Package store is ferric's Postgres persistence for Ironic's nodes, ports,
// chassis and node history, written with pgx v5 and hand-written SQL.
//
// Every method translates database errors at the boundary: callers only see
// the sentinels of this package (ErrNotFound, ErrExists, ErrConflict,
// ErrInvalidState, ErrInUse, ErrInvalidArgument), wrapped with context, and
// classify them with errors.Is.
//
// Each method is a single SQL statement (Transition and SetPower use a CTE to
// update the node and append its history in one round trip), so the Queries
// methods are atomic on their own and compose inside Store.InTx.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ferric-project/ferric/store/seal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMaxConns is the pool size Open uses when the URL does not set
// pool_max_conns: enough for the API and a worker on a small (2-core) box
// without crowding Postgres's default max_connections of 100.
const DefaultMaxConns = 16

// DBTX is satisfied by *pgxpool.Pool, *pgx.Conn and pgx.Tx.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Queries runs the store's statements on a pool, a connection or a
// transaction. With a key ring, the secrets of driver_info are sealed on
// write and opened on read (see package seal): only ciphertext reaches the
// database.
type Queries struct {
	db   DBTX
	ring *seal.Ring
}

// NewQueries returns Queries over db (a pool, a connection or a transaction).
func NewQueries(db DBTX) Queries { return Queries{db: guard{db}} }

// Store is ferric's database: Queries over a connection pool, plus
// transactions and migrations.
type Store struct {
	Queries
	pool *pgxpool.Pool
}

// Open connects a pool to the Postgres database at url (a postgres:// URL or a
// key=value DSN) and checks that it answers. The pool holds DefaultMaxConns
// connections unless the URL sets pool_max_conns.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The URL may carry a password: don't echo it.
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	s := New(pool)
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New returns a Store over an existing pool. Close closes that pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{Queries: NewQueries(pool), pool: pool}
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", unavailable(err))
	}
	return nil
}

// SetSecrets makes the store seal driver_info secrets with r on write and
// open them on read (nil: store them as given). Call it before use.
func (s *Store) SetSecrets(r *seal.Ring) { s.ring = r }

// Pool returns the underlying pool, for health checks and pool statistics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// InTx runs fn in a transaction. It commits when fn returns nil and rolls back
// when fn returns an error or panics; fn's error is returned as is.
func (s *Store) InTx(ctx context.Context, fn func(q Queries) error) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(Queries{db: guard{tx}, ring: s.ring}) })
	return unavailable(err)
}

// Postgres error codes translated at the boundary.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// invalidInput reports whether a SQLSTATE means "this value cannot be
// stored or compared": the caller's input is at fault, not the database.
func invalidInput(code string) bool {
	switch code {
	case "22P02", // invalid_text_representation: malformed JSON or UUID text
		"22021", // character_not_in_repertoire: NUL or invalid UTF-8 in text
		"22P05", // untranslatable_character: \u0000 in jsonb
		"22003", // numeric_value_out_of_range: a JSON number beyond numeric
		"22001", // string_data_right_truncation
		"54000", // program_limit_exceeded: e.g. an index row beyond a btree page
		"54001": // statement_too_complex: e.g. JSON nested beyond the stack
		return true
	}
	return false
}

// pgCode returns the SQLSTATE of err, or "" when it is not a server error.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// translate maps a database error to a store sentinel: no rows to
// ErrNotFound, a unique violation to ErrExists, a foreign key violation to
// fk (ErrNotFound when writing a reference to a missing row, ErrInUse when
// deleting a referenced row) and input PostgreSQL cannot store or compare
// (malformed JSON, NUL or invalid UTF-8, a number beyond numeric, an index
// row beyond a page; see invalidInput) to ErrInvalidArgument. Other errors
// pass through unchanged. The result is not wrapped with context: callers
// add it.
func translate(err error, fk error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return ErrNotFound
	}
	switch code := pgCode(err); {
	case code == pgUniqueViolation:
		return fmt.Errorf("%w (%s)", ErrExists, constraintOf(err))
	case code == pgForeignKeyViolation:
		return fmt.Errorf("%w (%s)", fk, constraintOf(err))
	case invalidInput(code):
		var pgErr *pgconn.PgError
		errors.As(err, &pgErr)
		return fmt.Errorf("%w: %s (SQLSTATE %s)", ErrInvalidArgument, pgErr.Message, code)
	}
	return err
}

// constraintOf names the violated constraint, for error messages.
func constraintOf(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName != "" {
		return pgErr.ConstraintName
	}
	return "constraint"
}
