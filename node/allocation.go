package node

// AllocationState is the state of an allocation (Ironic's allocation
// states), as shown on the wire.
type AllocationState string

// Allocation states: an allocation is created allocating, and ends active
// (it holds a node) or error (last_error says why).
const (
	AllocationAllocating AllocationState = "allocating"
	AllocationActive     AllocationState = "active"
	AllocationError      AllocationState = "error"
)
