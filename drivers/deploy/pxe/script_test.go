package pxe

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fakeConfigs is a hand-written Configs keyed by normalized MAC; it records
// the MACs it was asked about.
type fakeConfigs struct {
	byMAC map[string]BootConfig
	err   error
	asked chan string
}

func (f *fakeConfigs) BootConfig(_ context.Context, mac string) (BootConfig, bool, error) {
	if f.asked != nil {
		select {
		case f.asked <- mac:
		default:
		}
	}
	if f.err != nil {
		return BootConfig{}, false, f.err
	}
	c, ok := f.byMAC[mac]
	return c, ok, nil
}

const deployMAC = "52:54:00:12:34:56"

func testConfigs() *fakeConfigs {
	return &fakeConfigs{byMAC: map[string]BootConfig{
		deployMAC:           {Cmdline: "console=ttyS0 quiet ferric.api_url=http://10.0.2.2:6385 ferric.node=1be26c0b-03f2-4d2e-ae87-c02d7f33c123"},
		"52:54:00:00:00:02": {LocalDisk: true},
		"52:54:00:00:00:03": {Kernel: "http://images.example/k", Initramfs: "i.gz", Cmdline: "x"},
		"52:54:00:00:00:04": {Cmdline: "quiet\nshell"},
		"52:54:00:00:00:05": {Kernel: "../etc/passwd"},
	}}
}

func TestNormalizeMAC(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want string
		err      error
	}{
		{"52:54:00:12:34:56", deployMAC, nil},
		{"52-54-00-12-34-56", deployMAC, nil},
		{"52:54:00:12:34:5F", "52:54:00:12:34:5f", nil},
		{"01-52-54-00-12-34-56", deployMAC, nil},
		{"525400123456", deployMAC, nil},
		{"5254.0012.3456", deployMAC, nil},
		{"52:54:00:12:34", "", ErrBadMAC},
		{"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", "", ErrBadMAC}, // IPoIB
		{"zz-54-00-12-34-56", "", ErrBadMAC},
		{"", "", ErrBadMAC},
	} {
		got, err := NormalizeMAC(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("NormalizeMAC(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestNodeScript(t *testing.T) {
	t.Parallel()
	s, err := New(Config{HTTPAddr: "127.0.0.1:0", PublicHTTPURL: "http://10.0.2.2:8080/"}, testConfigs())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		mac  string
		want []string // substrings, in order
		not  []string
		err  error
	}{
		{
			name: "deploying MAC boots the ramdisk",
			mac:  deployMAC,
			want: []string{
				"#!ipxe\n",
				"kernel --name kernel http://10.0.2.2:8080/images/vmlinuz initrd=initrd BOOTIF=01-52-54-00-12-34-56 console=ttyS0 quiet ferric.api_url=http://10.0.2.2:6385 ferric.node=1be26c0b-03f2-4d2e-ae87-c02d7f33c123 || goto retry\n",
				"initrd --name initrd http://10.0.2.2:8080/images/initramfs || goto retry\n",
				"boot || goto retry\n",
			},
			not: []string{"sanboot"},
		},
		{
			name: "hex-hyphen form from iPXE is the same node",
			mac:  "52-54-00-12-34-56",
			want: []string{"kernel --name kernel http://10.0.2.2:8080/images/vmlinuz", "boot"},
		},
		{
			name: "pxelinux form is the same node",
			mac:  "01-52-54-00-12-34-56",
			want: []string{"initrd --name initrd http://10.0.2.2:8080/images/initramfs"},
		},
		{
			name: "unknown MAC boots the local disk",
			mac:  "52-54-00-ff-ff-ff",
			want: []string{"#!ipxe\n", "52:54:00:ff:ff:ff is not deploying", "sanboot --no-describe --drive 0x80 || exit\n"},
			not:  []string{"kernel", "initrd"},
		},
		{
			name: "explicit local disk",
			mac:  "52:54:00:00:00:02",
			want: []string{"sanboot --no-describe --drive 0x80 || exit\n"},
			not:  []string{"kernel"},
		},
		{
			name: "absolute kernel URL passes through, initramfs name is served",
			mac:  "52:54:00:00:00:03",
			want: []string{"kernel --name kernel http://images.example/k initrd=initrd BOOTIF=01-52-54-00-00-00-03 x ||", "initrd --name initrd http://10.0.2.2:8080/images/i.gz ||"},
		},
		{name: "newline in the command line cannot inject commands", mac: "52:54:00:00:00:04", err: ErrBadBoot},
		{name: "kernel name cannot leave RamdiskDir", mac: "52:54:00:00:00:05", err: ErrBadBoot},
		{name: "malformed MAC", mac: "52-54-00", err: ErrBadMAC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.script(t.Context(), s.public, tt.mac, "test", "")
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("script lacks (in order) %q:\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("script contains %q:\n%s", n, got)
				}
			}
		})
	}
}

func TestBootScriptChainsRelative(t *testing.T) {
	t.Parallel()
	// One text for HTTP and TFTP: the per-node URI must be relative.
	if !strings.HasPrefix(bootScript, "#!ipxe\n") || !strings.Contains(bootScript, "chain ipxe/${netX/mac:hexhyp} ||") {
		t.Errorf("boot.ipxe:\n%s", bootScript)
	}
}
