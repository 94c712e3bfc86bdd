package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferric-project/ferric/api/auth/keystonetest"
	"github.com/ferric-project/ferric/store/storetest"
)

// gophercloud's own acceptance tests of the bare metal service
// (internal/acceptance/openstack/baremetal/{noauth,httpbasic,v1} of the
// module version go.mod pins, build tag acceptance) run against a ferric dev
// process, from the module cache: an internal package is only importable
// from its own module, so "go test" runs inside it (the module cache is
// read-only; go test writes only to the build cache). What each test must
// do is in testdata/gophercloud-acceptance.json, with what it did against
// the real Ironic 21.4. The server is noauth; the v1 flavour authenticates
// with a real Keystone (see identity), as it did in the Ironic run.
//
// FERRIC_ACCEPTANCE_ENDPOINT=http://127.0.0.1:6385 runs them against that
// server instead (the real Ironic, to re-record its column) and checks the
// "ironic" column.

const acceptanceExpectations = "testdata/gophercloud-acceptance.json"

// acceptanceList is testdata/gophercloud-acceptance.json.
type acceptanceList struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	OSBranch  string `json:"os_branch"`
	IronicRun string `json:"ironic_run"`
	Tests     []struct {
		Test   string `json:"test"`
		Ironic string `json:"ironic"`
		Ferric string `json:"ferric"`
		Reason string `json:"reason"`
	} `json:"tests"`
}

// Outcomes a test may be expected to have.
const (
	outcomePass    = "pass"
	outcomeSkip    = "skip"
	outcomeFail    = "fail"
	outcomePending = "pending" // may fail; reported when it passes
)

func loadAcceptanceList(t *testing.T) acceptanceList {
	t.Helper()
	raw, err := os.ReadFile(acceptanceExpectations)
	if err != nil {
		t.Fatal(err)
	}
	var l acceptanceList
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("%s: %v", acceptanceExpectations, err)
	}
	for _, e := range l.Tests {
		valid := func(s string) bool { return s == outcomePass || s == outcomeSkip || s == outcomePending }
		if !valid(e.Ferric) || !valid(e.Ironic) || e.Ironic == outcomePending {
			t.Fatalf("%s: %s: outcomes %q/%q", acceptanceExpectations, e.Test, e.Ironic, e.Ferric)
		}
		// What passes on Ironic must pass on ferric, or say why not yet.
		if e.Ironic == outcomePass && e.Ferric != outcomePass && e.Reason == "" {
			t.Errorf("%s: %s passes on Ironic but not on ferric, with no reason given", acceptanceExpectations, e.Test)
		}
	}
	return l
}

// moduleDir returns where the module go.mod requires lives (the module
// cache) and its version.
func moduleDir(t *testing.T, module string) (dir, version string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	dir, version, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	if dir == "" {
		// Not downloaded yet: fetch it (what go test ./... would do).
		if out, err := exec.Command("go", "mod", "download", module).CombinedOutput(); err != nil {
			t.Fatalf("go mod download %s: %v\n%s", module, err, out)
		}
		return moduleDir(t, module)
	}
	return dir, version
}

// devProc is a ferric dev process.
type devProc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (d *devProc) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.Write(p)
}

// startDev runs "ferric dev" on free ports, over a fresh schema of the test
// database (Temporal on SQLite in a temporary folder), and returns its API's
// base URL.
func startDev(t *testing.T, bin string) string {
	t.Helper()
	st := storetest.New(t)
	schema := st.Pool().Config().ConnConfig.RuntimeParams["search_path"]
	dbURL := storeURL(t, st)
	api := freeAddr(t)
	d := &devProc{cmd: exec.Command(bin, "dev", "-data-dir", t.TempDir(), "-database-url", dbURL,
		"-api-address", api, "-temporal-address", freeAddr(t), "-temporal-ui-address", "",
		// Temporal's files in the test's data folder: its PostgreSQL
		// persistence would share one database among parallel tests (and
		// the URL's search_path names a schema only the test database has).
		"-temporal-persistence", "sqlite",
		// ferric dev takes a "temporal" database on the server for this
		// data folder's history and then refuses SQLite; on the shared
		// test server another test's ferric dev may have made one. Name
		// one that does not exist (it is never created: SQLite is used).
		"-temporal-database", "acceptance_unused_"+strings.ToLower(schema),
		"-tftp-address", "", "-boot-http-address", "", "-power-sync-interval", "0", "-reconcile-interval", "0",
		"-conductor", "ferric-acceptance", "-log-format", "text")}
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start ferric dev: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			d.mu.Lock()
			t.Logf("ferric dev output (end):\n%s", e2eTail(d.out.String(), 20000))
			d.mu.Unlock()
		}
	})
	base := "http://" + api
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			d.mu.Lock()
			defer d.mu.Unlock()
			t.Fatalf("ferric dev exited:\n%s", e2eTail(d.out.String(), 20000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ferric dev did not answer on %s: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goTestEvent is one line of "go test -json".
type goTestEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// runAcceptance runs the packages' acceptance tests in the module at dir
// with env and returns each top-level test's outcome ("<flavour>/<Test>")
// and output.
func runAcceptance(t *testing.T, dir string, env, pkgs []string) (map[string]string, map[string]string) {
	t.Helper()
	args := append([]string{"test", "-json", "-count=1", "-p", "1", "-tags", "acceptance", "-timeout", "10m"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	// The module cache is read-only: no go.mod update, no workspace, no
	// toolchain switch.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=local")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	outcomes, outputs := map[string]string{}, map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e goTestEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Test == "" || strings.Contains(e.Test, "/") {
			continue
		}
		name := path.Base(e.Package) + "/" + e.Test
		switch e.Action {
		case "output":
			outputs[name] += e.Output
		case outcomePass, outcomeFail, outcomeSkip:
			outcomes[name] = e.Action
		}
	}
	if len(outcomes) == 0 {
		t.Fatalf("go test %s in %s ran no test (%v):\n%s\n%s", strings.Join(pkgs, " "), dir, err, stderr.String(),
			e2eTail(string(out), 5000))
	}
	return outcomes, outputs
}

// TestGophercloudAcceptance runs gophercloud's baremetal acceptance tests
// against ferric dev and checks each outcome against the list.
func TestGophercloudAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ferric dev and runs gophercloud's acceptance tests")
	}
	list := loadAcceptanceList(t)
	dir, version := moduleDir(t, list.Module)
	if version != list.Version {
		t.Fatalf("go.mod pins %s %s but %s lists the outcomes of %s: run the tests against Ironic "+
			"(FERRIC_ACCEPTANCE_ENDPOINT) and update the list", list.Module, version, acceptanceExpectations, list.Version)
	}
	column := "ferric"
	// Keystone (for the v1 flavour) starts while ferric dev does.
	keystone.Begin()
	endpoint := os.Getenv("FERRIC_ACCEPTANCE_ENDPOINT")
	if endpoint == "" {
		endpoint = startDev(t, ferricBinary(t))
	} else {
		column = "ironic"
	}
	const base = "./internal/acceptance/openstack/baremetal/"
	env := []string{"IRONIC_ENDPOINT=" + strings.TrimRight(endpoint, "/") + "/v1", "OS_BRANCH=" + list.OSBranch}
	pkgs := []string{base + "noauth", base + "httpbasic"}
	flavours := map[string]bool{"noauth": true, "httpbasic": true}
	// The httpbasic flavour sends OS_USERNAME and OS_PASSWORD (the
	// Keystone user's, when there is one), which a noauth server ignores.
	if idEnv, why := identity(t, endpoint); idEnv != nil {
		env = append(env, idEnv...)
		pkgs = append(pkgs, base+"v1")
		flavours["v1"] = true
	} else {
		env = append(env, "OS_USERNAME=acceptance", "OS_PASSWORD=acceptance")
		t.Logf("the v1 flavour is not run: %s", why)
	}
	start := time.Now()
	outcomes, outputs := runAcceptance(t, dir, env, pkgs)
	t.Logf("%d acceptance tests ran in %s against %s", len(outcomes), time.Since(start).Round(time.Millisecond), endpoint)

	listed := map[string]bool{}
	var passed []string
	for _, e := range list.Tests {
		listed[e.Test] = true
		flavour, _, _ := strings.Cut(e.Test, "/")
		if !flavours[flavour] {
			continue
		}
		want := e.Ferric
		if column == "ironic" {
			want = e.Ironic
		}
		got, ran := outcomes[e.Test]
		switch {
		case !ran:
			t.Errorf("%s did not run (listed as %s)", e.Test, want)
		case got == outcomePass:
			passed = append(passed, e.Test)
			if want == outcomePending {
				t.Logf("%s now passes (listed as pending: %s): mark it pass in %s", e.Test, e.Reason, acceptanceExpectations)
			} else if want != outcomePass {
				t.Errorf("%s passed, listed as %s", e.Test, want)
			}
		case want == outcomePending:
			t.Logf("%s: %s (pending: %s)\n%s", e.Test, got, e.Reason, e2eTail(outputs[e.Test], 4000))
		case got != want:
			t.Errorf("%s: %s, want %s (%s)\n%s", e.Test, got, want, e.Reason, e2eTail(outputs[e.Test], 4000))
		}
	}
	var unlisted []string
	for name := range outcomes {
		if !listed[name] {
			unlisted = append(unlisted, name+" ("+outcomes[name]+")")
		}
	}
	sort.Strings(unlisted)
	if len(unlisted) > 0 {
		t.Errorf("tests not in %s (add them with their outcome on Ironic): %s", acceptanceExpectations,
			strings.Join(unlisted, ", "))
	}
	sort.Strings(passed)
	t.Logf("passed on %s (%d): %s", column, len(passed), strings.Join(passed, " "))
	if column == "ironic" {
		t.Logf("Ironic run of %s: update ironic_run in %s when recording it", time.Now().UTC().Format("2006-01-02"),
			filepath.Base(acceptanceExpectations))
	}
}

// identity gives the v1 flavour what it authenticates with, as the
// environment gophercloud's acceptance clients read (OS_AUTH_URL and the
// rest): a real Keystone (the package's shared one) whose catalog names
// endpoint as the bare metal service. The server itself stays noauth, as
// in the Ironic run: Keystone only gives gophercloud its token and the
// catalog. It returns nil and why when keystone is not installed (a
// failure when CI is set: CI must run the v1 flavour).
func identity(t *testing.T, endpoint string) ([]string, string) {
	t.Helper()
	wait := time.Now()
	ks, err := keystone.Server()
	if errors.Is(err, keystonetest.ErrNotInstalled) {
		if keystonetest.Required() {
			t.Fatalf("%v; CI must run the v1 flavour", err)
		}
		return nil, err.Error()
	}
	if err != nil {
		t.Fatalf("keystone: %v", err)
	}
	t.Logf("Keystone at %s (waited %s for it once the server answered)", ks.URL, time.Since(wait).Round(time.Millisecond))
	// The catalog holds the service's root (as Ironic's does): gophercloud
	// adds v1/. The package's tests that register a bare metal endpoint do
	// not run in parallel, so this one is the catalog's only one.
	unregister, err := ks.RegisterEndpoint(t.Context(), "baremetal", strings.TrimRight(endpoint, "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unregister(); err != nil {
			t.Errorf("unregister the baremetal endpoint: %v", err)
		}
	})
	// The bootstrap admin, scoped to project admin.
	return []string{"OS_AUTH_URL=" + ks.URL, "OS_USERNAME=admin", "OS_PASSWORD=" + keystonetest.AdminPassword,
		"OS_PROJECT_NAME=admin", "OS_DOMAIN_ID=default", "OS_REGION_NAME=RegionOne"}, ""
}
