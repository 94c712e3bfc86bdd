package contract

import (
	"github.com/ferric-project/ferric/node"
)

// transition is one edge of Ironic's provisioning state machine that an API
// verb triggers: which workflow runs it and where it ends when it succeeds.
type transition struct {
	workflow string
	target   node.ProvisionState // target_provision_state while it runs
}

// edge is Ironic's verb table (ironic/common/states.py), restricted to what
// ferric implements, as code rather than a package-level map. Abort is not
// here: it signals the running workflow (see AbortTarget).
func edge(state node.ProvisionState, verb node.Verb) (transition, bool) {
	deploy := transition{DeployName, node.Active}
	switch {
	case verb == node.VerbManage && (state == node.Enroll || state == node.Available ||
		state == node.CleanFail || state == node.InspectFail || state == node.AdoptFail):
		return transition{ManageName, node.Manageable}, true
	case state == node.Manageable && verb == node.VerbProvide:
		return transition{ProvideName, node.Available}, true
	case state == node.Manageable && verb == node.VerbClean:
		return transition{CleanName, node.Manageable}, true
	case verb == node.VerbInspect && (state == node.Manageable || state == node.InspectFail):
		return transition{InspectName, node.Manageable}, true
	case verb == node.VerbActive && (state == node.Available || state == node.DeployFail):
		return deploy, true
	case verb == node.VerbRebuild && (state == node.Active || state == node.DeployFail || state == node.Error):
		return deploy, true
	case verb == node.VerbDeleted && (state == node.Active || state == node.DeployFail ||
		state == node.DeployWait || state == node.Error || state == node.Rescue || state == node.RescueWait ||
		state == node.RescueFail || state == node.UnrescueFail || state == node.ServiceFail ||
		state == node.ServiceWait):
		return transition{UndeployName, node.Available}, true
	case verb == node.VerbAdopt && (state == node.Manageable || state == node.AdoptFail):
		return transition{AdoptName, node.Active}, true
	case verb == node.VerbRescue && (state == node.Active || state == node.Rescue || state == node.RescueFail ||
		state == node.UnrescueFail || state == node.ServiceFail):
		return transition{RescueName, node.Rescue}, true
	case verb == node.VerbUnrescue && (state == node.Rescue || state == node.RescueFail || state == node.UnrescueFail):
		return transition{UnrescueName, node.Active}, true
	case verb == node.VerbService && (state == node.Active || state == node.ServiceFail):
		// Ironic also services a node in service hold again; ferric's
		// operation still holds such a node (see UnholdTarget).
		return transition{ServiceName, node.Active}, true
	}
	return transition{}, false
}

// canonicalVerb folds API 1.73's aliases onto the original verbs.
func canonicalVerb(v node.Verb) node.Verb {
	switch v {
	case node.VerbDeploy:
		return node.VerbActive
	case node.VerbUndeploy:
		return node.VerbDeleted
	}
	return v
}

// Plan says which workflow performs verb on a node in state, and the
// target_provision_state it runs towards. ok is false when Ironic's state
// machine has no such edge (the API answers 400). Abort is planned by
// AbortTarget instead.
func Plan(state node.ProvisionState, verb node.Verb) (workflow string, target node.ProvisionState, ok bool) {
	t, ok := edge(state, canonicalVerb(verb))
	return t.workflow, t.target, ok
}

// AbortTarget returns the state an abort leaves a node in, and whether abort
// is allowed from state.
func AbortTarget(state node.ProvisionState) (node.ProvisionState, bool) {
	switch state {
	case node.DeployWait:
		return node.DeployFail, true
	case node.CleanWait:
		return node.CleanFail, true
	case node.InspectWait:
		return node.InspectFail, true
	case node.RescueWait:
		return node.RescueFail, true
	case node.ServiceWait, node.ServiceHold:
		return node.ServiceFail, true
	case node.CleanHold:
		return node.CleanFail, true
	case node.DeployHold:
		return node.DeployFail, true
	}
	return "", false
}

// UnholdTarget returns the state an unhold moves a held node to (Ironic:
// the operation's wait state, from which it resumes), and whether unhold
// is allowed from state. Like abort, it signals the running workflow
// (SignalUnhold).
func UnholdTarget(state node.ProvisionState) (node.ProvisionState, bool) {
	switch state {
	case node.CleanHold:
		return node.CleanWait, true
	case node.DeployHold:
		return node.DeployWait, true
	case node.ServiceHold:
		return node.ServiceWait, true
	}
	return "", false
}

// PowerTarget is the power_state a power action ends in (Ironic shows it as
// target_power_state while the action runs); ok is false for anything the
// API may not start set-power with.
func PowerTarget(action node.PowerState) (node.PowerState, bool) {
	switch action {
	case node.PowerOn, node.Rebooting, node.SoftRebooting:
		return node.PowerOn, true
	case node.PowerOff, node.SoftPowerOff:
		return node.PowerOff, true
	}
	return "", false
}

// OperationVerb names the operation a workflow started with input performs,
// as metrics label it on both sides (the API that starts it, the worker
// that ends it): the provision verb (with API 1.73's spelling: deploy,
// undeploy; adopt, rescue, unrescue), the power target ("power on", "rebooting", ...), or the
// workflow's name for the boot device and vendor passthru. It is "" for
// workflows no user asked for (the power sync, the reconciler and recovery,
// the power actions the power sync forces) and for reads. Values are from a
// fixed set ("other" for anything else): they become label values.
func OperationVerb(workflow string, input any) string {
	switch in := input.(type) {
	case *ProvisionInput:
		if in != nil {
			return OperationVerb(workflow, *in)
		}
	case ProvisionInput:
		switch v := canonicalVerb(in.Verb); v {
		case node.VerbActive:
			return string(node.VerbDeploy)
		case node.VerbDeleted:
			return string(node.VerbUndeploy)
		default:
			for _, known := range []node.Verb{node.VerbManage, node.VerbProvide, node.VerbInspect,
				node.VerbClean, node.VerbRebuild, node.VerbAbort, node.VerbAdopt, node.VerbRescue, node.VerbUnrescue,
				node.VerbService} {
				if v == known {
					return string(known)
				}
			}
			return "other"
		}
	case *PowerInput:
		if in != nil {
			return OperationVerb(workflow, *in)
		}
	case PowerInput:
		if in.Reason != "" {
			return ""
		}
		for _, t := range []node.PowerState{node.PowerOn, node.PowerOff, node.Rebooting, node.SoftPowerOff,
			node.SoftRebooting} {
			if in.Target == t {
				return string(t)
			}
		}
		return "other"
	case VirtualMediaInput:
		if in.Action == VMediaGet {
			return ""
		}
		return VirtualMediaName
	}
	switch workflow {
	case BootDeviceName:
		return BootDeviceName
	case PassthruName:
		return PassthruName
	}
	return ""
}
