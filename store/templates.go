package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// DeployTemplate is a named list of deploy steps (Ironic's deploy
// template, API 1.55). Steps is a JSON array of {interface, step, args,
// priority} objects.
type DeployTemplate struct {
	ID        int64
	UUID      string
	Name      string
	Extra     json.RawMessage
	Steps     json.RawMessage
	CreatedAt time.Time
	UpdatedAt *time.Time
}

// templateColumns are a DeployTemplate's fields as columns of the
// deploy_templates table, read over "t".
func templateColumns() []column[DeployTemplate] {
	type dt = DeployTemplate
	return []column[dt]{
		idCol(func(t *dt) *int64 { return &t.ID }),
		uuidCol("t", func(t *dt) *string { return &t.UUID }),
		textCol("name", func(t *dt) *string { return &t.Name }).sorted(),
		jsonCol("extra", func(t *dt) *json.RawMessage { return &t.Extra }),
		jsonArrayCol("steps", func(t *dt) *json.RawMessage { return &t.Steps }),
		createdCol(func(t *dt) *time.Time { return &t.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(t *dt) **time.Time { return &t.UpdatedAt }).insertOnly().sorted(),
	}
}

// jsonArray returns raw as a string argument, with "[]" for an absent value.
func jsonArray(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "[]"
	}
	return string(raw)
}

// templateTable is templateColumns with the SQL they build.
var templateTable = newTable("deploy_templates", "t", "deploy template", "", templateColumns())

// CreateDeployTemplate inserts t and returns the stored row. A UUID (v4) is
// generated when t.UUID is empty. ErrExists when the UUID or the name is
// taken.
func (q Queries) CreateDeployTemplate(ctx context.Context, t DeployTemplate) (DeployTemplate, error) {
	return templateTable.create(ctx, q.db, &t, &t.UUID, nil)
}

// DeployTemplate returns the deploy template with that UUID. ErrNotFound
// when there is none.
func (q Queries) DeployTemplate(ctx context.Context, uuid string) (DeployTemplate, error) {
	return templateTable.byUUID(ctx, q.db, uuid)
}

// DeployTemplateByName returns the deploy template with that name.
// ErrNotFound when there is none.
func (q Queries) DeployTemplateByName(ctx context.Context, name string) (DeployTemplate, error) {
	return templateTable.byName(ctx, q.db, name)
}

// DeployTemplateSortKeys returns the sort keys ListDeployTemplates accepts.
func DeployTemplateSortKeys() []string { return slices.Clone(templateTable.sortKeys) }

// ListDeployTemplates returns deploy templates ordered by (sortKey, id)
// ("" = id), descending when desc, after the template whose ID is markerID
// (0 = from the start), at most limit of them (0 = all).
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when markerID names no template.
func (q Queries) ListDeployTemplates(ctx context.Context, limit int, markerID int64, sortKey string,
	desc bool) ([]DeployTemplate, error) {
	return templateTable.list(ctx, q.db, listPage{sortKey, desc, markerID, limit}, nil, nil)
}

// DeployTemplatesNamed returns the deploy templates whose names are among
// names, in creation order (Ironic's DeployTemplate.list_by_names).
func (q Queries) DeployTemplatesNamed(ctx context.Context, names []string) ([]DeployTemplate, error) {
	if len(names) == 0 {
		return nil, nil
	}
	return templateTable.list(ctx, q.db, listPage{}, func(b *queryBuilder) bool {
		b.cond("t.name = ANY(%s::text[])", names)
		return true
	}, nil)
}

// UpdateDeployTemplate writes t's Name, Extra and Steps over the template
// with the same UUID, sets UpdatedAt and returns the stored row.
// ErrNotFound when there is none, ErrExists when the name is taken.
func (q Queries) UpdateDeployTemplate(ctx context.Context, t DeployTemplate) (DeployTemplate, error) {
	return templateTable.update(ctx, q.db, &t, &t.UUID, nil)
}

// DeleteDeployTemplate deletes the deploy template with that UUID.
// ErrNotFound when there is none.
func (q Queries) DeleteDeployTemplate(ctx context.Context, uuid string) error {
	if err := templateTable.delete(ctx, q.db, uuid, ErrInUse); err != nil {
		return fmt.Errorf("%w", err)
	}
	return nil
}
