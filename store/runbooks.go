package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Runbook is a named list of clean or service steps (Ironic's runbook,
// API 1.92) that a clean or service request may run instead of its own
// steps on a node whose traits name it. Steps is a JSON array of
// {interface, step, args, order} objects.
type Runbook struct {
	ID             int64
	UUID           string
	Name           string
	Extra          json.RawMessage
	Steps          json.RawMessage
	DisableRamdisk bool
	Public         bool
	Owner          *string
	CreatedAt      time.Time
	UpdatedAt      *time.Time
}

// runbookColumns are a Runbook's fields as columns of the runbooks table,
// read over "r". The steps column is written as a deploy template's.
func runbookColumns() []column[Runbook] {
	type rb = Runbook
	return []column[rb]{
		idCol(func(r *rb) *int64 { return &r.ID }),
		uuidCol("r", func(r *rb) *string { return &r.UUID }),
		textCol("name", func(r *rb) *string { return &r.Name }).sorted(),
		jsonCol("extra", func(r *rb) *json.RawMessage { return &r.Extra }),
		jsonArrayCol("steps", func(r *rb) *json.RawMessage { return &r.Steps }),
		boolCol("disable_ramdisk", func(r *rb) *bool { return &r.DisableRamdisk }),
		boolCol("public", func(r *rb) *bool { return &r.Public }).sorted(),
		optTextCol("owner", func(r *rb) **string { return &r.Owner }).sorted(),
		createdCol(func(r *rb) *time.Time { return &r.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(r *rb) **time.Time { return &r.UpdatedAt }).insertOnly().sorted(),
	}
}

// runbookTable is runbookColumns with the SQL they build.
var runbookTable = newTable("runbooks", "r", "runbook", "", runbookColumns())

// CreateRunbook inserts r and returns the stored row. A UUID (v4) is
// generated when r.UUID is empty. ErrExists when the UUID or the name is
// taken.
func (q Queries) CreateRunbook(ctx context.Context, r Runbook) (Runbook, error) {
	return runbookTable.create(ctx, q.db, &r, &r.UUID, nil)
}

// Runbook returns the runbook with that UUID. ErrNotFound when there is none.
func (q Queries) Runbook(ctx context.Context, uuid string) (Runbook, error) {
	return runbookTable.byUUID(ctx, q.db, uuid)
}

// RunbookByName returns the runbook with that name. ErrNotFound when there
// is none.
func (q Queries) RunbookByName(ctx context.Context, name string) (Runbook, error) {
	return runbookTable.byName(ctx, q.db, name)
}

// RunbookSortKeys returns the sort keys ListRunbooks accepts.
func RunbookSortKeys() []string { return slices.Clone(runbookTable.sortKeys) }

// RunbookFilter narrows ListRunbooks: a nil member does not filter.
type RunbookFilter struct {
	Public *bool
	// Owner keeps the runbooks of that owner; with OrPublic, public ones too
	// (what a project member may see).
	Owner    *string
	OrPublic bool
}

// ListRunbooks returns runbooks matching f ordered by (sortKey, id) ("" =
// id), descending when desc, after the runbook whose ID is markerID (0 =
// from the start), at most limit of them (0 = all).
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when markerID names no runbook.
func (q Queries) ListRunbooks(ctx context.Context, f RunbookFilter, limit int, markerID int64, sortKey string,
	desc bool) ([]Runbook, error) {
	return runbookTable.list(ctx, q.db, listPage{sortKey, desc, markerID, limit}, func(b *queryBuilder) bool {
		if f.Public != nil {
			b.cond("r.public = %s::boolean", *f.Public)
		}
		if f.Owner != nil {
			if f.OrPublic {
				b.cond("(r.owner = %s::text OR r.public)", *f.Owner)
			} else {
				b.cond("r.owner = %s::text", *f.Owner)
			}
		}
		return true
	}, nil)
}

// UpdateRunbook writes r's fields over the runbook with the same UUID, sets
// UpdatedAt and returns the stored row. ErrNotFound when there is none,
// ErrExists when the name is taken.
func (q Queries) UpdateRunbook(ctx context.Context, r Runbook) (Runbook, error) {
	return runbookTable.update(ctx, q.db, &r, &r.UUID, nil)
}

// DeleteRunbook deletes the runbook with that UUID. ErrNotFound when there
// is none.
func (q Queries) DeleteRunbook(ctx context.Context, uuid string) error {
	return runbookTable.delete(ctx, q.db, uuid, ErrInUse)
}
