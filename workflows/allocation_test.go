package workflows_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

func strp(s string) *string { return &s }

func TestAllocate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		alloc     store.Allocation
		busy      bool // a power action is in flight on the only suitable node
		wantState node.AllocationState
		wantError string // last_error, after "Failed to process allocation <uuid>: "
	}{
		{name: "reserves a matching node", alloc: store.Allocation{ResourceClass: strp("gold"),
			Traits: []string{"CUSTOM_GPU"}}, wantState: node.AllocationActive},
		{name: "no node of the class", alloc: store.Allocation{ResourceClass: strp("bronze")},
			wantState: node.AllocationError, wantError: "no available nodes match the resource class bronze."},
		{name: "no node with the traits", alloc: store.Allocation{ResourceClass: strp("gold"),
			Traits: []string{"CUSTOM_GPU", "CUSTOM_NOPE"}},
			wantState: node.AllocationError, wantError: "no suitable nodes have the requested traits CUSTOM_GPU, CUSTOM_NOPE."},
		{name: "candidates unavailable", alloc: store.Allocation{ResourceClass: strp("gold"), CandidateNodes: []string{"manageable"}},
			wantState: node.AllocationError,
			wantError: "none of the requested nodes are available and match the resource class gold."},
		{name: "owner owns nothing", alloc: store.Allocation{ResourceClass: strp("gold"), Owner: strp("proj")},
			wantState: node.AllocationError, wantError: "no available nodes match the resource class gold."},
		{name: "suitable node stays busy", alloc: store.Allocation{ResourceClass: strp("gold")}, busy: true,
			wantState: node.AllocationError, wantError: "could not reserve any of 1 suitable nodes."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, nil)
			ctx := context.Background()
			gpu := createNode(t, env.st, nodeSpec{state: node.Available, power: node.PowerOn})
			gpu.ResourceClass, gpu.Traits = strp("gold"), []string{"CUSTOM_GPU"}
			if _, err := env.st.UpdateNode(ctx, gpu); err != nil {
				t.Fatal(err)
			}
			if tt.busy {
				on := node.PowerOn
				if _, err := env.st.SetPower(ctx, store.PowerUpdate{UUID: gpu.UUID, Target: &on}); err != nil {
					t.Fatal(err)
				}
			}
			m := createNode(t, env.st, nodeSpec{state: node.Manageable, power: node.PowerOn})
			for i, c := range tt.alloc.CandidateNodes {
				if c == "manageable" {
					tt.alloc.CandidateNodes[i] = m.UUID
				}
			}
			al, err := env.st.CreateAllocation(ctx, tt.alloc)
			if err != nil {
				t.Fatal(err)
			}
			env.ExecuteWorkflow(contract.AllocateName, contract.AllocateInput{AllocationUUID: al.UUID,
				Revision: contract.CurrentRevision})
			err = env.GetWorkflowError()
			got, gerr := env.st.Allocation(ctx, al.UUID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if got.State != tt.wantState {
				t.Fatalf("allocation is %s (%v), want %s; workflow error %v", got.State, got.LastError, tt.wantState, err)
			}
			if tt.wantState == node.AllocationActive {
				if err != nil || got.NodeUUID == nil || *got.NodeUUID != gpu.UUID {
					t.Errorf("active on %v, err %v; want node %s", got.NodeUUID, err, gpu.UUID)
				}
				return
			}
			want := "Failed to process allocation " + al.UUID + ": " + tt.wantError
			if got.LastError == nil || *got.LastError != want || got.NodeUUID != nil {
				t.Errorf("last_error = %v, want %q", got.LastError, want)
			}
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) || ae.Type() != contract.ErrTypeAllocationFailed || !strings.Contains(ae.Message(), tt.wantError) {
				t.Errorf("workflow error = %v, want %s", err, contract.ErrTypeAllocationFailed)
			}
		})
	}
}

// A deleted allocation ends its run quietly; so does one that is already
// active (a second start of the same allocation).
func TestAllocateGone(t *testing.T) {
	t.Parallel()
	env := newEnv(t, nil)
	env.ExecuteWorkflow(contract.AllocateName, contract.AllocateInput{AllocationUUID: "8d9c0e2a-5f6b-4c3d-9e8f-7a6b5c4d3e2f"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error %v", err)
	}
}
