package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestOperations(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	n := mustNode(t, s, "op-node")
	op, err := s.CreateOperation(ctx, store.Operation{NodeUUID: n.UUID, Verb: "active",
		ConfigDrive: []byte(`{"meta_data":{"admin_pass":"x"}}`), DeploySteps: []byte(`[{"interface":"deploy"}]`)})
	if err != nil || op.ID == "" {
		t.Fatalf("create: %+v, %v", op, err)
	}
	got, err := s.Operation(ctx, op.ID)
	if err != nil || got.NodeUUID != n.UUID || got.Verb != "active" || got.CleanSteps != nil ||
		string(got.ConfigDrive) != `{"meta_data": {"admin_pass": "x"}}` || len(got.DeploySteps) == 0 {
		t.Fatalf("get: %+v (%s), %v", got, got.ConfigDrive, err)
	}
	if _, err := s.CreateOperation(ctx, store.Operation{NodeUUID: uuid.NewString(), Verb: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("create for a missing node: %v, want ErrNotFound", err)
	}
	if _, err := s.Operation(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}
	// Only the latest few records are kept.
	var last store.Operation
	for range 7 {
		if last, err = s.CreateOperation(ctx, store.Operation{NodeUUID: n.UUID, Verb: "clean"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Operation(ctx, op.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the oldest record survived pruning: %v", err)
	}
	if _, err := s.Operation(ctx, last.ID); err != nil {
		t.Errorf("latest record: %v", err)
	}
	if err := s.DeleteOperation(ctx, last.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Operation(ctx, last.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted record: %v", err)
	}
}
