package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// chassisColumns are a Chassis's fields as columns of the chassis table,
// read over "c".
func chassisColumns() []column[Chassis] {
	return []column[Chassis]{
		idCol(func(c *Chassis) *int64 { return &c.ID }),
		uuidCol("c", func(c *Chassis) *string { return &c.UUID }),
		optTextCol("description", func(c *Chassis) **string { return &c.Description }).sorted(),
		jsonCol("extra", func(c *Chassis) *json.RawMessage { return &c.Extra }),
		createdCol(func(c *Chassis) *time.Time { return &c.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(c *Chassis) **time.Time { return &c.UpdatedAt }).insertOnly().sorted(),
	}
}

// chassisTable is chassisColumns with the SQL they build.
var chassisTable = newTable("chassis", "c", "chassis", "", chassisColumns())

// CreateChassis inserts c and returns the stored row: every field as given
// except ID. A UUID (v4) is generated when c.UUID is empty, CreatedAt when
// zero is now, and absent Extra becomes {}. ErrExists for a duplicate UUID.
func (q Queries) CreateChassis(ctx context.Context, c Chassis) (Chassis, error) {
	return chassisTable.create(ctx, q.db, &c, &c.UUID, nil)
}

// Chassis returns the chassis with that UUID. ErrNotFound when there is none.
func (q Queries) Chassis(ctx context.Context, chassisUUID string) (Chassis, error) {
	return chassisTable.byUUID(ctx, q.db, chassisUUID)
}

// ChassisSortKeys returns the sort keys ListChassis accepts.
func ChassisSortKeys() []string { return slices.Clone(chassisTable.sortKeys) }

// ListChassis returns chassis ordered by (sortKey, id) ("" = id), descending
// when desc, after the chassis whose ID is markerID (0 = from the start), at
// most limit of them (0 = all).
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when markerID names no chassis.
func (q Queries) ListChassis(ctx context.Context, limit int, markerID int64, sortKey string, desc bool) ([]Chassis, error) {
	return chassisTable.list(ctx, q.db, listPage{sortKey, desc, markerID, limit}, nil, nil)
}

// UpdateChassis writes c's Description and Extra over the chassis with the
// same UUID, sets UpdatedAt and returns the stored row. ErrNotFound when
// there is none.
func (q Queries) UpdateChassis(ctx context.Context, c Chassis) (Chassis, error) {
	return chassisTable.update(ctx, q.db, &c, &c.UUID, nil)
}

// DeleteChassis deletes the chassis with that UUID. ErrNotFound when there is
// none, ErrInUse while nodes reference it.
func (q Queries) DeleteChassis(ctx context.Context, chassisUUID string) error {
	return chassisTable.delete(ctx, q.db, chassisUUID, ErrInUse)
}
