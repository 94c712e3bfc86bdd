package ssh

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real OpenSSH sshd on 127.0.0.1, run by the test as root with
// its own config, keys and a virsh stand-in first in PATH.
type testSSHD struct {
	tb        testing.TB
	dir       string
	state     string // $VIRSH_STATE
	config    string
	port      int
	hostKey   gossh.PublicKey // ed25519; the server also has an ECDSA key
	clientPEM []byte          // in authorized_keys

	mu  sync.Mutex
	cmd *exec.Cmd
	log *syncBuffer
}

// startSSHD starts sshd, or skips the test when it cannot run here (fails in
// CI instead).
func startSSHD(tb testing.TB) *testSSHD {
	tb.Helper()
	skip := tb.Skipf
	if os.Getenv("CI") != "" {
		skip = tb.Fatalf
	}
	if _, err := os.Stat(sshdPath); err != nil {
		skip("%s not found (apt-get install openssh-server): %v", sshdPath, err)
	}
	if os.Geteuid() != 0 {
		skip("sshd needs root to run here (privilege separation)")
	}
	// sshd insists on its root-owned privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		tb.Fatalf("create /run/sshd: %v", err)
	}

	dir := tb.TempDir()
	s := &testSSHD{tb: tb, dir: dir, state: filepath.Join(dir, "state"), config: filepath.Join(dir, "sshd_config")}
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{s.state, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	script, err := os.ReadFile("testdata/virsh")
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range []string{"virsh", "virt-xml"} {
		if err := os.WriteFile(filepath.Join(bin, name), script, 0o755); err != nil {
			tb.Fatal(err)
		}
	}

	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	writePEM(tb, filepath.Join(dir, "host_ed25519"), edPriv)
	s.hostKey = mustPublicKey(tb, edPub)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	writePEM(tb, filepath.Join(dir, "host_ecdsa"), ecPriv)

	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	s.clientPEM = pemBytes(tb, clientPriv)
	authorized := gossh.MarshalAuthorizedKey(mustPublicKey(tb, clientPub))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), authorized, 0o600); err != nil {
		tb.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	conf := fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s/host_ed25519
HostKey %s/host_ecdsa
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
MaxSessions 10
PrintMotd no
LogLevel VERBOSE
SetEnv PATH=%s:/usr/bin:/bin VIRSH_STATE=%s SHLVL=1
`, s.port, dir, dir, dir, dir, bin, s.state)
	// SHLVL=1: Debian's bash sources ~/.bashrc for commands run by sshd
	// unless it is a nested shell; root's .bashrc on a dev machine (pyenv,
	// nvm, ...) would otherwise add tens of ms to every command measured.
	if err := os.WriteFile(s.config, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

// start runs sshd -D and waits until it accepts connections.
func (s *testSSHD) start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", s.config)
	s.log = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd = cmd
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-exited:
			s.tb.Fatalf("sshd exited: %s", s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("sshd does not accept on %s: %v\n%s", addr, err, s.log.String())
		}
	}
}

// stop kills sshd and every process it started (connection handlers and
// the commands they run), by process ID: killing the listener alone leaves
// established connections working.
func (s *testSSHD) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	pids := descendants(s.cmd.Process.Pid)
	_ = s.cmd.Process.Kill()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_, _ = s.cmd.Process.Wait()
	s.cmd = nil
	if s.tb.Failed() {
		s.tb.Logf("sshd log:\n%s", s.log.String())
	}
}

// restart stops sshd and starts it again on the same port and keys.
func (s *testSSHD) restart() {
	s.stop()
	s.start()
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces and parentheses.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		f := strings.Fields(string(rest))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, children[p]...)
		queue = append(queue, children[p]...)
	}
	return out
}

// addVM creates a domain in the stand-in's state.
func (s *testSSHD) addVM(tb testing.TB, name, power, boot string) {
	tb.Helper()
	if err := os.MkdirAll(s.vmDir(name), 0o755); err != nil {
		tb.Fatal(err)
	}
	for file, value := range map[string]string{"power": power, "boot": boot} {
		if err := os.WriteFile(filepath.Join(s.vmDir(name), file), []byte(value+"\n"), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func (s *testSSHD) vmDir(name string) string {
	return filepath.Join(s.state, "dom-"+hex.EncodeToString([]byte(name)))
}

// vm reads a state file of a domain ("" when absent).
func (s *testSSHD) vm(name, file string) string {
	b, _ := os.ReadFile(filepath.Join(s.vmDir(name), file))
	return strings.TrimSpace(string(b))
}

// calls returns the stand-in's invocation log.
func (s *testSSHD) calls() []string {
	b, _ := os.ReadFile(filepath.Join(s.state, "calls.log"))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// info returns driver_info for vm on this sshd; a nil value in over deletes
// the key.
func (s *testSSHD) info(vm string, over map[string]any) json.RawMessage {
	m := map[string]any{
		"ssh_address":      "127.0.0.1",
		"ssh_port":         s.port,
		"ssh_username":     "root",
		"ssh_key_contents": string(s.clientPEM),
		"ssh_host_key":     string(gossh.MarshalAuthorizedKey(s.hostKey)),
		"ssh_vm_name":      vm,
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only strings and numbers
	}
	return b
}

func pemBytes(tb testing.TB, key any) []byte {
	tb.Helper()
	block, err := gossh.MarshalPrivateKey(key, "")
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

func writePEM(tb testing.TB, path string, key any) {
	tb.Helper()
	if err := os.WriteFile(path, pemBytes(tb, key), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func mustPublicKey(tb testing.TB, pub any) gossh.PublicKey {
	tb.Helper()
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// syncBuffer collects sshd's log from its output pipe.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
