package node_test

import (
	"slices"
	"testing"

	"github.com/ferric-project/ferric/node"
)

// Every in-progress state has a failure state, and only those do: a node the
// reconciler finds abandoned can always be failed.
func TestFailStateCoversInProgress(t *testing.T) {
	all := append(node.States(), node.ServiceState, node.ServiceWait, node.ServiceFail)
	for _, s := range all {
		fail, ok := s.FailState()
		if ok != s.InProgress() {
			t.Errorf("%q: FailState ok=%v, InProgress=%v", s, ok, s.InProgress())
		}
		if ok && fail.InProgress() {
			t.Errorf("%q fails to %q, itself in progress", s, fail)
		}
	}
}

func TestSets(t *testing.T) {
	tests := []struct {
		name string
		set  []node.ProvisionState
		is   func(node.ProvisionState) bool
	}{
		{"busy", node.BusyStates(), node.ProvisionState.Busy},
		{"wait", node.WaitStates(), node.ProvisionState.Wait},
		{"agent", node.AgentStates(), node.ProvisionState.AgentReachable},
		{"update-allowed", node.UpdateAllowedStates(), node.ProvisionState.UpdateAllowed},
		{"deletable", node.DeletableStates(), node.ProvisionState.Deletable},
		{"sync-excluded", node.SyncExcludedStates(), node.ProvisionState.SyncExcluded},
	}
	for _, tt := range tests {
		for _, s := range append(node.States(), node.ServiceState, node.ServiceWait) {
			if got, want := tt.is(s), slices.Contains(tt.set, s); got != want {
				t.Errorf("%s(%q) = %v, want %v", tt.name, s, got, want)
			}
		}
	}
	// Busy and wait states are disjoint, and every in-progress state is
	// excluded from the power sync.
	for _, s := range node.BusyStates() {
		if s.Wait() {
			t.Errorf("%q is both busy and a wait state", s)
		}
	}
	for _, s := range append(node.BusyStates(), node.WaitStates()...) {
		if !s.SyncExcluded() {
			t.Errorf("in-progress state %q is not excluded from the power sync", s)
		}
	}
}
