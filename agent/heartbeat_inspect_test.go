package agent

import (
	"testing"

	"github.com/ferric-project/ferric/agent/wire"
)

// TestAgentPostsInspectionOnHeartbeat: the lookup found the node still
// inspecting (the ramdisk booted before the workflow recorded inspect
// wait); the heartbeat answer that says inspect wait has the agent post
// its inventory, once.
func TestAgentPostsInspectionOnHeartbeat(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.state = "inspecting"
	api.hbStates = []string{"inspecting", "inspecting", wire.StateInspectWait}
	inspectingAgent(t, api, 1, 4)
}

// TestAgentRetriesInspectionPostOnHeartbeat: a post that failed on the
// server's side through all its retries is sent again when a later
// heartbeat answer still says inspect wait, until it is accepted; then no
// more.
func TestAgentRetriesInspectionPostOnHeartbeat(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, lookupState string
		status            []int
		posts             int
	}{
		// The lookup's post: 5 attempts, all 5xx; the next heartbeat's is accepted.
		{"after the lookup's post failed", wire.StateInspectWait, []int{503, 503, 503, 503, 503}, 6},
		// The first heartbeat's post fails through its retries; the next one's is accepted.
		{"after a heartbeat's post failed", "inspecting", []int{502, 502, 502, 502, 502}, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			api.state, api.inspectStatus = tt.lookupState, tt.status
			api.hbStates = []string{wire.StateInspectWait}
			inspectingAgent(t, api, tt.posts, 4)
		})
	}
}
