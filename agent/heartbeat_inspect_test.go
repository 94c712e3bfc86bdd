package agent

import (
	"path/filepath"
	"testing"
	"time"

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
	heartbeatInspectingAgent(t, api, 1)
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
			heartbeatInspectingAgent(t, api, tt.posts)
		})
	}
}

// heartbeatInspectingAgent runs an agent on the test server's sysfs until
// it posted its inspection data posts times and then heartbeated a few
// more times, and checks that it posted no more.
func heartbeatInspectingAgent(t *testing.T, api *fakeAPI, posts int) {
	t.Helper()
	root := filepath.Join("inspect", "testdata", "server")
	api.inspected = make(chan struct{}, 16)
	stop, _ := testAgent(t, api, func(c *Config) {
		c.SysfsRoot, c.ProcRoot = filepath.Join(root, "sys"), filepath.Join(root, "proc")
		c.DevRoot, c.RunRoot = filepath.Join(root, "dev"), filepath.Join(root, "run")
		c.HeartbeatInterval = 50 * time.Millisecond
	})
	for i := 0; i < posts; i++ {
		select {
		case <-api.inspected:
		case <-time.After(20 * time.Second):
			t.Fatalf("%d posts, want %d", i, posts)
		}
	}
	hb, _, _ := api.snapshot()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if now, _, _ := api.snapshot(); len(now) >= len(hb)+4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeats after the inspection")
		}
	}
	_ = stop()
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.inspections) != posts {
		t.Fatalf("%d posts, want %d", len(api.inspections), posts)
	}
}
