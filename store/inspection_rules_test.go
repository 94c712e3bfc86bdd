package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestInspectionRules(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	main := "main"
	desc := "first"
	// Actions keep their members' order (a json column); absent conditions
	// are stored as an empty list.
	acts := `[{"op":"set-attribute","args":{"value":"{inventory[cpu][architecture]}","path":"/properties/cpu_arch"}}]`
	a, err := s.CreateInspectionRule(ctx, store.InspectionRule{Description: &desc, Phase: &main, Priority: 5,
		Actions: json.RawMessage(acts)})
	if err != nil || a.UUID == "" || string(a.Actions) != acts || string(a.Conditions) != "[]" ||
		a.CreatedAt.IsZero() || a.UpdatedAt != nil || a.Phase == nil || *a.Phase != "main" {
		t.Fatalf("create: %+v (%s %s), %v", a, a.Actions, a.Conditions, err)
	}
	if _, err := s.CreateInspectionRule(ctx, store.InspectionRule{UUID: a.UUID, Actions: json.RawMessage(`[]`)}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate UUID: %v, want ErrExists", err)
	}
	if _, err := s.CreateInspectionRule(ctx, store.InspectionRule{Actions: json.RawMessage(`{}`)}); err == nil {
		t.Error("actions that are not an array were stored")
	}
	b := must(s.CreateInspectionRule(ctx, store.InspectionRule{Priority: 9, Sensitive: true, Phase: &main,
		Conditions: json.RawMessage(`[{"op":"eq","args":[1,1]}]`), Actions: json.RawMessage(`[]`)}))(t)
	c := must(s.CreateInspectionRule(ctx, store.InspectionRule{Priority: 1, Actions: json.RawMessage(`[]`)}))(t)
	if c.Phase != nil {
		t.Errorf("phase written as nil reads %q", *c.Phase)
	}

	if got, err := s.InspectionRule(ctx, b.UUID); err != nil || !got.Sensitive || string(got.Conditions) != `[{"op":"eq","args":[1,1]}]` {
		t.Errorf("get: %+v, %v", got, err)
	}
	if _, err := s.InspectionRule(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	page, err := s.ListInspectionRules(ctx, store.ListInspectionRules{SortKey: "priority", Desc: true, Limit: 2})
	if err != nil || len(page) != 2 || page[0].UUID != b.UUID || page[1].UUID != a.UUID {
		t.Errorf("by priority: %+v, %v", page, err)
	}
	page, err = s.ListInspectionRules(ctx, store.ListInspectionRules{SortKey: "priority", Desc: true, MarkerID: a.ID})
	if err != nil || len(page) != 1 || page[0].UUID != c.UUID {
		t.Errorf("after the marker: %+v, %v", page, err)
	}
	page, err = s.ListInspectionRules(ctx, store.ListInspectionRules{Phase: &main})
	if err != nil || len(page) != 2 || page[0].UUID != a.UUID || page[1].UUID != b.UUID {
		t.Errorf("phase main: %+v, %v", page, err)
	}
	if _, err := s.ListInspectionRules(ctx, store.ListInspectionRules{SortKey: "actions"}); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("sort by actions: %v", err)
	}

	a.Priority, a.Description, a.Phase = 7, nil, nil
	a.Conditions = json.RawMessage(`[{"op":"is-true","args":{"value":true}}]`)
	up, err := s.UpdateInspectionRule(ctx, a)
	if err != nil || up.Priority != 7 || up.Description != nil || up.Phase != nil || up.UpdatedAt == nil ||
		string(up.Conditions) != `[{"op":"is-true","args":{"value":true}}]` || !up.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("update: %+v, %v", up, err)
	}
	if _, err := s.UpdateInspectionRule(ctx, store.InspectionRule{UUID: uuid.NewString(), Actions: json.RawMessage(`[]`)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
	if err := s.DeleteInspectionRule(ctx, a.UUID); err != nil {
		t.Errorf("delete: %v", err)
	}
	if err := s.DeleteInspectionRule(ctx, a.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete again: %v", err)
	}
}
