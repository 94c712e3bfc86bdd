package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// sortColumn is a whitelisted sort key: the SQL column it orders by and
// whether that column can be NULL (which needs a NULL-aware keyset).
type sortColumn struct {
	expr     string // qualified column, e.g. "n.name"
	nullable bool
}

// keyset builds the ORDER BY and "after the marker row" predicate of a keyset
// page over (col, id). Ascending pages sort NULLs last and descending ones
// NULLs first, so that a descending order is the exact reverse of the
// ascending one, as in Postgres's defaults.
type keyset struct {
	table string // e.g. "nodes"
	alias string // alias of table in the main query, e.g. "n"
	col   sortColumn
	desc  bool
}

// markerCTE returns a CTE named m holding the marker row's sort key (k) and
// id; the main query cross joins it so that a missing marker yields no rows.
// param is the placeholder of the marker id, e.g. "$4".
func (k keyset) markerCTE(param string) string {
	col := strings.TrimPrefix(k.col.expr, k.alias+".")
	return fmt.Sprintf("m AS (SELECT %s AS k, id FROM %s WHERE id = %s::bigint)", col, k.table, param)
}

// after returns the predicate "row comes after the marker row m".
func (k keyset) after() string {
	c, id := k.col.expr, k.alias+".id"
	op := ">"
	if k.desc {
		op = "<"
	}
	if c == id {
		return fmt.Sprintf("%s %s m.id", id, op)
	}
	if !k.col.nullable {
		return fmt.Sprintf("(%s, %s) %s (m.k, m.id)", c, id, op)
	}
	if k.desc { // NULLS FIRST
		return fmt.Sprintf("(CASE WHEN m.k IS NULL THEN %[1]s IS NOT NULL OR %[2]s < m.id "+
			"ELSE %[1]s < m.k OR (%[1]s = m.k AND %[2]s < m.id) END)", c, id)
	}
	// NULLS LAST
	return fmt.Sprintf("(CASE WHEN m.k IS NULL THEN %[1]s IS NULL AND %[2]s > m.id "+
		"ELSE %[1]s IS NULL OR %[1]s > m.k OR (%[1]s = m.k AND %[2]s > m.id) END)", c, id)
}

// orderBy returns the ORDER BY list.
func (k keyset) orderBy() string {
	id := k.alias + ".id"
	if k.desc {
		if k.col.expr == id {
			return id + " DESC"
		}
		return fmt.Sprintf("%s DESC NULLS FIRST, %s DESC", k.col.expr, id)
	}
	if k.col.expr == id {
		return id
	}
	return fmt.Sprintf("%s ASC NULLS LAST, %s", k.col.expr, id)
}

// queryBuilder accumulates WHERE conditions and their positional arguments.
type queryBuilder struct {
	where []string
	args  []any
}

// arg appends v and returns its placeholder ("$n").
func (b *queryBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// cond adds a condition; format has one %s per placeholder argument.
func (b *queryBuilder) cond(format string, vals ...any) {
	ph := make([]any, len(vals))
	for i, v := range vals {
		ph[i] = b.arg(v)
	}
	b.where = append(b.where, fmt.Sprintf(format, ph...))
}

// uuidCond adds the condition "expr = s" for the UUID s and reports
// whether s is one: when it is not, no row can match and the caller's
// filter returns false.
func (b *queryBuilder) uuidCond(expr, s string) bool {
	id, err := uuid.Parse(s)
	if err != nil {
		return false
	}
	b.cond(expr+" = %s::uuid", id.String())
	return true
}

// projectCond keeps the rows of the nodes (aliased n) that project owns or
// leases, when project is not empty.
func (b *queryBuilder) projectCond(project string) {
	if project != "" {
		b.cond("(n.owner = %[1]s::text OR n.lessee = %[1]s::text)", project)
	}
}

// whereClause returns " WHERE a AND b" or "".
func (b *queryBuilder) whereClause() string {
	if len(b.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(b.where, " AND ")
}

// capHint sizes a result slice: the page size when there is one (bounded, as
// pages are often short), else room for a typical fleet listing.
func capHint(limit int) int {
	if limit > 0 {
		return min(limit, 1024)
	}
	return 256
}

// pageSQL completes "SELECT ... FROM ..." into one page of a keyset-paginated
// list: rows after the marker row (markerID 0: from the start) matching b's
// conditions, in k's order, at most limit of them (0: all).
func (k keyset) pageSQL(b *queryBuilder, selectFrom string, markerID int64, limit int) string {
	sql := selectFrom
	if markerID != 0 {
		sql = `WITH ` + k.markerCTE(b.arg(markerID)) + ` ` + sql + `, m`
		b.where = append(b.where, k.after())
	}
	sql += b.whereClause() + ` ORDER BY ` + k.orderBy()
	if limit > 0 {
		sql += ` LIMIT ` + b.arg(limit)
	}
	return sql
}
