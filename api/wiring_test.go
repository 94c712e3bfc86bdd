package api

import (
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/store"
)

// The production implementations satisfy the API's consumer interfaces.
var (
	_ Store          = (*store.Store)(nil)
	_ WorkflowClient = client.Client(nil)
	_ AgentStore     = (*store.Store)(nil)
)
