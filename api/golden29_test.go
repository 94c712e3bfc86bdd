package api

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Ironic 29's exchanges (testdata/ironic29-wire, taken with its capture.sh
// from the real Ironic 29.0.5 of shared/peers/ironic-modern) are replayed
// by runGolden like Ironic 21.4's: a goldenCase whose file is
// ironic29Prefix+"name.txt". Each feature past 1.82 has its own test
// function with its cases; this file holds what they share.

// runGolden29 replays Ironic 29 captures, each against a fresh server.
func runGolden29(t *testing.T, tests []goldenCase) {
	t.Helper()
	for i := range tests {
		if !strings.HasPrefix(tests[i].file, ironic29Prefix) {
			tests[i].file = ironic29Prefix + tests[i].file
		}
	}
	runGoldens(t, tests)
}

// TestGolden29Root: the version documents at the new maximum.
func TestGolden29Root(t *testing.T) {
	t.Parallel()
	runGolden29(t, []goldenCase{
		{file: "root_latest.txt"},
		{file: "root_nover.txt"},
		{file: "root_bad_version.txt"},
	})
}

// TestGolden29EveryVersion: every microversion past Ironic 21.4's maximum
// up to the one ferric advertises has at least one exchange with Ironic 29
// that asks for exactly that version, and every capture is replayed by
// some test (its name appears in a _test.go file of this package).
func TestGolden29EveryVersion(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "ironic29-wire")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	tests, _ := filepath.Glob("*_test.go")
	for _, f := range tests {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources.Write(b)
	}
	seen := map[int][]string{}
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".txt") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sources.String(), `"`+ent.Name()+`"`) {
			t.Errorf("capture %s is replayed by no test", ent.Name())
		}
		first, _, _ := strings.Cut(string(raw), "\n")
		for _, h := range strings.Split(first, " -H ")[1:] {
			k, v, _ := strings.Cut(h, ": ")
			v, _, _ = strings.Cut(v, " -d ")
			v = strings.TrimPrefix(strings.TrimSpace(v), "baremetal ")
			if !strings.EqualFold(k, hdrVersion) && !strings.EqualFold(k, "OpenStack-API-Version") {
				continue
			}
			if m, ok := strings.CutPrefix(v, "1."); ok {
				if n, err := strconv.Atoi(m); err == nil {
					seen[n] = append(seen[n], ent.Name())
				}
			}
		}
	}
	for v := 83; v <= maxMinor; v++ {
		if len(seen[v]) == 0 {
			t.Errorf("no Ironic 29 exchange at 1.%d (advertised maximum %s)", v, maxVersionString)
		}
	}
}
