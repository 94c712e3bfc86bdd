package workflows_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/ferric-project/ferric/workflows"
)

// TestReplay replays one recorded history per workflow type (recorded from a
// real server by the cmd/ferric integration test with
// FERRIC_RECORD_HISTORIES=workflows/testdata). A change to a workflow that
// would break running executions fails here; gate such changes on
// contract.CurrentRevision (raised) and record new histories next to the old
// ones (*-r1.json are runs started at revision 1, without version markers).
func TestReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			workflows.Register(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
