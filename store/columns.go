package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A row type's fields are declared once, as a list of columns: the list
// builds the SELECT list, the column lists and placeholders of the INSERT
// and UPDATE, their arguments, the scan destinations and the sort
// whitelist. Adding a field to Node is one column in nodeColumns (and a
// migration).

// writeMode says when a column is written from the row value.
type writeMode uint8

const (
	readOnly writeMode = iota // set by the database only (id, version)
	onInsert                  // written by Create only (uuid, state fields, timestamps)
	always                    // written by Create and Update
)

// column maps one field of the row type T to its table column.
type column[T any] struct {
	name     string    // the field's name (Ironic's) and sort key; the table column unless col is set
	col      string    // the table column written and sorted by, when not name
	read     string    // the SQL read, when not <alias>.<name>
	typ      string    // the SQL type values are bound as
	value    string    // the SQL written, %[1]s standing for the placeholder; "" = %[1]s::typ
	write    writeMode // which statements write it
	nullable bool      // the column may hold NULL (sorting needs a NULL-aware keyset)
	sortable bool      // a sort key of the table's list method
	dst      func(*T) any
	arg      func(*T) any
}

// Column constructors, one per Go type of field. Options are set on the
// value they return (sorted, insertOnly, setByDB, readAs, writeTo).

// valueCol is a column bound and scanned as its field's own Go type V.
func valueCol[T, V any](name, typ string, nullable bool, p func(*T) *V) column[T] {
	return column[T]{name: name, typ: typ, write: always, nullable: nullable,
		dst: func(t *T) any { return p(t) }, arg: func(t *T) any { return *p(t) }}
}

func textCol[T any](name string, p func(*T) *string) column[T] {
	return valueCol(name, "text", false, p)
}

func optTextCol[T any](name string, p func(*T) **string) column[T] {
	return valueCol(name, "text", true, p)
}

// stateCol is a text column that holds NULL for the empty string.
func stateCol[T any](name string, p func(*T) *string) column[T] {
	c := valueCol(name, "text", true, p)
	c.value = "NULLIF(%[1]s::text, '')"
	return c
}

func boolCol[T any](name string, p func(*T) *bool) column[T] {
	return valueCol(name, "boolean", false, p)
}

func optBoolCol[T any](name string, p func(*T) **bool) column[T] {
	return valueCol(name, "boolean", true, p)
}

func optTimeCol[T any](name string, p func(*T) **time.Time) column[T] {
	return valueCol(name, "timestamptz", true, p)
}

// jsonCol is a jsonb object column: an absent value is written as {}.
func jsonCol[T any](name string, p func(*T) *json.RawMessage) column[T] {
	return column[T]{name: name, typ: "jsonb", write: always,
		dst: func(t *T) any { return (*[]byte)(p(t)) }, arg: func(t *T) any { return jsonObject(*p(t)) }}
}

// jsonArrayCol is a json array column (a list of steps, conditions or
// actions, kept as the client sent it): an absent value is written as [].
func jsonArrayCol[T any](name string, p func(*T) *json.RawMessage) column[T] {
	return column[T]{name: name, typ: "json", write: always,
		dst: func(t *T) any { return (*[]byte)(p(t)) }, arg: func(t *T) any { return jsonArray(*p(t)) }}
}

// textsCol is a text[] column: nil is written as an empty array.
func textsCol[T any](name string, p func(*T) *[]string) column[T] {
	return column[T]{name: name, typ: "text[]", write: always,
		dst: func(t *T) any { return p(t) },
		arg: func(t *T) any {
			if v := *p(t); v != nil {
				return v
			}
			return []string{}
		}}
}

// createdCol is created_at: written on insert, the zero time meaning now.
func createdCol[T any](p func(*T) *time.Time) column[T] {
	return column[T]{name: "created_at", typ: "timestamptz", write: onInsert,
		value: "COALESCE(%[1]s::timestamptz, now())",
		dst:   func(t *T) any { return p(t) },
		arg: func(t *T) any {
			if v := *p(t); !v.IsZero() {
				return v
			}
			return nil
		}}
}

// idCol is the internal row id.
func idCol[T any](p func(*T) *int64) column[T] {
	return valueCol("id", "bigint", false, p).setByDB().sorted()
}

// uuidCol is the row's UUID, written on insert.
func uuidCol[T any](alias string, p func(*T) *string) column[T] {
	return valueCol("uuid", "uuid", false, p).readAs(alias + ".uuid::text").insertOnly().sorted()
}

// sorted makes c a sort key.
func (c column[T]) sorted() column[T] { c.sortable = true; return c }

// insertOnly makes c written by Create only.
func (c column[T]) insertOnly() column[T] { c.write = onInsert; return c }

// setByDB makes c written by the database only.
func (c column[T]) setByDB() column[T] { c.write = readOnly; return c }

// readAs reads c with expr (e.g. a joined table's column).
func (c column[T]) readAs(expr string) column[T] { c.read = expr; return c }

// writeTo writes c to the table column col with the SQL value (%[1]s is the
// placeholder).
func (c column[T]) writeTo(col, value string) column[T] { c.col, c.value = col, value; return c }

// table is a row type's columns with the SQL they build, computed once.
type table[T any] struct {
	name, alias string
	what        string // the row type in messages ("node")
	joins       string // the joins selectList reads from, after the table as alias
	from        string // the FROM clause of selectList: the table as alias, joined
	cols        []column[T]
	// selectList reads every column, in order, for scan.
	selectList string
	// insertSQL creates a row from the insert arguments and reads it back;
	// updateSQL writes the update arguments (from $2) over the row whose
	// UUID is $1 and reads it back.
	insertSQL, updateSQL string
	sorts                map[string]sortColumn
	sortKeys             []string
}

// newTable builds the SQL of table name, read as alias with joins; what
// names the row type in messages.
func newTable[T any](name, alias, what, joins string, cols []column[T]) *table[T] {
	tb := &table[T]{name: name, alias: alias, what: what, joins: joins, from: " FROM " + name + " " + alias + joins,
		cols: cols, sorts: map[string]sortColumn{}}
	reads := make([]string, len(cols))
	for i, c := range cols {
		reads[i] = c.read
		if reads[i] == "" {
			reads[i] = alias + "." + c.name
		}
		if c.sortable {
			tb.sorts[c.name] = sortColumn{expr: alias + "." + c.column(), nullable: c.nullable}
			tb.sortKeys = append(tb.sortKeys, c.name)
		}
	}
	tb.selectList = strings.Join(reads, ", ")
	icols, ivals := tb.writeList(onInsert, 1)
	tb.insertSQL = tb.returning(`INSERT INTO ` + name + ` (` + icols + `) VALUES (` + ivals + `)`)
	tb.updateSQL = tb.updateWhere(2, "updated_at = now()", "uuid = $1::uuid")
	return tb
}

// returning wraps a data-modifying statement on the table so that it
// returns the rows it wrote as selectList.
func (tb *table[T]) returning(stmt string) string { return tb.returningWith(stmt) }

// returningWith is returning with more CTEs after the statement's (each
// "name AS (...)"), which may refer to it by the table's alias.
func (tb *table[T]) returningWith(stmt string, ctes ...string) string {
	with := `WITH ` + tb.alias + ` AS (` + stmt + ` RETURNING *)`
	for _, c := range ctes {
		with += `, ` + c
	}
	return with + ` SELECT ` + tb.selectList + ` FROM ` + tb.alias + tb.joins
}

// updateWhere returns the statement that writes the columns Update writes
// (from $first on) and set to the row where cond holds, and reads it back.
func (tb *table[T]) updateWhere(first int, set, cond string) string {
	return tb.updateWhereWith(first, set, cond)
}

// updateWhereWith is updateWhere with more CTEs (see returningWith).
func (tb *table[T]) updateWhereWith(first int, set, cond string, ctes ...string) string {
	cols, vals := tb.writeList(always, first)
	return tb.returningWith(`UPDATE `+tb.name+` SET (`+cols+`) = (`+vals+`), `+set+` WHERE `+cond, ctes...)
}

// write runs an insertSQL or updateSQL statement with t's arguments after
// pre and reads the row back.
func (tb *table[T]) write(ctx context.Context, db DBTX, sql string, t *T, m writeMode, pre ...any) (T, error) {
	var out T
	err := tb.scan(db.QueryRow(ctx, sql, tb.args(t, m, pre...)...), &out)
	return out, err
}

// create inserts t with UUID *id (canonicalized; generated when empty)
// after prepare, if any, checked t, and reads the row back.
func (tb *table[T]) create(ctx context.Context, db DBTX, t *T, id *string, prepare func(*T) error) (T, error) {
	var zero T
	u, err := newUUID(*id)
	if err != nil {
		return zero, fmt.Errorf("create %s: %w", tb.what, err)
	}
	*id = u
	if prepare != nil {
		if err := prepare(t); err != nil {
			return zero, fmt.Errorf("create %s %s: %w", tb.what, *id, err)
		}
	}
	out, err := tb.write(ctx, db, tb.insertSQL, t, onInsert)
	if err != nil {
		return zero, fmt.Errorf("create %s %s: %w", tb.what, *id, translate(err, ErrNotFound))
	}
	return out, nil
}

// update writes t over the row with UUID *id (canonicalized) after
// prepare, if any, checked t, and reads the row back. ErrNotFound when
// there is none.
func (tb *table[T]) update(ctx context.Context, db DBTX, t *T, id *string, prepare func(*T) error) (T, error) {
	var zero T
	u, err := uuid.Parse(*id)
	if err != nil {
		return zero, fmt.Errorf("update %s %q: %w", tb.what, *id, ErrNotFound)
	}
	*id = u.String()
	if prepare != nil {
		if err := prepare(t); err != nil {
			return zero, fmt.Errorf("update %s %s: %w", tb.what, *id, err)
		}
	}
	out, err := tb.write(ctx, db, tb.updateSQL, t, always, *id)
	if err != nil {
		return zero, fmt.Errorf("update %s %s: %w", tb.what, *id, translate(err, ErrNotFound))
	}
	return out, nil
}

// newUUID returns id in canonical form, or a fresh UUID (v4) for "".
// ErrInvalidArgument when id is malformed.
func newUUID(id string) (string, error) {
	if id == "" {
		return uuid.NewString(), nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", fmt.Errorf("malformed uuid %q: %w", id, ErrInvalidArgument)
	}
	return u.String(), nil
}

// column is the table column c writes and sorts by.
func (c column[T]) column() string {
	if c.col != "" {
		return c.col
	}
	return c.name
}

// written reports whether a statement writing columns of mode m or above
// writes c.
func (c column[T]) written(m writeMode) bool { return c.write != readOnly && c.write >= m }

// writeList returns the columns a statement writing mode m writes and their
// values, with placeholders from $first on in column order.
func (tb *table[T]) writeList(m writeMode, first int) (cols, vals string) {
	var cs, vs []string
	n := first
	for _, c := range tb.cols {
		if !c.written(m) {
			continue
		}
		ph := "$" + strconv.Itoa(n)
		n++
		v := c.value
		if v == "" {
			v = "%[1]s::" + c.typ
		}
		cs = append(cs, c.column())
		vs = append(vs, fmt.Sprintf(v, ph))
	}
	return strings.Join(cs, ", "), strings.Join(vs, ", ")
}

// args appends to pre the arguments of writeList(m, len(pre)+1) for t.
func (tb *table[T]) args(t *T, m writeMode, pre ...any) []any {
	out := make([]any, 0, len(pre)+len(tb.cols))
	out = append(out, pre...)
	for _, c := range tb.cols {
		if c.written(m) {
			out = append(out, c.arg(t))
		}
	}
	return out
}

// dests returns dst (emptied) filled with pre and the scan destinations of
// selectList in t, so that a list can reuse one slice for every row.
func (tb *table[T]) dests(dst []any, t *T, pre ...any) []any {
	dst = append(dst[:0], pre...)
	for _, c := range tb.cols {
		dst = append(dst, c.dst(t))
	}
	return dst
}

// scan reads one row of selectList, after the columns pre receive, into t.
func (tb *table[T]) scan(row pgx.Row, t *T, pre ...any) error {
	return row.Scan(tb.dests(make([]any, 0, len(pre)+len(tb.cols)), t, pre...)...)
}

// scanAll appends the rows of selectList that rows holds to out, reusing
// one slice of scan destinations; after, if not nil, runs on each row read.
// The caller checks rows.Err.
func (tb *table[T]) scanAll(rows pgx.Rows, out []T, after func(*T)) ([]T, error) {
	var dst []any
	for rows.Next() {
		var zero T
		out = append(out, zero)
		t := &out[len(out)-1]
		dst = tb.dests(dst, t)
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		if after != nil {
			after(t)
		}
	}
	return out, nil
}

// sortColumn resolves a sort key ("" = id).
func (tb *table[T]) sortColumn(key string) (sortColumn, bool) {
	if key == "" {
		key = "id"
	}
	c, ok := tb.sorts[key]
	return c, ok
}

// get reads the row where cond (on $1 = arg) holds; ident names it in
// errors. ErrNotFound when there is none.
func (tb *table[T]) get(ctx context.Context, db DBTX, ident, cond string, arg any) (T, error) {
	var t T
	if err := tb.scan(db.QueryRow(ctx, `SELECT `+tb.selectList+tb.from+` WHERE `+cond, arg), &t); err != nil {
		return t, fmt.Errorf("get %s %q: %w", tb.what, ident, translate(err, ErrNotFound))
	}
	return t, nil
}

// byUUID reads the row with that UUID. ErrNotFound when there is none.
func (tb *table[T]) byUUID(ctx context.Context, db DBTX, ident string) (T, error) {
	id, err := uuid.Parse(ident)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("get %s %q: %w", tb.what, ident, ErrNotFound)
	}
	return tb.get(ctx, db, ident, tb.alias+`.uuid = $1::uuid`, id.String())
}

// byName reads the row named name. ErrNotFound when there is none.
func (tb *table[T]) byName(ctx context.Context, db DBTX, name string) (T, error) {
	return tb.get(ctx, db, name, tb.alias+`.name = $1::text`, name)
}

// byIdent reads the row whose UUID is ident when ident parses as a UUID,
// else the one named ident. ErrNotFound when there is none.
func (tb *table[T]) byIdent(ctx context.Context, db DBTX, ident string) (T, error) {
	where, arg := identWhere(tb.alias, ident)
	return tb.get(ctx, db, ident, where, arg)
}

// identWhere returns the condition on $1, and its argument, that selects
// the row of the table read over alias whose UUID is ident when ident
// parses as a UUID, else the one named ident.
func identWhere(alias, ident string) (string, any) {
	if id, err := uuid.Parse(ident); err == nil {
		return alias + `.uuid = $1::uuid`, id.String()
	}
	return alias + `.name = $1::text`, ident
}

// listPage is what a list method pages by.
type listPage struct {
	sortKey  string // "" = id
	desc     bool
	markerID int64 // the rows after this one in sort order (0 = from the start)
	limit    int   // 0 = all
}

// list returns one keyset page of the rows that the conditions filter adds
// select (filter returns false when no row can match), ordered by
// (p.sortKey, id); after, if not nil, runs on each row.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when p.markerID names no row.
func (tb *table[T]) list(ctx context.Context, db DBTX, p listPage, filter func(b *queryBuilder) bool,
	after func(*T)) ([]T, error) {
	col, ok := tb.sortColumn(p.sortKey)
	if !ok {
		return nil, fmt.Errorf("list %s: sort key %q: %w", tb.name, p.sortKey, ErrInvalidArgument)
	}
	if p.limit < 0 || p.markerID < 0 {
		return nil, fmt.Errorf("list %s: limit %d, marker %d: %w", tb.name, p.limit, p.markerID, ErrInvalidArgument)
	}
	var b queryBuilder
	if filter != nil && !filter(&b) {
		return nil, nil
	}
	ks := keyset{table: tb.name, alias: tb.alias, col: col, desc: p.desc}
	rows, err := db.Query(ctx, ks.pageSQL(&b, `SELECT `+tb.selectList+tb.from, p.markerID, p.limit), b.args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", tb.name, translate(err, ErrNotFound))
	}
	defer rows.Close()
	out, err := tb.scanAll(rows, make([]T, 0, capHint(p.limit)), after)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", tb.name, err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", tb.name, translate(err, ErrNotFound))
	}
	if len(out) == 0 && p.markerID != 0 {
		var exists bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+tb.name+` WHERE id = $1)`, p.markerID).
			Scan(&exists); err != nil {
			return nil, fmt.Errorf("list %s: check marker %d: %w", tb.name, p.markerID, translate(err, ErrNotFound))
		}
		if !exists {
			return nil, fmt.Errorf("list %s: marker %d: %w", tb.name, p.markerID, ErrNotFound)
		}
	}
	return out, nil
}

// delete deletes the row with that UUID. ErrNotFound when there is none;
// a foreign key violation is inUse.
func (tb *table[T]) delete(ctx context.Context, db DBTX, ident string, inUse error) error {
	id, err := uuid.Parse(ident)
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", tb.what, ident, ErrNotFound)
	}
	tag, err := db.Exec(ctx, `DELETE FROM `+tb.name+` WHERE uuid = $1::uuid`, id.String())
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", tb.what, ident, translate(err, inUse))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete %s %s: %w", tb.what, ident, ErrNotFound)
	}
	return nil
}
