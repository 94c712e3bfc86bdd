package activities

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// TestClassify pins the mapping from driver and store errors to the
// contract's application error types: permanent failures are non-retryable
// with a stable type, anything else is left to the retry policy.
func TestClassify(t *testing.T) {
	tests := []struct {
		err       error
		wantType  string // "" = passed through, retryable
		retryable bool
	}{
		{drivers.ErrBadConfig, contract.ErrTypeBadDriver, false},
		{drivers.ErrUnknownDriver, contract.ErrTypeBadDriver, false},
		{drivers.ErrAuth, contract.ErrTypeBMCAuth, false},
		{drivers.ErrUnsupported, contract.ErrTypeUnsupported, false},
		{drivers.ErrFailed, contract.ErrTypeDriverFailed, false},
		{store.ErrNotFound, contract.ErrTypeNotFound, false},
		{store.ErrInvalidState, contract.ErrTypeInvalidState, false},
		{store.ErrConflict, contract.ErrTypeConflict, false},
		{drivers.ErrUnreachable, "", true},
		{store.ErrUnavailable, "", true},
		{context.DeadlineExceeded, "", true},
		{errors.New("connection reset by peer"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			got := classify(fmt.Errorf("node x: %w", tt.err))
			var ae *temporal.ApplicationError
			if !errors.As(got, &ae) {
				if tt.wantType != "" {
					t.Fatalf("classify = %v (not an application error), want type %q", got, tt.wantType)
				}
				if !errors.Is(got, tt.err) {
					t.Fatalf("classify lost the cause: %v", got)
				}
				return
			}
			if ae.Type() != tt.wantType || ae.NonRetryable() == tt.retryable {
				t.Fatalf("classify = type %q non-retryable %v; want %q non-retryable %v",
					ae.Type(), ae.NonRetryable(), tt.wantType, !tt.retryable)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("the cause is not kept: %v", got)
			}
		})
	}
}
