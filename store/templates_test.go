package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestDeployTemplates(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	// Step arguments keep their members' order (a json column).
	steps := `[{"interface":"raid","step":"apply_configuration","args":{"zeta":1,"alpha":{"b":2,"a":1}},"priority":10}]`
	a, err := s.CreateDeployTemplate(ctx, store.DeployTemplate{Name: "CUSTOM_A", Steps: json.RawMessage(steps)})
	if err != nil || a.UUID == "" || string(a.Steps) != steps || string(a.Extra) != "{}" || a.CreatedAt.IsZero() {
		t.Fatalf("create: %+v (%s), %v", a, a.Steps, err)
	}
	if _, err := s.CreateDeployTemplate(ctx, store.DeployTemplate{Name: "CUSTOM_A", Steps: json.RawMessage(`[]`)}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}
	if _, err := s.CreateDeployTemplate(ctx, store.DeployTemplate{UUID: a.UUID, Name: "CUSTOM_Z", Steps: json.RawMessage(`[]`)}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate UUID: %v, want ErrExists", err)
	}
	if _, err := s.CreateDeployTemplate(ctx, store.DeployTemplate{Name: "CUSTOM_OBJ", Steps: json.RawMessage(`{}`)}); err == nil {
		t.Error("steps that are not an array were stored")
	}
	b := must(s.CreateDeployTemplate(ctx, store.DeployTemplate{Name: "CUSTOM_B", Steps: json.RawMessage(`[]`),
		Extra: json.RawMessage(`{"k":"v"}`)}))(t)
	c := must(s.CreateDeployTemplate(ctx, store.DeployTemplate{Name: "CUSTOM_C", Steps: json.RawMessage(`[]`)}))(t)

	if got, err := s.DeployTemplateByName(ctx, "CUSTOM_B"); err != nil || got.UUID != b.UUID {
		t.Errorf("by name: %+v, %v", got, err)
	}
	if _, err := s.DeployTemplate(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	named, err := s.DeployTemplatesNamed(ctx, []string{"CUSTOM_C", "CUSTOM_A", "CUSTOM_NONE"})
	if err != nil || len(named) != 2 || named[0].UUID != a.UUID || named[1].UUID != c.UUID {
		t.Errorf("named (creation order): %+v, %v", named, err)
	}
	page, err := s.ListDeployTemplates(ctx, 2, a.ID, "name", true)
	if err != nil || len(page) != 0 {
		t.Errorf("names after CUSTOM_A descending: %+v, %v", page, err)
	}
	page, err = s.ListDeployTemplates(ctx, 2, 0, "", false)
	if err != nil || len(page) != 2 || page[0].UUID != a.UUID || page[1].UUID != b.UUID {
		t.Errorf("first page: %+v, %v", page, err)
	}

	b.Name, b.Steps = "CUSTOM_B2", json.RawMessage(steps)
	up, err := s.UpdateDeployTemplate(ctx, b)
	if err != nil || up.Name != "CUSTOM_B2" || string(up.Steps) != steps || up.UpdatedAt == nil {
		t.Errorf("update: %+v, %v", up, err)
	}
	b.Name = "CUSTOM_C"
	if _, err := s.UpdateDeployTemplate(ctx, b); !errors.Is(err, store.ErrExists) {
		t.Errorf("rename onto a taken name: %v", err)
	}
	if err := s.DeleteDeployTemplate(ctx, c.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDeployTemplate(ctx, c.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}

	// An operation keeps the steps and names of the templates it matched.
	n := mustNode(t, s, "tmpl-node")
	op := must(s.CreateOperation(ctx, store.Operation{NodeUUID: n.UUID, Verb: "active",
		TemplateSteps: json.RawMessage(steps), TemplateNames: []string{"CUSTOM_A"}}))(t)
	got := must(s.Operation(ctx, op.ID))(t)
	if string(got.TemplateSteps) != steps || !slices.Equal(got.TemplateNames, []string{"CUSTOM_A"}) {
		t.Errorf("operation templates %s %q", got.TemplateSteps, got.TemplateNames)
	}
}

func TestBIOSSettings(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	n := mustNode(t, s, "bios-node")
	val := func(v string) *string { return &v }
	if got, err := s.BIOSSettings(ctx, n.UUID); err != nil || len(got) != 0 {
		t.Fatalf("none yet: %+v, %v", got, err)
	}
	if _, err := s.BIOSSettings(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing node: %v", err)
	}
	first := []drivers.BIOSSetting{
		{Name: "B", Value: val("1"), AttributeType: val("Integer"), LowerBound: ptr(int64(0)), UpperBound: ptr(int64(9))},
		{Name: "A", Value: val("x"), AllowableValues: []string{"x", "y"}, ReadOnly: ptr(false)},
		{Name: "C", Value: nil},
	}
	if err := s.ApplyBIOSChange(ctx, n.UUID, drivers.BIOSChange{Settings: first}); err != nil {
		t.Fatal(err)
	}
	got := must(s.BIOSSettings(ctx, n.UUID))(t)
	if len(got) != 3 || got[0].Name != "A" || !slices.Equal(got[0].AllowableValues, []string{"x", "y"}) ||
		got[1].Name != "B" || *got[1].UpperBound != 9 || got[2].Value != nil || got[0].UpdatedAt != nil {
		t.Fatalf("after the first apply: %+v", got)
	}
	// B's value is unchanged (its registry fields stay even though not
	// given again), A changes (its registry fields become the given ones),
	// C goes, D comes.
	second := []drivers.BIOSSetting{{Name: "B", Value: val("1")}, {Name: "A", Value: val("y")}, {Name: "D", Value: val("4")}}
	if err := s.ApplyBIOSChange(ctx, n.UUID, drivers.BIOSChange{Settings: second}); err != nil {
		t.Fatal(err)
	}
	got = must(s.BIOSSettings(ctx, n.UUID))(t)
	names := []string{}
	for _, g := range got {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, []string{"A", "B", "D"}) || *got[0].Value != "y" || got[0].AllowableValues != nil ||
		got[0].UpdatedAt == nil || got[1].AttributeType == nil || *got[1].UpperBound != 9 || got[1].UpdatedAt != nil {
		t.Errorf("after the sync: %+v", got)
	}
	one, err := s.BIOSSettingNamed(ctx, n.UUID, "D")
	if err != nil || *one.Value != "4" {
		t.Errorf("named: %+v, %v", one, err)
	}
	if _, err := s.BIOSSettingNamed(ctx, n.UUID, "C"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted setting: %v", err)
	}
	if err := s.ApplyBIOSChange(ctx, n.UUID, drivers.BIOSChange{Reset: true}); err != nil {
		t.Fatal(err)
	}
	if got := must(s.BIOSSettings(ctx, n.UUID))(t); len(got) != 0 {
		t.Errorf("after a reset: %+v", got)
	}
	if err := s.ApplyBIOSChange(ctx, uuid.NewString(), drivers.BIOSChange{Reset: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reset of a missing node: %v", err)
	}

	// RAID information lands on the node.
	if err := s.SetRAIDInfo(ctx, n.UUID, json.RawMessage(`{"logical_disks":[]}`), json.RawMessage(`{"local_gb":5}`)); err != nil {
		t.Fatal(err)
	}
	after := must(s.Node(ctx, n.UUID))(t)
	if string(after.RAIDConfig) != `{"logical_disks": []}` || string(after.Properties) != `{"local_gb": 5}` ||
		after.Version == n.Version {
		t.Errorf("node after SetRAIDInfo: %s %s version %d", after.RAIDConfig, after.Properties, after.Version)
	}
	// Deleting the node deletes its settings.
	if err := s.ApplyBIOSChange(ctx, n.UUID, drivers.BIOSChange{Settings: first}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNode(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM bios_settings`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("settings left after the node: %d, %v", rows, err)
	}
}
