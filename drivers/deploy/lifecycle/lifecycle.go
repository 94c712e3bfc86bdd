// Package lifecycle is how the boot servers (DHCP, and TFTP and HTTP) run:
// started, then serving in the background until their context ends or
// they fail, then shut down.
package lifecycle

import (
	"context"
	"errors"
	"time"
)

// ShutdownTimeout is how long Run lets a server shut down.
const ShutdownTimeout = 10 * time.Second

// Server is a server that serves in the background between Start and
// Shutdown.
type Server interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Run starts srv and serves until ctx is done (nil is returned) or srv
// fails (the error on the channel failed returns once srv is started is
// returned), then shuts srv down, giving it ShutdownTimeout.
func Run(ctx context.Context, srv Server, failed func() <-chan error) error {
	if err := srv.Start(ctx); err != nil {
		return err
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-failed():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	return errors.Join(err, srv.Shutdown(sctx))
}
