package pxe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
)

// randomFile writes n deterministic pseudo-random bytes to dir/name.
func randomFile(t testing.TB, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	r.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// startServer starts a Server on loopback ports and shuts it down at the end
// of the test.
func startServer(t testing.TB, cfg Config, c Configs) *Server {
	t.Helper()
	if cfg.TFTPAddr == "" {
		cfg.TFTPAddr = "127.0.0.1:0"
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	s, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, ErrNotStarted) {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// tftpGet fetches name with pin/tftp's client, asking for blksize and tsize.
func tftpGet(addr, name string, blksize int) (data []byte, tsize int64, err error) {
	c, err := tftp.NewClient(addr)
	if err != nil {
		return nil, 0, err
	}
	c.SetTimeout(2 * time.Second)
	c.SetBlockSize(blksize)
	c.RequestTSize(true)
	wt, err := c.Receive(name, "octet")
	if err != nil {
		return nil, 0, err
	}
	tsize, _ = wt.(tftp.IncomingTransfer).Size() // before WriteTo, which consumes the options
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), tsize, nil
}

func httpGet(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestTFTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string][]byte{
		"undionly.kpxe": randomFile(t, dir, "undionly.kpxe", 74213),
		// 187904 = 128*1468 = 367*512: the transfer ends with an empty block.
		"exact.bin": randomFile(t, dir, "exact.bin", 187904),
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Config{IPXEDir: dir}, testConfigs())
	httpBase := "http://" + s.HTTPAddr()

	// The per-node script over TFTP is byte for byte the one served over
	// HTTP: without PublicHTTPURL both derive the same base URL.
	_, wantScript := httpGet(t, httpBase+"/ipxe/52:54:00:12:34:56")
	if !bytes.Contains(wantScript, []byte("kernel --name kernel "+httpBase+"/images/vmlinuz")) {
		t.Fatalf("http script:\n%s", wantScript)
	}
	files["ipxe/52-54-00-12-34-56"] = wantScript
	files["/ipxe/52-54-00-12-34-56"] = wantScript
	files["boot.ipxe"] = []byte(bootScript)

	for _, blksize := range []int{512, 1468} {
		for name, want := range files {
			t.Run(fmt.Sprintf("%s/%d", name, blksize), func(t *testing.T) {
				got, tsize, err := tftpGet(s.TFTPAddr(), name, blksize)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("got %d bytes, want %d (content differs: %v)", len(got), len(want), len(got) == len(want))
				}
				if tsize != int64(len(want)) {
					t.Errorf("tsize = %d, want %d", tsize, len(want))
				}
			})
		}
	}

	for _, name := range []string{"missing.efi", "../" + filepath.Base(dir) + "/undionly.kpxe", "sub", ".", "ipxe/zz"} {
		if _, _, err := tftpGet(s.TFTPAddr(), name, 512); err == nil {
			t.Errorf("read %q succeeded", name)
		}
	}

	c, err := tftp.NewClient(s.TFTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(time.Second)
	if rf, err := c.Send("undionly.kpxe", "octet"); err == nil {
		if _, err := rf.ReadFrom(strings.NewReader("overwrite")); err == nil {
			t.Error("write request accepted")
		}
	}
	if got, _, _ := tftpGet(s.TFTPAddr(), "undionly.kpxe", 512); !bytes.Equal(got, files["undionly.kpxe"]) {
		t.Error("undionly.kpxe changed after a write request")
	}
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "ramdisk")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	initramfs := randomFile(t, dir, "initramfs", 300_000)
	randomFile(t, dir, ".hidden", 10)
	ipxeDir := filepath.Join(root, "ipxe")
	if err := os.Mkdir(ipxeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	snp := randomFile(t, ipxeDir, "snponly.efi", 2000)
	s := startServer(t, Config{RamdiskDir: dir, IPXEDir: ipxeDir, PublicHTTPURL: "http://10.0.2.2:8080"}, testConfigs())
	base := "http://" + s.HTTPAddr()

	t.Run("ipxe binaries for http boot", func(t *testing.T) {
		resp, body := httpGet(t, base+"/ipxe-bin/snponly.efi")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, snp) {
			t.Errorf("snponly.efi: status %d, %d bytes", resp.StatusCode, len(body))
		}
		for _, p := range []string{"/ipxe-bin/initramfs", "/ipxe-bin/..%2fsecret", "/ipxe-bin/"} {
			if resp, _ := httpGet(t, base+p); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: status %d", p, resp.StatusCode)
			}
		}
	})

	t.Run("range", func(t *testing.T) {
		resp, body := httpGet(t, base+"/images/initramfs", "Range", "bytes=1000-1999")
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, initramfs[1000:2000]) {
			t.Errorf("status %d, %d bytes", resp.StatusCode, len(body))
		}
		if got, want := resp.Header.Get("Content-Range"), "bytes 1000-1999/300000"; got != want {
			t.Errorf("Content-Range = %q, want %q", got, want)
		}
		resp, body = httpGet(t, base+"/images/initramfs")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, initramfs) || resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("full: status %d, %d bytes, Accept-Ranges %q", resp.StatusCode, len(body), resp.Header.Get("Accept-Ranges"))
		}
	})

	t.Run("no traversal or listing", func(t *testing.T) {
		for _, p := range []string{
			"/images/..%2fsecret", "/images/%2e%2e%2fsecret", "/images/../secret", "/images/..%5csecret",
			"/images/.hidden", "/images/sub", "/images/", "/images/missing", "/images/%00",
		} {
			resp, body := httpGet(t, base+p)
			if resp.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("secret")) {
				t.Errorf("GET %s: status %d, body %q", p, resp.StatusCode, body)
			}
		}
	})

	t.Run("scripts", func(t *testing.T) {
		resp, body := httpGet(t, base+"/boot.ipxe")
		if resp.StatusCode != http.StatusOK || string(body) != bootScript {
			t.Errorf("boot.ipxe: %d %q", resp.StatusCode, body)
		}
		_, body = httpGet(t, base+"/ipxe/52-54-00-12-34-56")
		if !bytes.Contains(body, []byte("kernel --name kernel http://10.0.2.2:8080/images/vmlinuz ")) {
			t.Errorf("deploy script:\n%s", body)
		}
		_, body = httpGet(t, base+"/ipxe/52-54-00-AA-BB-CC")
		if !bytes.Contains(body, []byte("sanboot --no-describe --drive 0x80 || exit")) {
			t.Errorf("local script:\n%s", body)
		}
		if resp, _ := httpGet(t, base+"/ipxe/nonsense"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("bad MAC: status %d", resp.StatusCode)
		}
	})

	t.Run("configs failure is retryable", func(t *testing.T) {
		failing := startServer(t, Config{PublicHTTPURL: "http://10.0.2.2:8080"}, &fakeConfigs{err: errors.New("db down")})
		resp, body := httpGet(t, "http://"+failing.HTTPAddr()+"/ipxe/52-54-00-12-34-56")
		if resp.StatusCode != http.StatusServiceUnavailable || bytes.Contains(body, []byte("db down")) {
			t.Errorf("status %d body %q", resp.StatusCode, body)
		}
	})
}

func TestShutdownReleasesPorts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := randomFile(t, dir, "ipxe.efi", 4096)
	s, err := New(Config{TFTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", IPXEDir: dir}, testConfigs())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	var tftpAddr, httpAddr string
	for deadline := time.Now().Add(5 * time.Second); tftpAddr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		tftpAddr, httpAddr = s.TFTPAddr(), s.HTTPAddr()
	}
	if got, _, err := tftpGet(tftpAddr, "ipxe.efi", 1468); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("before shutdown: %d bytes, %v", len(got), err)
	}
	if err := s.Start(t.Context()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if s.TFTPAddr() != "" || s.HTTPAddr() != "" {
		t.Errorf("addresses after shutdown: %q %q", s.TFTPAddr(), s.HTTPAddr())
	}
	pc, err := net.ListenPacket("udp4", tftpAddr)
	if err != nil {
		t.Fatalf("TFTP port not released: %v", err)
	}
	pc.Close()
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		t.Fatalf("HTTP port not released: %v", err)
	}
	ln.Close()
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg Config
		c   Configs
	}{
		{Config{HTTPAddr: ":0"}, nil},
		{Config{}, testConfigs()},
		{Config{HTTPAddr: ":0", PublicHTTPURL: "10.0.2.2:8080"}, testConfigs()},
		{Config{HTTPAddr: ":0", PublicHTTPURL: "tftp://10.0.2.2"}, testConfigs()},
	} {
		if _, err := New(tt.cfg, tt.c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("New(%+v) = %v, want ErrBadConfig", tt.cfg, err)
		}
	}
}
