package agent_test

import (
	"context"
	"testing"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/agent"
)

func TestDirect(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tests := []struct {
		name      string
		def       bool
		node      *bool
		wantClean bool // Clean returns done = !wantClean
	}{
		{"default on", true, nil, true},
		{"default off", false, nil, false},
		{"node disables", true, &no, false},
		{"node enables", false, &yes, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := drivers.NewRegistry()
			agent.Register(r, agent.Config{AutomatedClean: tt.def})
			d, err := r.Deploy(agent.Name, drivers.Node{UUID: "n", AutomatedClean: tt.node})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if done, err := d.Deploy(ctx); done || err != nil {
				t.Errorf("Deploy = %v, %v; want not done (the agent writes)", done, err)
			}
			if done, err := d.Clean(ctx); done == tt.wantClean || err != nil {
				t.Errorf("Clean = %v, %v; want done=%v", done, err, !tt.wantClean)
			}
			if err := d.TearDown(ctx); err != nil {
				t.Errorf("TearDown = %v", err)
			}
		})
	}
}
