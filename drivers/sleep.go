package drivers

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends (its error). Drivers pace and poll
// hardware with it so that a cancelled activity stops waiting at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
