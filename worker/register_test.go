package worker_test

import (
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/activities"
	"github.com/ferric-project/ferric/worker"
)

// TestRegister registers every workflow and activity on a real SDK worker, so
// that a duplicate activity or workflow name fails here instead of panicking
// at worker start. No server is needed: the client is lazy.
func TestRegister(t *testing.T) {
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("registration panicked: %v", r)
		}
	}()
	worker.New(worker.Config{Client: c, TaskQueue: "t", Activities: &activities.Activities{},
		PowerSync: &activities.PowerSync{}})
}
