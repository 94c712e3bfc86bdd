package worker

import (
	"errors"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/workflows"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Metrics the worker records through the Temporal SDK's metrics handler
// (client.Options.MetricsHandler): the handler exposes a counter as
// <name>_total and a timer as <name>_seconds.
const (
	// MetricOperationsFinished counts operations that ended, by verb and
	// outcome.
	MetricOperationsFinished = "ferric_operations_finished"
	// MetricOperationDuration is an operation's start-to-end time, by verb
	// and outcome.
	MetricOperationDuration = "ferric_operation_duration"
	// MetricPowerSyncPassDuration is one power-sync pass's time.
	MetricPowerSyncPassDuration = "ferric_power_sync_pass_duration"
	// MetricPowerSyncNodesChecked is the number of BMCs the last pass read.
	MetricPowerSyncNodesChecked = "ferric_power_sync_nodes_checked"
)

// Outcomes of an operation (the outcome label).
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"   // it ended in a failure state, or failed
	OutcomeRefused   = "refused"  // it could not begin: the node moved, went or was written meanwhile
	OutcomeCanceled  = "canceled" // the workflow was canceled
)

// metricsInterceptor records, when a workflow ends, the operation metrics
// (for workflows that are a user's operation: contract.OperationVerb) and
// the power-sync pass metrics. It runs in workflow code and records through
// workflow.GetMetricsHandler, which drops what is recorded while replaying:
// an end is counted once, by the worker that executed it, however often the
// history is replayed later (queries, cache evictions). Durations are
// workflow time (start event to the final workflow task), deterministic.
type metricsInterceptor struct {
	interceptor.WorkerInterceptorBase
}

func (*metricsInterceptor) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &metricsInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type metricsInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (i *metricsInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	res, err := i.Next.ExecuteWorkflow(ctx, in)
	if workflow.IsContinueAsNewError(err) {
		return res, err
	}
	info := workflow.GetInfo(ctx)
	took := workflow.Now(ctx).Sub(info.WorkflowStartTime)
	h := workflow.GetMetricsHandler(ctx)
	name := info.WorkflowType.Name
	if name == contract.PowerSyncName && err == nil {
		h.Timer(MetricPowerSyncPassDuration).Record(took)
		if r, ok := res.(workflows.PowerSyncResult); ok {
			h.Gauge(MetricPowerSyncNodesChecked).Update(float64(r.Checked))
		}
	}
	var input any
	if len(in.Args) > 0 {
		input = in.Args[0]
	}
	if verb := contract.OperationVerb(name, input); verb != "" {
		h = h.WithTags(map[string]string{"verb": verb, "outcome": outcome(err)})
		h.Counter(MetricOperationsFinished).Inc(1)
		h.Timer(MetricOperationDuration).Record(took)
	}
	return res, err
}

// outcome classifies how an operation's workflow ended.
func outcome(err error) string {
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return OutcomeSucceeded
	case temporal.IsCanceledError(err):
		return OutcomeCanceled
	case errors.As(err, &appErr):
		switch appErr.Type() {
		case contract.ErrTypeInvalidState, contract.ErrTypeNotFound, contract.ErrTypeConflict:
			return OutcomeRefused
		}
	}
	return OutcomeFailed
}
