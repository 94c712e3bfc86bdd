package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// InspectionRule is a rule the inspection pipeline applies to a node's
// inspection data (Ironic's inspection rule, API 1.96). Conditions and
// Actions are JSON arrays of {op, args, ...} objects as the client sent
// them; Phase is nil when a PATCH removed it (Ironic stores NULL then).
type InspectionRule struct {
	ID          int64
	UUID        string
	Priority    int32
	Description *string
	Sensitive   bool
	Phase       *string
	Scope       *string
	Conditions  json.RawMessage
	Actions     json.RawMessage
	CreatedAt   time.Time
	UpdatedAt   *time.Time
}

// inspectionRuleColumns are an InspectionRule's fields as columns of the
// inspection_rules table, read over "r". Every column but the JSON lists
// is a sort key, as Ironic's.
func inspectionRuleColumns() []column[InspectionRule] {
	type ir = InspectionRule
	return []column[ir]{
		idCol(func(r *ir) *int64 { return &r.ID }),
		uuidCol("r", func(r *ir) *string { return &r.UUID }),
		valueCol("priority", "integer", false, func(r *ir) *int32 { return &r.Priority }).sorted(),
		optTextCol("description", func(r *ir) **string { return &r.Description }).sorted(),
		boolCol("sensitive", func(r *ir) *bool { return &r.Sensitive }).sorted(),
		optTextCol("phase", func(r *ir) **string { return &r.Phase }).sorted(),
		optTextCol("scope", func(r *ir) **string { return &r.Scope }).sorted(),
		jsonArrayCol("conditions", func(r *ir) *json.RawMessage { return &r.Conditions }),
		jsonArrayCol("actions", func(r *ir) *json.RawMessage { return &r.Actions }),
		createdCol(func(r *ir) *time.Time { return &r.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(r *ir) **time.Time { return &r.UpdatedAt }).insertOnly().sorted(),
	}
}

// inspectionRuleTable is inspectionRuleColumns with the SQL they build.
var inspectionRuleTable = newTable("inspection_rules", "r", "inspection rule", "", inspectionRuleColumns())

// CreateInspectionRule inserts r and returns the stored row. A UUID (v4)
// is generated when r.UUID is empty. ErrExists when the UUID is taken.
func (q Queries) CreateInspectionRule(ctx context.Context, r InspectionRule) (InspectionRule, error) {
	return inspectionRuleTable.create(ctx, q.db, &r, &r.UUID, nil)
}

// InspectionRule returns the inspection rule with that UUID. ErrNotFound
// when there is none.
func (q Queries) InspectionRule(ctx context.Context, uuid string) (InspectionRule, error) {
	return inspectionRuleTable.byUUID(ctx, q.db, uuid)
}

// InspectionRuleSortKeys returns the sort keys ListInspectionRules accepts.
func InspectionRuleSortKeys() []string { return slices.Clone(inspectionRuleTable.sortKeys) }

// ListInspectionRules is what ListInspectionRules selects and how it pages.
type ListInspectionRules struct {
	// Phase, when not nil, keeps the rules of that phase only.
	Phase *string
	// SortKey is one of InspectionRuleSortKeys ("" = id), Desc its direction.
	SortKey string
	Desc    bool
	// MarkerID: the rules after this one in sort order (0 = from the start).
	MarkerID int64
	// Limit is the page size (0 = all).
	Limit int
}

// ListInspectionRules returns one page of inspection rules ordered by
// (SortKey, id).
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when MarkerID names no rule.
func (q Queries) ListInspectionRules(ctx context.Context, f ListInspectionRules) ([]InspectionRule, error) {
	var filter func(b *queryBuilder) bool
	if f.Phase != nil {
		filter = func(b *queryBuilder) bool {
			b.cond("r.phase = %s::text", *f.Phase)
			return true
		}
	}
	return inspectionRuleTable.list(ctx, q.db, listPage{f.SortKey, f.Desc, f.MarkerID, f.Limit}, filter, nil)
}

// UpdateInspectionRule writes r's priority, description, sensitive, phase,
// scope, conditions and actions over the rule with the same UUID, sets
// UpdatedAt and returns the stored row. ErrNotFound when there is none.
func (q Queries) UpdateInspectionRule(ctx context.Context, r InspectionRule) (InspectionRule, error) {
	return inspectionRuleTable.update(ctx, q.db, &r, &r.UUID, nil)
}

// DeleteInspectionRule deletes the inspection rule with that UUID.
// ErrNotFound when there is none.
func (q Queries) DeleteInspectionRule(ctx context.Context, uuid string) error {
	return inspectionRuleTable.delete(ctx, q.db, uuid, ErrInUse)
}
