package pxe

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pin/tftp/v3"

	"github.com/ferric-project/ferric/drivers/deploy/lifecycle"
)

const (
	defaultTFTPTimeout = 2 * time.Second
	tftpRetries        = 5
	lookupTimeout      = 10 * time.Second
)

// Server serves TFTP and HTTP for network boot. Create it with New, then
// either Start and Shutdown, or Run.
type Server struct {
	cfg     Config
	configs Configs
	log     *slog.Logger
	public  string // cfg.PublicHTTPURL without trailing slash

	mu      sync.Mutex
	started bool
	ctx     context.Context // lives from Start to Shutdown; in-flight work stops when it ends
	cancel  context.CancelFunc
	udp     net.PacketConn
	tftp    *tftp.Server
	tcp     net.Listener
	http    *http.Server
	wg      sync.WaitGroup // Serve goroutines
	errc    chan error     // unexpected Serve errors
}

// New validates cfg and returns a Server that asks configs what each MAC
// boots. It does no I/O.
func New(cfg Config, configs Configs) (*Server, error) {
	if configs == nil {
		return nil, fmt.Errorf("%w: nil Configs", ErrBadConfig)
	}
	if cfg.TFTPAddr == "" && cfg.HTTPAddr == "" {
		return nil, fmt.Errorf("%w: neither TFTPAddr nor HTTPAddr set", ErrBadConfig)
	}
	public := strings.TrimRight(cfg.PublicHTTPURL, "/")
	if public != "" {
		u, err := url.Parse(public)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: PublicHTTPURL %q is not an http(s) URL", ErrBadConfig, cfg.PublicHTTPURL)
		}
	}
	if cfg.TFTPTimeout <= 0 {
		cfg.TFTPTimeout = defaultTFTPTimeout
	}
	log := cmp.Or(cfg.Log, slog.New(slog.DiscardHandler))
	return &Server{cfg: cfg, configs: configs, log: log, public: public}, nil
}

// Start binds the configured addresses and serves in the background until
// Shutdown. ctx bounds only the start itself.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	var lc net.ListenConfig
	var udp net.PacketConn
	var tcp net.Listener
	if s.cfg.TFTPAddr != "" {
		var err error
		if udp, err = lc.ListenPacket(ctx, udpNetwork(s.cfg.TFTPAddr), s.cfg.TFTPAddr); err != nil {
			return fmt.Errorf("listen tftp %s: %w", s.cfg.TFTPAddr, err)
		}
	}
	if s.cfg.HTTPAddr != "" {
		var err error
		if tcp, err = lc.Listen(ctx, "tcp", s.cfg.HTTPAddr); err != nil {
			if udp != nil {
				udp.Close()
			}
			return fmt.Errorf("listen http %s: %w", s.cfg.HTTPAddr, err)
		}
		if s.cfg.TLS != nil {
			tcp = tls.NewListener(tcp, s.cfg.TLS)
		}
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.errc = make(chan error, 2)
	s.udp, s.tcp = udp, tcp

	if udp != nil {
		ts := tftp.NewServer(s.readTFTP, nil) // read-only
		ts.SetTimeout(s.cfg.TFTPTimeout)
		ts.SetRetries(tftpRetries)
		ts.SetHook(tftpHook{s.log})
		// No SetAnticipate: it breaks at blksize >= 8192 and slows iPXE.
		s.tftp = ts
		s.wg.Go(func() {
			if err := ts.Serve(udp); err != nil {
				s.errc <- fmt.Errorf("serve tftp: %w", err)
			}
		})
	}
	if tcp != nil {
		base := s.ctx
		hs := &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return base },
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		s.http = hs
		s.wg.Go(func() {
			if err := hs.Serve(tcp); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.errc <- fmt.Errorf("serve http: %w", err)
			}
		})
	}
	s.log.Info("boot server started", "tftp", s.tftpAddrLocked(), "http", s.httpAddrLocked(), "public_http_url", s.public)
	return nil
}

// Shutdown stops accepting requests and waits for in-flight HTTP requests
// and TFTP transfers until ctx ends; then it aborts what is left and returns
// ctx's error. The listening ports are released before it returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		return ErrNotStarted
	}
	s.started = false
	udp, ts, hs := s.udp, s.tftp, s.http
	cancel := s.cancel
	s.mu.Unlock()

	var errs []error
	tftpDone := make(chan struct{})
	if ts != nil {
		go func() {
			ts.Shutdown() // closes the socket, then waits for transfers
			close(tftpDone)
		}()
	} else {
		close(tftpDone)
	}
	if hs != nil {
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
			errs = append(errs, fmt.Errorf("shutdown http: %w", err))
		}
	}
	select {
	case <-tftpDone:
	case <-ctx.Done():
		// Transfers read through s.ctx: cancelling makes each one abort at
		// its next block instead of running to the end.
		errs = append(errs, fmt.Errorf("shutdown tftp: %w", ctx.Err()))
	}
	cancel()
	if udp != nil {
		udp.Close() // pin/tftp misses it if Shutdown raced with Serve's start
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// Run starts the server and serves until ctx is done (nil is returned) or a
// listener fails (its error is returned), then shuts down.
func (s *Server) Run(ctx context.Context) error {
	return lifecycle.Run(ctx, s, func() <-chan error { return s.errc })
}

// TFTPAddr is the bound TFTP address ("127.0.0.1:41234"), or "" when TFTP is
// disabled or the server is not running.
func (s *Server) TFTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tftpAddrLocked()
}

// HTTPAddr is the bound HTTP address, or "" when the HTTP listener is
// disabled or the server is not running.
func (s *Server) HTTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpAddrLocked()
}

// tftpAddrLocked is TFTPAddr for callers holding s.mu.
func (s *Server) tftpAddrLocked() string {
	if !s.started || s.udp == nil {
		return ""
	}
	return s.udp.LocalAddr().String()
}

func (s *Server) httpAddrLocked() string {
	if !s.started || s.tcp == nil {
		return ""
	}
	return s.tcp.Addr().String()
}

// baseContext is the server's lifetime context, or Background for a Handler
// used without Start.
func (s *Server) baseContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		return context.Background()
	}
	return s.ctx
}

// udpNetwork picks udp4 unless addr names an IPv6 host: PXE is IPv4, and a
// dual-stack socket would report v4-mapped addresses to pin/tftp.
func udpNetwork(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err == nil && strings.Contains(host, ":") {
		return "udp6"
	}
	return "udp4"
}
