package lifecycle

import (
	"context"
	"errors"
	"testing"
)

// fakeServer records Run's calls; fail is what its serving goroutines
// report.
type fakeServer struct {
	startErr, shutdownErr error
	fail                  chan error
	shutdowns             int
	shutdownCtxErr        error // ctx.Err() as Shutdown saw it
}

func (f *fakeServer) Start(context.Context) error { return f.startErr }

func (f *fakeServer) Shutdown(ctx context.Context) error {
	f.shutdowns++
	f.shutdownCtxErr = ctx.Err()
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("shutdown without a deadline")
	}
	return f.shutdownErr
}

func TestRun(t *testing.T) {
	errStart, errServe, errShutdown := errors.New("bind"), errors.New("serve"), errors.New("shutdown")
	tests := []struct {
		name          string
		srv           *fakeServer
		cancel        bool // the context ends rather than the server failing
		want          []error
		wantShutdowns int
	}{
		{name: "start fails", srv: &fakeServer{startErr: errStart}, want: []error{errStart}},
		{name: "context ends", srv: &fakeServer{}, cancel: true, wantShutdowns: 1},
		{name: "server fails", srv: &fakeServer{}, want: []error{errServe}, wantShutdowns: 1},
		{name: "both fail", srv: &fakeServer{shutdownErr: errShutdown}, want: []error{errServe, errShutdown},
			wantShutdowns: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			tt.srv.fail = make(chan error, 1)
			if tt.cancel {
				cancel()
			} else {
				tt.srv.fail <- errServe
			}
			err := Run(ctx, tt.srv, func() <-chan error { return tt.srv.fail })
			if len(tt.want) == 0 && err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("Run = %v, want it to wrap %v", err, w)
				}
			}
			if tt.srv.shutdowns != tt.wantShutdowns {
				t.Errorf("Shutdown called %d times, want %d", tt.srv.shutdowns, tt.wantShutdowns)
			}
			if tt.srv.shutdownCtxErr != nil {
				t.Errorf("Shutdown got an ended context: %v", tt.srv.shutdownCtxErr)
			}
		})
	}
}
