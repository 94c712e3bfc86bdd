// Command mkinitramfs writes a gzip-compressed newc cpio archive (a Linux
// initramfs) reproducibly: entries sorted by name, uid/gid 0 unless a list
// says otherwise, one fixed mtime (SOURCE_DATE_EPOCH or 0), inodes numbered
// in order, no gzip name or time. The same inputs give the same bytes.
//
// Inputs are a directory tree (-dir) and/or a list in the kernel's
// gen_init_cpio format (-list), which can also describe device nodes:
//
//	dir   <name> <mode> <uid> <gid>
//	file  <name> <source> <mode> <uid> <gid>
//	slink <name> <target> <mode> <uid> <gid>
//	nod   <name> <mode> <uid> <gid> <b|c> <major> <minor>
//
// Missing parent directories are added with mode 0755.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	sIFDIR, sIFREG, sIFLNK, sIFCHR, sIFBLK = 0o040000, 0o100000, 0o120000, 0o020000, 0o060000
)

type entry struct {
	name         string // without leading slash
	mode         uint32 // type and permission bits
	uid, gid     uint32
	source       string // file: host path; slink: target
	major, minor uint32 // nod
}

func main() {
	out := flag.String("o", "", "output file (gzip'd newc cpio)")
	dir := flag.String("dir", "", "add this directory's tree (owned by root)")
	list := flag.String("list", "", "add the entries of this gen_init_cpio list")
	flag.Parse()
	if *out == "" || (*dir == "" && *list == "") {
		log.Fatal("usage: mkinitramfs -o OUT [-dir DIR] [-list FILE]")
	}
	var mtime int64
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var err error
		if mtime, err = strconv.ParseInt(s, 10, 64); err != nil {
			log.Fatalf("SOURCE_DATE_EPOCH: %v", err)
		}
	}
	if err := build(*out, *dir, *list, mtime); err != nil {
		log.Fatal(err)
	}
}

// build writes the archive of dir's tree and list's entries to out.
func build(out, dir, list string, mtime int64) error {
	entries := map[string]entry{}
	var err error
	add := func(e entry) {
		e.name = strings.Trim(path.Clean("/"+e.name), "/")
		if _, dup := entries[e.name]; (dup || e.name == "") && err == nil {
			err = fmt.Errorf("duplicate or empty entry %q", e.name)
		}
		entries[e.name] = e
	}
	if dir != "" {
		if werr := walkDir(dir, add); werr != nil {
			return werr
		}
	}
	if list != "" {
		if lerr := readList(list, add); lerr != nil {
			return lerr
		}
	}
	if err != nil {
		return err
	}
	for name := range entries { // implicit parents
		for p := path.Dir(name); p != "."; p = path.Dir(p) {
			if _, ok := entries[p]; !ok {
				entries[p] = entry{name: p, mode: sIFDIR | 0o755}
			}
		}
	}
	return write(out, slices.Sorted(maps.Keys(entries)), entries, mtime)
}

func walkDir(root string, add func(entry)) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e := entry{name: filepath.ToSlash(rel), mode: uint32(fi.Mode().Perm())}
		switch {
		case fi.IsDir():
			e.mode |= sIFDIR
		case fi.Mode().IsRegular():
			e.mode, e.source = e.mode|sIFREG, p
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.source, err = os.Readlink(p); err != nil {
				return err
			}
			e.mode = sIFLNK | 0o777
		default:
			return fmt.Errorf("%s: unsupported file type (describe device nodes in -list)", p)
		}
		add(e)
		return nil
	})
}

func readList(file string, add func(entry)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		want := map[string]int{"dir": 5, "file": 6, "slink": 6, "nod": 8}[fields[0]]
		if want == 0 || len(fields) != want {
			return fmt.Errorf("%s:%d: bad line %q", file, n, sc.Text())
		}
		num := func(i, base int) uint32 {
			v, perr := strconv.ParseUint(fields[i], base, 32)
			if perr != nil && err == nil {
				err = fmt.Errorf("%s:%d: field %d: %w", file, n, i+1, perr)
			}
			return uint32(v)
		}
		e := entry{name: fields[1]}
		switch fields[0] {
		case "dir":
			e.mode, e.uid, e.gid = sIFDIR|num(2, 8), num(3, 10), num(4, 10)
		case "file":
			e.source, e.mode, e.uid, e.gid = fields[2], sIFREG|num(3, 8), num(4, 10), num(5, 10)
		case "slink":
			e.source, e.mode, e.uid, e.gid = fields[2], sIFLNK|num(3, 8), num(4, 10), num(5, 10)
		case "nod":
			e.mode, e.uid, e.gid, e.major, e.minor = num(2, 8), num(3, 10), num(4, 10), num(6, 10), num(7, 10)
			e.mode |= map[string]uint32{"c": sIFCHR, "b": sIFBLK}[fields[5]]
			if fields[5] != "c" && fields[5] != "b" {
				return fmt.Errorf("%s:%d: node type must be b or c", file, n)
			}
		}
		if err != nil {
			return err
		}
		add(e)
	}
	return sc.Err()
}

// write emits the newc archive: a 110-byte ASCII header per entry, the name
// and the data each padded to 4 bytes, then the TRAILER!!! entry.
func write(out string, names []string, entries map[string]entry, mtime int64) error {
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestCompression) // zero header: no name, no mtime
	var off int64
	put := func(b []byte) {
		n, _ := zw.Write(b) // errors surface at Close
		off += int64(n)
	}
	pad := func() { put(make([]byte, (4-off%4)%4)) }
	header := func(ino uint32, e entry, size int64) {
		nlink := uint32(1)
		if e.mode&0o170000 == sIFDIR {
			nlink = 2
		}
		put(fmt.Appendf(nil, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, e.mode, e.uid, e.gid, nlink, uint32(mtime), uint32(size), 0, 0, e.major, e.minor, len(e.name)+1, 0))
		put(append([]byte(e.name), 0))
		pad()
	}
	for i, name := range names {
		e := entries[name]
		var data []byte
		switch e.mode & 0o170000 {
		case sIFREG:
			if data, err = os.ReadFile(e.source); err != nil {
				return err
			}
		case sIFLNK:
			data = []byte(e.source)
		}
		header(uint32(i+1), e, int64(len(data)))
		put(data)
		pad()
	}
	header(0, entry{name: "TRAILER!!!"}, 0)
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}
