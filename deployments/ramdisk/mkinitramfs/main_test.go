package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

type cpioEntry struct {
	name       string
	mode       uint64
	mtime      uint64
	rmaj, rmin uint64
	data       []byte
}

// parseNewc reads back a gzip'd newc archive, checking the 4-byte alignment.
func parseNewc(t *testing.T, gz []byte) []cpioEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out []cpioEntry
	for off := 0; ; {
		if off%4 != 0 || string(raw[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d", off)
		}
		field := func(i int) uint64 {
			v, err := strconv.ParseUint(string(raw[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		size, namesize := int(field(6)), int(field(11))
		e := cpioEntry{name: string(raw[off+110 : off+110+namesize-1]), mode: field(1), mtime: field(5), rmaj: field(9), rmin: field(10)}
		off = (off + 110 + namesize + 3) &^ 3
		e.data = raw[off : off+size]
		off = (off + size + 3) &^ 3
		name := e.name
		if name == "TRAILER!!!" {
			if off != len(raw) && len(bytes.Trim(raw[off:], "\x00")) != 0 {
				t.Errorf("data after trailer")
			}
			return out
		}
		out = append(out, e)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	for name, data := range map[string]string{"bin/tool": "#!/bin/sh\n", "etc/conf": "a=1\n"} {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("tool", filepath.Join(tree, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "init"), []byte("#!/bin/sh\necho hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(src, "list")
	if err := os.WriteFile(list, []byte("# comment\n"+
		"nod /dev/console 0600 0 0 c 5 1\n"+
		"file /init "+filepath.Join(src, "init")+" 0755 0 0\n"+
		"dir /tmp 1777 0 0\n"+
		"slink /usr/lib/x ../../bin/tool 0777 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var archives [][]byte
	for i := range 2 {
		out := filepath.Join(t.TempDir(), "initramfs")
		if i == 1 { // a later build over files with other times: same bytes
			later := time.Now().Add(time.Hour)
			for _, p := range []string{"bin/tool", "etc/conf", "bin", "."} {
				if err := os.Chtimes(filepath.Join(tree, p), later, later); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := build(out, tree, list, 0); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, b)
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Fatal("two builds of the same inputs differ")
	}

	entries := parseNewc(t, archives[0])
	var names []string
	byName := map[string]cpioEntry{}
	for _, e := range entries {
		names = append(names, e.name)
		byName[e.name] = e
		if e.mtime != 0 {
			t.Errorf("%s: mtime %d", e.name, e.mtime)
		}
	}
	want := []string{"bin", "bin/sh", "bin/tool", "dev", "dev/console", "etc", "etc/conf", "init", "tmp", "usr", "usr/lib", "usr/lib/x"}
	if !slices.Equal(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
	for name, w := range map[string]struct {
		mode       uint64
		data       string
		rmaj, rmin uint64
	}{
		"dev/console": {0o020600, "", 5, 1},
		"init":        {0o100755, "#!/bin/sh\necho hi\n", 0, 0},
		"tmp":         {0o041777, "", 0, 0},
		"usr":         {0o040755, "", 0, 0},
		"bin/sh":      {0o120777, "tool", 0, 0},
		"usr/lib/x":   {0o120777, "../../bin/tool", 0, 0},
		"etc/conf":    {0o100755, "a=1\n", 0, 0},
	} {
		e := byName[name]
		if e.mode != w.mode || string(e.data) != w.data || e.rmaj != w.rmaj || e.rmin != w.rmin {
			t.Errorf("%s = mode %o data %q dev %d:%d; want %o %q %d:%d", name, e.mode, e.data, e.rmaj, e.rmin, w.mode, w.data, w.rmaj, w.rmin)
		}
	}
}

func TestBuildRejectsDuplicates(t *testing.T) {
	list := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(list, []byte("dir /a 0755 0 0\ndir /a/ 0755 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := build(filepath.Join(t.TempDir(), "out"), "", list, 0); err == nil {
		t.Error("duplicate entry accepted")
	}
}
