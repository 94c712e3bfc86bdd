package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register registers every workflow under its wire name. The worker and the
// tests (testsuite's environment satisfies the interface) both use it.
func Register(r worker.WorkflowRegistry) {
	for name, fn := range map[string]any{
		ManageName:     Manage,
		ProvideName:    Provide,
		CleanName:      Clean,
		DeployName:     Deploy,
		UndeployName:   Undeploy,
		PowerName:      SetPower,
		BootDeviceName: SetBootDevice,
		ManagementName: ReadManagement,
		PassthruName:   VendorPassthru,
		PowerSyncName:  PowerSyncPass,
	} {
		r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
}
