package workflows

import (
	"github.com/ferric-project/ferric/node"
)

// transition is one edge of Ironic's provisioning state machine that an API
// verb triggers: which workflow runs it and where it ends when it succeeds.
type transition struct {
	workflow string
	target   node.ProvisionState // target_provision_state while it runs
}

// edges is Ironic's verb table (ironic/common/states.py), restricted to what
// ferric implements. Abort is not here: it signals the running workflow.
var edges = map[node.ProvisionState]map[node.Verb]transition{
	node.Enroll: {
		node.VerbManage: {ManageName, node.Manageable},
	},
	node.Manageable: {
		node.VerbProvide: {ProvideName, node.Available},
		node.VerbClean:   {CleanName, node.Manageable},
	},
	node.Available: {
		node.VerbActive: {DeployName, node.Active},
		node.VerbManage: {ManageName, node.Manageable},
	},
	node.Active: {
		node.VerbDeleted: {UndeployName, node.Available},
		node.VerbRebuild: {DeployName, node.Active},
	},
	node.DeployFail: {
		node.VerbActive:  {DeployName, node.Active},
		node.VerbRebuild: {DeployName, node.Active},
		node.VerbDeleted: {UndeployName, node.Available},
	},
	node.DeployWait: {
		node.VerbDeleted: {UndeployName, node.Available},
	},
	node.Error: {
		node.VerbDeleted: {UndeployName, node.Available},
		node.VerbRebuild: {DeployName, node.Active},
	},
	node.CleanFail: {
		node.VerbManage: {ManageName, node.Manageable},
	},
	node.InspectFail: {
		node.VerbManage: {ManageName, node.Manageable},
	},
	node.AdoptFail: {
		node.VerbManage: {ManageName, node.Manageable},
	},
}

// abortable maps a wait state to the failure state an abort leads to.
var abortable = map[node.ProvisionState]node.ProvisionState{
	node.DeployWait:  node.DeployFail,
	node.CleanWait:   node.CleanFail,
	node.InspectWait: node.InspectFail,
	node.RescueWait:  node.RescueFail,
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
	t, ok := edges[state][canonicalVerb(verb)]
	return t.workflow, t.target, ok
}

// AbortTarget returns the state an abort leaves a node in, and whether abort
// is allowed from state.
func AbortTarget(state node.ProvisionState) (node.ProvisionState, bool) {
	s, ok := abortable[state]
	return s, ok
}

// Deletable reports whether a node in state may be deleted outside
// maintenance (Ironic: manageable, enroll, adopt failed, available).
func Deletable(state node.ProvisionState) bool {
	switch state {
	case node.Manageable, node.Enroll, node.AdoptFail, node.Available:
		return true
	}
	return false
}

// DeletableStates lists the states Deletable accepts, in Ironic's order, for
// error messages.
func DeletableStates() []node.ProvisionState {
	return []node.ProvisionState{node.Manageable, node.Enroll, node.AdoptFail, node.Available}
}
