package contract

import (
	"testing"

	"github.com/ferric-project/ferric/node"
)

func TestOperationVerb(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		workflow string
		input    any
		want     string
	}{
		{DeployName, ProvisionInput{Verb: node.VerbActive}, "deploy"},
		{DeployName, &ProvisionInput{Verb: node.VerbDeploy}, "deploy"},
		{DeployName, ProvisionInput{Verb: node.VerbRebuild}, "rebuild"},
		{UndeployName, ProvisionInput{Verb: node.VerbDeleted}, "undeploy"},
		{ManageName, ProvisionInput{Verb: node.VerbManage}, "manage"},
		{ManageName, ProvisionInput{Verb: "6f1c2d3e-aaaa"}, "other"},
		{PowerName, PowerInput{Target: node.PowerOff}, "power off"},
		{PowerName, &PowerInput{Target: node.SoftRebooting}, "soft rebooting"},
		{PowerName, PowerInput{Target: node.PowerOn, Reason: "power sync: forced"}, ""},
		{BootDeviceName, BootDeviceInput{}, BootDeviceName},
		{PassthruName, PassthruInput{}, PassthruName},
		{ManagementName, ManagementInput{}, ""},
		{RescueName, ProvisionInput{Verb: node.VerbRescue}, "rescue"},
		{AllocateName, AllocateInput{}, ""},
		{PowerSyncName, nil, ""},
		{RecoverName, nil, ""},
	} {
		if got := OperationVerb(c.workflow, c.input); got != c.want {
			t.Errorf("OperationVerb(%s, %+v) = %q, want %q", c.workflow, c.input, got, c.want)
		}
	}
}
