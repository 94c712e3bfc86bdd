package node

import "slices"

// State sets of Ironic's state machine. Each set is declared once, here, and
// used wherever ferric needs it (API checks, workflows, the power sync, the
// reconciler). They are functions over literal lists, not package variables:
// nothing can change them at run time.

// States lists every provision state a node can be stored in, in Ironic's
// order (the values the provision_state filter accepts).
func States() []ProvisionState {
	return []ProvisionState{
		Enroll, Verifying, Manageable, Inspecting, InspectWait, InspectFail,
		Cleaning, CleanWait, CleanFail, Available, Deploying, DeployWait,
		DeployFail, Active, Deleting, Error, Adopting, AdoptFail,
		Rescue, Rescuing, RescueWait, RescueFail, Unrescuing, UnrescueFail,
	}
}

// BusyStates are the states in which Ironic's conductor holds the node's
// reservation while it works; an impossible action on a node in one of them
// answers NodeLocked (409) rather than an invalid transition (400).
func BusyStates() []ProvisionState {
	return []ProvisionState{Deploying, Cleaning, Verifying, Deleting, Inspecting, Adopting, Rescuing,
		Unrescuing, ServiceState}
}

// Busy reports whether s is one of BusyStates.
func (s ProvisionState) Busy() bool { return slices.Contains(BusyStates(), s) }

// WaitStates are the states in which an operation waits for the ramdisk agent
// (or an abort) without holding Ironic's reservation.
func WaitStates() []ProvisionState {
	return []ProvisionState{DeployWait, CleanWait, InspectWait, RescueWait, ServiceWait}
}

// Wait reports whether s is one of WaitStates.
func (s ProvisionState) Wait() bool { return slices.Contains(WaitStates(), s) }

// HoldStates are the states a hold step leaves a node in (Ironic's
// conductor-level "hold" step): the operation waits, without the node's
// reservation, for an unhold (it resumes) or an abort (it fails).
func HoldStates() []ProvisionState {
	return []ProvisionState{CleanHold, DeployHold, ServiceHold}
}

// Held reports whether s is one of HoldStates.
func (s ProvisionState) Held() bool { return slices.Contains(HoldStates(), s) }

// InProgressStates are the states in which a node must have an operation
// running: the busy, wait and hold states (ferric's operation waits in a
// hold for the unhold). A node found in one with no operation running was
// abandoned (see FailState).
func InProgressStates() []ProvisionState {
	return slices.Concat(BusyStates(), WaitStates(), HoldStates())
}

// InProgress reports whether s is one of InProgressStates.
func (s ProvisionState) InProgress() bool { return s.Busy() || s.Wait() || s.Held() }

// FailState is the state a node in an in-progress state s ends in when its
// operation fails (or was lost), and whether s has one.
func (s ProvisionState) FailState() (ProvisionState, bool) {
	switch s {
	case Deploying, DeployWait, DeployHold:
		return DeployFail, true
	case Cleaning, CleanWait, CleanHold:
		return CleanFail, true
	case Verifying:
		return Enroll, true // Ironic returns a node that fails verification to enroll
	case Deleting:
		return Error, true
	case Inspecting, InspectWait:
		return InspectFail, true
	case Adopting:
		return AdoptFail, true
	case Rescuing, RescueWait:
		return RescueFail, true
	case Unrescuing:
		return UnrescueFail, true
	case ServiceState, ServiceWait, ServiceHold:
		return ServiceFail, true
	}
	return "", false
}

// AgentStates are the states in which a node runs the ramdisk agent: the
// agent may look the node up and heartbeat.
func AgentStates() []ProvisionState {
	return []ProvisionState{Deploying, DeployWait, Cleaning, CleanWait, Inspecting, InspectWait,
		ServiceState, ServiceWait}
}

// AgentReachable reports whether s is one of AgentStates.
func (s ProvisionState) AgentReachable() bool { return slices.Contains(AgentStates(), s) }

// UpdateAllowedStates are the states in which a node with a target state may
// still be updated (Ironic's UPDATE_ALLOWED_STATES).
func UpdateAllowedStates() []ProvisionState {
	return []ProvisionState{DeployFail, Inspecting, InspectFail, InspectWait, CleanFail, Error, Verifying,
		AdoptFail, RescueFail, UnrescueFail, ServiceHold, ServiceFail}
}

// UpdateAllowed reports whether s is one of UpdateAllowedStates.
func (s ProvisionState) UpdateAllowed() bool { return slices.Contains(UpdateAllowedStates(), s) }

// DeletableStates are the states from which a node may be deleted outside
// maintenance, in Ironic's order (for error messages).
func DeletableStates() []ProvisionState {
	return []ProvisionState{Manageable, Enroll, AdoptFail, Available}
}

// Deletable reports whether s is one of DeletableStates.
func (s ProvisionState) Deletable() bool { return slices.Contains(DeletableStates(), s) }

// SyncExcludedStates are the states the power sync leaves alone, as Ironic
// does: nodes being set up, or whose ramdisk owns the power.
func SyncExcludedStates() []ProvisionState {
	return []ProvisionState{Enroll, Verifying, DeployWait, CleanWait, InspectWait, RescueWait, ServiceWait,
		Deploying, Cleaning, Deleting, Inspecting, Adopting, Rescuing, Unrescuing, ServiceState,
		CleanHold, DeployHold, ServiceHold}
}

// SyncExcluded reports whether s is one of SyncExcludedStates.
func (s ProvisionState) SyncExcluded() bool { return slices.Contains(SyncExcludedStates(), s) }
