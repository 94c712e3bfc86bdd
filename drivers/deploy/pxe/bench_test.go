package pxe

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
)

// BenchmarkTFTP compares this server with tftpd-hpa (in.tftpd, Debian's
// tftpd-hpa package) on the same file, block sizes and client (pin/tftp's).
// The tftpd-hpa half is skipped when in.tftpd is missing or we are not root
// (it chroots into the served folder). Run it with, for example:
//
//	go test -run '^$' -bench TFTP -benchtime 3x ./drivers/deploy/pxe/
//
// -short uses a 5 MiB file instead of 50 MiB.
func BenchmarkTFTP(b *testing.B) {
	size := 50 << 20
	if testing.Short() {
		size = 5 << 20
	}
	dir := b.TempDir()
	randomFile(b, dir, "big.bin", size)
	randomFile(b, dir, "ready", 1)

	ferric := startServer(b, Config{IPXEDir: dir}, testConfigs())
	servers := []struct {
		name string
		addr func(b *testing.B) string
	}{
		{"ferric", func(*testing.B) string { return ferric.TFTPAddr() }},
		{"tftpd-hpa", func(b *testing.B) string { return startTFTPDHPA(b, dir) }},
	}
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			addr := srv.addr(b)
			for _, blksize := range []int{512, 1468, 8192} {
				b.Run("blksize="+strconv.Itoa(blksize), func(b *testing.B) {
					b.SetBytes(int64(size))
					for b.Loop() {
						n, err := tftpDiscard(addr, "big.bin", blksize)
						if err != nil {
							b.Fatal(err)
						}
						if n != int64(size) {
							b.Fatalf("got %d bytes, want %d", n, size)
						}
					}
				})
			}
		})
	}
}

// tftpDiscard fetches name and counts the bytes.
func tftpDiscard(addr, name string, blksize int) (int64, error) {
	c, err := tftp.NewClient(addr)
	if err != nil {
		return 0, err
	}
	c.SetTimeout(2 * time.Second)
	c.SetBlockSize(blksize)
	wt, err := c.Receive(name, "octet")
	if err != nil {
		return 0, err
	}
	return wt.WriteTo(discard{})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// startTFTPDHPA runs in.tftpd in the foreground on a free loopback port,
// serving dir, until the benchmark ends.
func startTFTPDHPA(b *testing.B, dir string) string {
	b.Helper()
	bin, err := exec.LookPath("in.tftpd")
	if err != nil {
		bin = "/usr/sbin/in.tftpd"
	}
	if _, err := os.Stat(bin); err != nil {
		b.Skip("in.tftpd not installed (apt-get install tftpd-hpa)")
	}
	if os.Geteuid() != 0 {
		b.Skip("in.tftpd -s chroots: run as root")
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-L", "-s", "-u", "root", "-a", addr, dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatalf("start in.tftpd: %v", err)
	}
	b.Cleanup(func() {
		cancel() // kills our own child
		cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := tftp.NewClient(addr)
		if err != nil {
			b.Fatal(err)
		}
		c.SetTimeout(200 * time.Millisecond)
		c.SetRetries(1)
		if _, err = c.Receive("ready", "octet"); err == nil {
			return addr
		} else if time.Now().After(deadline) {
			b.Fatalf("in.tftpd on %s not ready: %v", addr, err)
		}
	}
}
