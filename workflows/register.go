package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ferric-project/ferric/workflows/contract"
)

// Register registers every workflow under its wire name. The worker and the
// tests (testsuite's environment satisfies the interface) both use it.
func Register(r worker.WorkflowRegistry) {
	for name, fn := range map[string]any{
		contract.ManageName:       Manage,
		contract.ProvideName:      Provide,
		contract.CleanName:        Clean,
		contract.InspectName:      Inspect,
		contract.DeployName:       Deploy,
		contract.UndeployName:     Undeploy,
		contract.PowerName:        SetPower,
		contract.BootDeviceName:   SetBootDevice,
		contract.ManagementName:   ReadManagement,
		contract.PassthruName:     VendorPassthru,
		contract.PowerSyncName:    PowerSyncPass,
		contract.ReconcileName:    ReconcileNodes,
		contract.RecoverName:      RecoverNode,
		contract.AllocateName:     Allocate,
		contract.AdoptName:        Adopt,
		contract.RescueName:       Rescue,
		contract.UnrescueName:     Unrescue,
		contract.VirtualMediaName: VirtualMedia,
		contract.ServiceName:      Service,
	} {
		r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
}
