package ipmi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ferric-project/ferric/drivers"
)

// connect20Err builds an error the way go-ipmi v0.9.1's Connect20 does: the
// per-cipher errors are joined, then formatted with %v, cutting the chain.
func connect20Err(inner error) error {
	errs := []error{fmt.Errorf("cmd: rakp1 failed with cipher suite id (3), err: %w", inner)}
	return fmt.Errorf("connect20 failed after try all cipher suite ids (%v), errs: \n%v", []int{3}, errors.Join(errs...))
}

func TestClassify(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	timeoutErr := &net.OpError{Op: "read", Net: "udp", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		ph   phase
		want error // nil: the caller cancelled
	}{
		{"wrong password through Connect's %v join", nil,
			connect20Err(fmt.Errorf("validate rakp2 message failed, err: %w",
				fmt.Errorf("RAKP2 authentication code mismatch: %w", client.ErrRAKPAuthentication))), phaseConnect, drivers.ErrAuth},
		{"unknown user (RMCP+ status 0x0d) through the join", nil,
			connect20Err(types.NewRmcpStatusError(types.RmcpStatusCodeUnauthorizedName)), phaseConnect, drivers.ErrAuth},
		{"role above the user's (RMCP+ status 0x09) through the join", nil,
			connect20Err(types.NewRmcpStatusError(types.RmcpStatusCodeInvalidRole)), phaseConnect, drivers.ErrAuth},
		{"cipher suite not offered", nil,
			connect20Err(types.NewRmcpStatusError(types.RmcpStatusCodeNoCipherSuiteMatch)), phaseConnect, drivers.ErrUnsupported},
		{"no session slots", nil,
			connect20Err(types.NewRmcpStatusError(types.RmcpStatusCodeNoResToCreateSess)), phaseConnect, drivers.ErrFailed},
		{"wrapped RMCP+ status", nil, fmt.Errorf("x: %w", types.NewRmcpStatusError(types.RmcpStatusCodeUnauthorizedName)),
			phaseConnect, drivers.ErrAuth},
		{"insufficient privilege", nil, fmt.Errorf("x: %w", types.NewResponseError(types.CodeInsufficientPrivilege, "")),
			phaseCommand, drivers.ErrAuth},
		{"privilege level refused at setup", nil, types.NewResponseError(0x81, ""), phaseConnect, drivers.ErrAuth},
		{"81h from a command is not about auth", nil, types.NewResponseError(0x81, ""), phaseCommand, drivers.ErrFailed},
		{"invalid command", nil, types.NewResponseError(types.CodeInvalidCommand, ""), phaseCommand, drivers.ErrUnsupported},
		{"invalid data field", nil, types.NewResponseError(0xcc, ""), phaseCommand, drivers.ErrFailed},
		{"UDP read timeout", nil, fmt.Errorf("IPMI LAN: x: %w", timeoutErr), phaseCommand, drivers.ErrUnreachable},
		{"UDP timeout through the join", nil, connect20Err(timeoutErr), phaseConnect, drivers.ErrUnreachable},
		{"connection refused", nil, fmt.Errorf("read: %w", &net.OpError{Op: "read", Err: os.NewSyscallError("recvfrom",
			syscall.ECONNREFUSED)}), phaseConnect, drivers.ErrUnreachable},
		{"unknown host", nil, &net.DNSError{Err: "no such host", Name: "bmc.invalid", IsNotFound: true}, phaseConnect,
			drivers.ErrUnreachable},
		{"our deadline passed", expired, errors.New("canceled from caller"), phaseCommand, drivers.ErrUnreachable},
		{"caller cancelled", cancelled, errors.New("canceled from caller"), phaseCommand, nil},
		{"anything else", nil, errors.New("decrypt session payload failed"), phaseCommand, drivers.ErrFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			if got := classify(ctx, tt.err, tt.ph); got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	// The quirk itself: errors.Is cannot see through Connect's join.
	if errors.Is(connect20Err(client.ErrRAKPAuthentication), client.ErrRAKPAuthentication) {
		t.Error("connect20Err no longer models go-ipmi's percent-v join")
	}
}

func TestFailWrapsOnce(t *testing.T) {
	t.Parallel()
	n := &Node{info: DriverInfo{Address: "10.0.0.9", Port: 623, Password: "hunter22"}}
	err := n.fail(context.Background(), "get power state",
		fmt.Errorf("multi\nline: %w, echo hunter22", types.NewResponseError(types.CodeInsufficientPrivilege, "d4")), phaseCommand)
	if !errors.Is(err, drivers.ErrAuth) {
		t.Fatalf("fail() = %v, want ErrAuth", err)
	}
	if _, ok := types.IsResponseError(err); !ok {
		t.Errorf("fail() lost the library error chain: %v", err)
	}
	want := "ipmi 10.0.0.9:623: get power state: drivers: credentials rejected by the BMC: multi line: cc: 0xd4, description: d4, echo ***"
	if err.Error() != want {
		t.Errorf("fail() = %q\nwant      %q", err, want)
	}
}
