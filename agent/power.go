package agent

import (
	"context"
	"fmt"
)

// Power turns the machine off or restarts it. SystemPower is the real one;
// tests pass a fake so they never reboot the host.
type Power interface {
	PowerOff(ctx context.Context) error
	Reboot(ctx context.Context) error
}

// SystemPower flushes the page cache and calls reboot(2). It needs
// CAP_SYS_BOOT (root in the ramdisk). On success the calls do not return.
type SystemPower struct{}

// PowerOff syncs and powers the machine off.
func (SystemPower) PowerOff(context.Context) error {
	if err := reboot(false); err != nil {
		return fmt.Errorf("power off: %w", err)
	}
	return nil
}

// Reboot syncs and restarts the machine.
func (SystemPower) Reboot(context.Context) error {
	if err := reboot(true); err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	return nil
}
