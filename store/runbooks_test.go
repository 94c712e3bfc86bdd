package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestRunbooks(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	steps := `[{"interface":"bios","step":"apply_configuration","args":{"zeta":1,"alpha":2},"order":1}]`
	proj := "proj-a"
	a, err := s.CreateRunbook(ctx, store.Runbook{Name: "CUSTOM_RB_A", Steps: json.RawMessage(steps), Owner: &proj})
	if err != nil || a.UUID == "" || string(a.Steps) != steps || string(a.Extra) != "{}" || a.Public ||
		a.DisableRamdisk || a.Owner == nil || *a.Owner != proj || a.UpdatedAt != nil {
		t.Fatalf("create: %+v (%s), %v", a, a.Steps, err)
	}
	if _, err := s.CreateRunbook(ctx, store.Runbook{Name: "CUSTOM_RB_A", Steps: json.RawMessage(`[]`)}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}
	if _, err := s.CreateRunbook(ctx, store.Runbook{Name: "CUSTOM_RB_OBJ", Steps: json.RawMessage(`{}`)}); err == nil {
		t.Error("steps that are not an array were stored")
	}
	b := must(s.CreateRunbook(ctx, store.Runbook{Name: "CUSTOM_RB_B", Steps: json.RawMessage(`[]`), Public: true,
		DisableRamdisk: true}))(t)
	if got, err := s.RunbookByName(ctx, "CUSTOM_RB_B"); err != nil || got.UUID != b.UUID || !got.Public || !got.DisableRamdisk {
		t.Errorf("by name: %+v, %v", got, err)
	}
	if _, err := s.Runbook(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	yes := true
	names := func(f store.RunbookFilter) []string {
		rbs, err := s.ListRunbooks(ctx, f, 0, 0, "name", false)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rbs {
			out = append(out, r.Name)
		}
		return out
	}
	if got := names(store.RunbookFilter{}); len(got) != 2 {
		t.Errorf("all: %q", got)
	}
	if got := names(store.RunbookFilter{Public: &yes}); len(got) != 1 || got[0] != "CUSTOM_RB_B" {
		t.Errorf("public: %q", got)
	}
	if got := names(store.RunbookFilter{Owner: &proj}); len(got) != 1 || got[0] != "CUSTOM_RB_A" {
		t.Errorf("owner: %q", got)
	}
	if got := names(store.RunbookFilter{Owner: &proj, OrPublic: true}); len(got) != 2 {
		t.Errorf("owner or public: %q", got)
	}
	a.Name, a.Public = "CUSTOM_RB_A2", true
	up, err := s.UpdateRunbook(ctx, a)
	if err != nil || up.Name != "CUSTOM_RB_A2" || !up.Public || up.UpdatedAt == nil {
		t.Errorf("update: %+v, %v", up, err)
	}
	a.Name = "CUSTOM_RB_B"
	if _, err := s.UpdateRunbook(ctx, a); !errors.Is(err, store.ErrExists) {
		t.Errorf("rename onto another: %v", err)
	}
	if err := s.DeleteRunbook(ctx, a.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRunbook(ctx, a.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
}
