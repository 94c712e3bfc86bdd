package activities

import (
	"context"
	"fmt"
)

// RescueNode boots the node into its rescue environment through its rescue
// interface: done=true when it is there (fake), false when a ramdisk agent
// will call back.
func (a *Activities) RescueNode(ctx context.Context, uuid string) (bool, error) {
	l, err := a.load(ctx, uuid)
	if err != nil {
		return false, classify(err)
	}
	r, err := a.Drivers.Rescue(l.rec.Interfaces.Rescue, l.dn)
	if err != nil {
		return false, classify(err)
	}
	done, err := r.Rescue(ctx)
	if err != nil {
		return false, classify(fmt.Errorf("rescue node %s: %w", uuid, err))
	}
	return done, nil
}

// UnrescueNode returns the node from rescue to its instance.
func (a *Activities) UnrescueNode(ctx context.Context, uuid string) error {
	l, err := a.load(ctx, uuid)
	if err != nil {
		return classify(err)
	}
	r, err := a.Drivers.Rescue(l.rec.Interfaces.Rescue, l.dn)
	if err != nil {
		return classify(err)
	}
	if err := r.Unrescue(ctx); err != nil {
		return classify(fmt.Errorf("unrescue node %s: %w", uuid, err))
	}
	return nil
}

// TakeOverNode checks, without I/O, that ferric can manage an externally
// deployed node it adopts: its power and deploy interfaces can be built
// from its configuration (Ironic's adoption validates and takes the node
// over; ferric's boot server needs nothing to boot a node from its disk).
func (a *Activities) TakeOverNode(ctx context.Context, uuid string) error {
	l, err := a.load(ctx, uuid)
	if err != nil {
		return classify(err)
	}
	if _, err := a.Drivers.Power(l.rec.Interfaces.Power, l.dn); err != nil {
		return classify(fmt.Errorf("power interface: %w", err))
	}
	if _, err := a.Drivers.Deploy(l.rec.Interfaces.Deploy, l.dn); err != nil {
		return classify(fmt.Errorf("deploy interface: %w", err))
	}
	return nil
}
