package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

const chassisSelect = `c.id, c.uuid::text, c.description, c.extra, c.created_at, c.updated_at`

func scanChassis(row pgx.Row) (Chassis, error) {
	var c Chassis
	err := row.Scan(&c.ID, &c.UUID, &c.Description, (*[]byte)(&c.Extra), &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// CreateChassis inserts c and returns the stored row. A UUID (v4) is
// generated when c.UUID is empty; absent Extra becomes {}. ErrExists for a
// duplicate UUID.
func (q Queries) CreateChassis(ctx context.Context, c Chassis) (Chassis, error) {
	if c.UUID == "" {
		c.UUID = uuid.NewString()
	} else if id, err := uuid.Parse(c.UUID); err == nil {
		c.UUID = id.String()
	} else {
		return Chassis{}, fmt.Errorf("create chassis %q: malformed uuid: %w", c.UUID, ErrInvalidArgument)
	}
	out, err := scanChassis(q.db.QueryRow(ctx, `INSERT INTO chassis AS c (uuid, description, extra)
		VALUES ($1::uuid, $2::text, $3::jsonb) RETURNING `+chassisSelect,
		c.UUID, c.Description, jsonObject(c.Extra)))
	if err != nil {
		return Chassis{}, fmt.Errorf("create chassis %s: %w", c.UUID, translate(err, ErrNotFound))
	}
	return out, nil
}

// Chassis returns the chassis with that UUID. ErrNotFound when there is none.
func (q Queries) Chassis(ctx context.Context, chassisUUID string) (Chassis, error) {
	id, err := uuid.Parse(chassisUUID)
	if err != nil {
		return Chassis{}, fmt.Errorf("get chassis %q: %w", chassisUUID, ErrNotFound)
	}
	c, err := scanChassis(q.db.QueryRow(ctx, `SELECT `+chassisSelect+` FROM chassis c WHERE c.uuid = $1::uuid`,
		id.String()))
	if err != nil {
		return Chassis{}, fmt.Errorf("get chassis %s: %w", chassisUUID, translate(err, ErrNotFound))
	}
	return c, nil
}

// chassisSortColumn resolves a ChassisSortKeys key.
func chassisSortColumn(key string) (sortColumn, bool) {
	switch key {
	case "", "id":
		return sortColumn{expr: "c.id"}, true
	case "uuid", "created_at":
		return sortColumn{expr: "c." + key}, true
	case "description", "updated_at":
		return sortColumn{expr: "c." + key, nullable: true}, true
	}
	return sortColumn{}, false
}

// ChassisSortKeys returns the sort keys ListChassis accepts.
func ChassisSortKeys() []string {
	return []string{"id", "uuid", "description", "created_at", "updated_at"}
}

// ListChassis returns chassis ordered by (sortKey, id) ("" = id), descending
// when desc, after the chassis whose ID is markerID (0 = from the start), at
// most limit of them (0 = all).
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when markerID names no chassis.
func (q Queries) ListChassis(ctx context.Context, limit int, markerID int64, sortKey string, desc bool) ([]Chassis, error) {
	col, ok := chassisSortColumn(sortKey)
	if !ok {
		return nil, fmt.Errorf("list chassis: sort key %q: %w", sortKey, ErrInvalidArgument)
	}
	if err := (page{limit: limit, markerID: markerID}).check(); err != nil {
		return nil, fmt.Errorf("list chassis: %w", err)
	}
	var b queryBuilder
	ks := keyset{table: "chassis", alias: "c", col: col, desc: desc}
	sql := ks.pageSQL(&b, `SELECT `+chassisSelect+` FROM chassis c`, markerID, limit)
	rows, err := q.db.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("list chassis: %w", translate(err, ErrNotFound))
	}
	defer rows.Close()
	var out []Chassis
	for rows.Next() {
		c, err := scanChassis(rows)
		if err != nil {
			return nil, fmt.Errorf("list chassis: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list chassis: %w", translate(err, ErrNotFound))
	}
	if len(out) == 0 && markerID != 0 {
		if err := q.checkMarker(ctx, "chassis", markerID); err != nil {
			return nil, fmt.Errorf("list chassis: %w", err)
		}
	}
	return out, nil
}

// UpdateChassis writes c's Description and Extra over the chassis with the
// same UUID, sets UpdatedAt and returns the stored row. ErrNotFound when
// there is none.
func (q Queries) UpdateChassis(ctx context.Context, c Chassis) (Chassis, error) {
	id, err := uuid.Parse(c.UUID)
	if err != nil {
		return Chassis{}, fmt.Errorf("update chassis %q: %w", c.UUID, ErrNotFound)
	}
	out, err := scanChassis(q.db.QueryRow(ctx, `UPDATE chassis AS c
		SET description = $2::text, extra = $3::jsonb, updated_at = now()
		WHERE c.uuid = $1::uuid RETURNING `+chassisSelect,
		id.String(), c.Description, jsonObject(c.Extra)))
	if err != nil {
		return Chassis{}, fmt.Errorf("update chassis %s: %w", c.UUID, translate(err, ErrNotFound))
	}
	return out, nil
}

// DeleteChassis deletes the chassis with that UUID. ErrNotFound when there is
// none, ErrInUse while nodes reference it.
func (q Queries) DeleteChassis(ctx context.Context, chassisUUID string) error {
	id, err := uuid.Parse(chassisUUID)
	if err != nil {
		return fmt.Errorf("delete chassis %q: %w", chassisUUID, ErrNotFound)
	}
	tag, err := q.db.Exec(ctx, `DELETE FROM chassis WHERE uuid = $1::uuid`, id.String())
	if err != nil {
		return fmt.Errorf("delete chassis %s: %w", chassisUUID, translate(err, ErrInUse))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete chassis %s: %w", chassisUUID, ErrNotFound)
	}
	return nil
}
