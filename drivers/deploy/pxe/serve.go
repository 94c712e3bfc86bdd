package pxe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pin/tftp/v3"
)

// Handler serves the HTTP side:
//
//	GET /boot.ipxe      the chain script (a DHCP boot file for iPXE)
//	GET /ipxe/{mac}     the per-node script; mac in colon or hex-hyphen form
//	GET /images/{name}  a file of RamdiskDir, with Range support
//	GET /ipxe-bin/{name} an iPXE binary of IPXEDir (UEFI HTTP boot clients)
//
// Start serves it on HTTPAddr; it can also be mounted on another listener.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boot.ipxe", func(w http.ResponseWriter, r *http.Request) {
		writeScript(w, bootScript)
	})
	mux.HandleFunc("GET /ipxe/{mac}", s.serveNodeScript)
	mux.HandleFunc("GET /images/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.serveFile(w, r, s.cfg.RamdiskDir)
	})
	mux.HandleFunc("GET /ipxe-bin/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.serveFile(w, r, s.cfg.IPXEDir)
	})
	return mux
}

func (s *Server) serveNodeScript(w http.ResponseWriter, r *http.Request) {
	base := s.public
	if base == "" {
		base = s.scheme() + "://" + r.Host
	}
	script, err := s.script(r.Context(), base, r.PathValue("mac"), "http", r.RemoteAddr)
	switch {
	case errors.Is(err, ErrBadMAC):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case err != nil:
		http.Error(w, "boot configuration unavailable", http.StatusServiceUnavailable)
	default:
		writeScript(w, script)
	}
}

func writeScript(w http.ResponseWriter, script string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, script)
}

// serveFile serves the file {name} of dir, with Range support.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, dir string) {
	name := r.PathValue("name")
	f, fi, err := openFile(dir, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.WarnContext(r.Context(), "open image", "name", name, "err", err)
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	start := time.Now()
	http.ServeContent(w, r, name, fi.ModTime(), f)
	s.log.DebugContext(r.Context(), "file served", "path", r.URL.Path, "size", fi.Size(), "range", r.Header.Get("Range"),
		"remote", r.RemoteAddr, "duration", time.Since(start))
}

// script looks up mac and renders its per-node script, logging the decision.
// Errors are logged here; callers only pick the protocol's answer.
func (s *Server) script(ctx context.Context, base, rawMAC, proto, remote string) (string, error) {
	mac, err := NormalizeMAC(rawMAC)
	if err != nil {
		s.log.WarnContext(ctx, "boot script request", "mac", rawMAC, "via", proto, "remote", remote, "err", err)
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	cfg, ok, err := s.configs.BootConfig(ctx, mac)
	if err != nil {
		err = fmt.Errorf("boot config for %s: %w", mac, err)
		s.log.ErrorContext(ctx, "boot script request", "mac", mac, "via", proto, "remote", remote, "err", err)
		return "", err
	}
	script, err := nodeScript(base, mac, cfg, ok)
	if err != nil {
		err = fmt.Errorf("render boot script for %s: %w", mac, err)
		s.log.ErrorContext(ctx, "boot script request", "mac", mac, "via", proto, "remote", remote, "err", err)
		return "", err
	}
	boot := "ramdisk"
	if !ok || cfg.LocalDisk {
		boot = "local disk"
	}
	s.log.InfoContext(ctx, "boot script", "mac", mac, "boot", boot, "via", proto, "remote", remote)
	return script, nil
}

// readTFTP answers a TFTP read request: boot.ipxe, ipxe/<mac>, or a file of
// IPXEDir.
func (s *Server) readTFTP(filename string, rf io.ReaderFrom) error {
	ctx := s.baseContext()
	name := strings.TrimLeft(filename, "/")
	remote := ""
	if ot, ok := rf.(tftp.OutgoingTransfer); ok {
		ra := ot.RemoteAddr()
		remote = ra.String()
	}
	var r io.Reader
	var size int64
	switch {
	case name == "boot.ipxe":
		r, size = strings.NewReader(bootScript), int64(len(bootScript))
	case strings.HasPrefix(name, "ipxe/"):
		base, err := s.tftpBase(rf)
		if err != nil {
			s.log.ErrorContext(ctx, "boot script request", "via", "tftp", "remote", remote, "err", err)
			return errors.New("boot configuration unavailable")
		}
		script, err := s.script(ctx, base, strings.TrimPrefix(name, "ipxe/"), "tftp", remote)
		if err != nil {
			return errors.New("boot configuration unavailable")
		}
		r, size = strings.NewReader(script), int64(len(script))
	default:
		f, fi, err := openFile(s.cfg.IPXEDir, name)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.log.WarnContext(ctx, "open tftp file", "name", name, "err", err)
			}
			return errors.New("file not found")
		}
		defer f.Close()
		r, size = bufio.NewReaderSize(f, 64<<10), fi.Size()
	}
	if ot, ok := rf.(tftp.OutgoingTransfer); ok {
		ot.SetSize(size) // answers the tsize option; our readers are not Seekers
	}
	_, err := rf.ReadFrom(ctxReader{ctx, r})
	return err // pin/tftp has already told the client and the hook
}

// tftpBase is the HTTP URL for a node that asked over TFTP: PublicHTTPURL,
// else the address the request arrived on with the HTTP listener's port.
func (s *Server) tftpBase(rf io.ReaderFrom) (string, error) {
	if s.public != "" {
		return s.public, nil
	}
	addr := s.HTTPAddr()
	pi, ok := rf.(tftp.RequestPacketInfo)
	if addr == "" || !ok || pi.LocalIP() == nil || pi.LocalIP().IsUnspecified() {
		return "", errNoHTTPSource
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("http address %q: %w", addr, err)
	}
	return s.scheme() + "://" + net.JoinHostPort(pi.LocalIP().String(), port), nil
}

// scheme is the scheme of the HTTP side: https with Config.TLS.
func (s *Server) scheme() string {
	if s.cfg.TLS != nil {
		return "https"
	}
	return "http"
}

// openFile opens the regular file name, a single path element, in dir.
// Anything else (other names, directories, missing dir) is fs.ErrNotExist.
func openFile(dir, name string) (*os.File, fs.FileInfo, error) {
	if dir == "" || !validName(name) {
		return nil, nil, fs.ErrNotExist
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fs.ErrNotExist
	}
	return f, fi, nil
}

// ctxReader fails once ctx is done, which makes pin/tftp abort a transfer at
// its next block (pin/tftp itself takes no context).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// tftpHook logs transfers: successes at debug, failures at info (PXE ROMs
// routinely abort a first request after reading its tsize).
type tftpHook struct{ log *slog.Logger }

func (h tftpHook) OnSuccess(st tftp.TransferStats) {
	h.log.Debug("tftp transfer", "file", st.Filename, "remote", st.RemoteAddr, "blksize", st.Opts["blksize"],
		"duration", st.Duration, "datagrams", st.DatagramsSent)
}

func (h tftpHook) OnFailure(st tftp.TransferStats, err error) {
	h.log.Info("tftp transfer failed", "file", st.Filename, "remote", st.RemoteAddr, "err", err)
}
