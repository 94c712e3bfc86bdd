//go:build linux

package pxe

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQEMUBoot network-boots the deploy ramdisk built by `make ramdisk` in a
// QEMU VM through this server and follows the serial console until the agent
// runs: iPXE (QEMU's virtio-net ROM) gets boot.ipxe, chains to the per-node
// script, loads vmlinuz and initramfs over HTTP; /init loads the modules,
// gets 10.0.2.15 by DHCP and starts ferric-agent (which then fails to reach
// an API: fine). It takes minutes under TCG, so it only runs with
// FERRIC_TEST_QEMU=1 (FERRIC_TEST_RAMDISK_DIR overrides ../../../ramdisk/out).
func TestQEMUBoot(t *testing.T) {
	if os.Getenv("FERRIC_TEST_QEMU") != "1" {
		t.Skip("set FERRIC_TEST_QEMU=1 (needs qemu-system-x86, ipxe-qemu and `make ramdisk`)")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	ramdisk := os.Getenv("FERRIC_TEST_RAMDISK_DIR")
	if ramdisk == "" {
		ramdisk = "../../../ramdisk/out"
	}
	for _, f := range []string{"vmlinuz", "initramfs"} {
		if _, err := os.Stat(filepath.Join(ramdisk, f)); err != nil {
			t.Skipf("no ramdisk (make ramdisk): %v", err)
		}
	}
	for _, tt := range []struct {
		name     string
		bootfile func(s *Server) string
		firmware []string
	}{
		{"recipe_A_http_bootfile", func(s *Server) string { return "http://10.0.2.2:" + port(s.HTTPAddr()) + "/boot.ipxe" }, nil},
		{"recipe_B_tftp_bootfile", func(s *Server) string { return "tftp://10.0.2.2:" + port(s.TFTPAddr()) + "/boot.ipxe" }, nil},
		{"uefi_recipe_A", func(s *Server) string { return "http://10.0.2.2:" + port(s.HTTPAddr()) + "/boot.ipxe" },
			[]string{"-bios", "/usr/share/qemu/OVMF.fd"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.firmware != nil {
				if _, err := os.Stat(tt.firmware[1]); err != nil {
					t.Skip(err)
				}
			}
			asked := make(chan string, 4)
			// QEMU's user network maps the guest's 10.0.2.2 to the host's
			// loopback, so 127.0.0.1 ports serve the VM.
			start := time.Now()
			mark := func(what string) { t.Logf("%6.1fs  %s", time.Since(start).Seconds(), what) }
			tftpAddr, httpAddr := freePort(t, "udp4"), freePort(t, "tcp4")
			s := startServer(t, Config{
				TFTPAddr:      tftpAddr,
				HTTPAddr:      httpAddr,
				RamdiskDir:    ramdisk,
				PublicHTTPURL: "http://10.0.2.2:" + port(httpAddr),
				Log: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) {
					mark("server: " + strings.TrimSpace(string(p)))
				}), &slog.HandlerOptions{Level: slog.LevelDebug})),
			}, &fakeConfigs{asked: asked, byMAC: map[string]BootConfig{deployMAC: {
				Cmdline: "console=ttyS0 quiet ferric.api_url=http://10.0.2.2:1 ferric.node=00000000-0000-0000-0000-000000000001",
			}}})
			disk := filepath.Join(t.TempDir(), "disk.img")
			if err := os.WriteFile(disk, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(disk, 64<<20); err != nil {
				t.Fatal(err)
			}
			// No romfile=: QEMU's default for virtio-net-pci is ipxe-qemu's
			// efi-virtio.rom (BIOS and UEFI images), found on its firmware
			// path. Naming the same file explicitly left SeaBIOS 1.16.2
			// without a network boot entry here.
			args := append(accel(),
				"-m", "512", "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
				"-netdev", "user,id=n0,bootfile="+tt.bootfile(s),
				"-device", "virtio-net-pci,netdev=n0,mac="+deployMAC,
				"-drive", "file="+disk+",if=virtio,format=raw",
				"-boot", "n")
			args = append(args, tt.firmware...)
			ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, qemu, args...)                     // killed (our own child) when ctx ends
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // or when the test binary dies
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cancel()
				cmd.Wait()
			}()

			go func() {
				for {
					select {
					case mac := <-asked:
						mark("boot server asked about " + mac)
					case <-ctx.Done():
						return
					}
				}
			}()
			var console strings.Builder
			// Console milestones, in order. quiet hides the kernel's own
			// messages: the first line is /init's.
			steps := []struct {
				what string
				ok   func(line string) bool
			}{
				{"/init runs", prefix("ferric-ramdisk: init on kernel")},
				{"modules loaded", prefix("ferric-ramdisk: modules: ")},
				{"DHCP lease applied", prefix("udhcpc: eth0 10.0.2.15/")},
				{"agent started", prefix("ferric-ramdisk: starting ferric-agent")},
				{"agent output", func(l string) bool {
					return strings.Contains(l, "ferric-agent") && !strings.HasPrefix(l, "ferric-ramdisk:")
				}},
			}
			sc := bufio.NewScanner(out)
			for len(steps) > 0 && sc.Scan() {
				line := strings.TrimRight(sc.Text(), "\r")
				console.WriteString(line + "\n")
				if !steps[0].ok(line) {
					continue
				}
				mark(steps[0].what + ": " + line)
				if strings.HasPrefix(line, "ferric-ramdisk: modules: ") {
					for _, m := range []string{"virtio_net", "virtio_blk", "virtio_pci"} {
						if !strings.Contains(line, m) {
							t.Errorf("module %s not loaded: %s", m, line)
						}
					}
				}
				steps = steps[1:]
			}
			if len(steps) > 0 {
				t.Fatalf("console never showed %q (ctx: %v); console:\n%s", steps[0].what, ctx.Err(), console.String())
			}
			t.Logf("console:\n%s", console.String())
		})
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func prefix(p string) func(string) bool {
	return func(l string) bool { return strings.HasPrefix(l, p) }
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	if strings.HasPrefix(network, "udp") {
		pc, err := net.ListenPacket(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = pc.LocalAddr().String()
		pc.Close()
	} else {
		ln, err := net.Listen(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	return addr
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// accel is KVM when the CPU really has it (a nested /dev/kvm without vmx/svm
// hangs the guest), else TCG.
func accel() []string {
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		if strings.Contains(string(cpuinfo), " vmx") || strings.Contains(string(cpuinfo), " svm") {
			return []string{"-accel", "kvm", "-cpu", "host"}
		}
	}
	return []string{"-accel", "tcg", "-cpu", "max"}
}
