package api

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ferric-project/ferric/drivers"
)

// TestDriverMessage: the text a client sees for a driver's refusal is the
// driver's own, without the registry's or the drivers sentinels' Go
// wording, as a registry error wraps it (the ipmi driver's shape: "%w: %w"
// of drivers.ErrBadConfig and the joined problems), and keeps every joined
// problem.
func TestDriverMessage(t *testing.T) {
	t.Parallel()
	ironic := "Missing the following IPMI credentials in node's driver_info: ['ipmi_address']."
	registry := func(driverErr error) error {
		return fmt.Errorf("%w: %s interface %s: %w", drivers.ErrBadConfig, drivers.KindManagement, "ipmitool", driverErr)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("boom"), "boom"},
		{"registry over a plain error", registry(errors.New(ironic)), ironic},
		{"registry over a sentinel wrap", registry(fmt.Errorf("%w: %w", drivers.ErrBadConfig,
			errors.Join(errors.New(ironic)))), ironic},
		{"two problems kept", registry(fmt.Errorf("%w: %w", drivers.ErrBadConfig,
			errors.Join(errors.New("a"), errors.New("b")))), "a\nb"},
		{"a driver's own wrap kept", registry(fmt.Errorf("ssh: %w", errors.New("x"))), "ssh: x"},
	}
	for _, tt := range tests {
		if got := driverMessage(tt.err); got != tt.want {
			t.Errorf("%s: driverMessage = %q, want %q", tt.name, got, tt.want)
		}
	}
}
