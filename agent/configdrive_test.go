package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/deploy/configdrive"
)

// The config drive writer is checked with independent tools: sfdisk (or
// sgdisk) makes the disk's partition table as an image builder would,
// partx/sfdisk/sgdisk read the result, blkid and isoinfo read the ISO in the
// new partition.

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// disk makes a sparse disk image of size bytes; layout is an sfdisk script
// ("" = no partition table).
func disk(t *testing.T, size int64, layout string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if layout != "" {
		run(t, layout, needTool(t, "sfdisk"), "--quiet", "--no-reread", "--no-tell-kernel", path)
	}
	return path
}

func rwOpen(name string) (Device, error) { return os.OpenFile(name, os.O_RDWR, 0) }

// sampleDrive is a config drive built the way the worker builds it.
func sampleDrive(t *testing.T) string {
	t.Helper()
	cd, err := configdrive.Build(json.RawMessage(`{"meta_data":{"hostname":"cd-test"},"user_data":"#cloud-config\nruncmd: [echo hi]\n"}`),
		configdrive.Node{UUID: "1be26c0b-03f2-4d2e-ae87-c02d7f33c123", Name: "n1"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cd
}

// sfdiskJSON reads the partition table with sfdisk.
type sfdiskTable struct {
	PartitionTable struct {
		Label      string `json:"label"`
		Partitions []struct {
			Node  string `json:"node"`
			Start int64  `json:"start"`
			Size  int64  `json:"size"`
			Type  string `json:"type"`
			Name  string `json:"name"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

func readTable(t *testing.T, path string) sfdiskTable {
	t.Helper()
	var tab sfdiskTable
	out := run(t, "", needTool(t, "sfdisk"), "--json", path)
	if err := json.Unmarshal([]byte(out), &tab); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, out)
	}
	return tab
}

// checkISO reads the config drive at off with blkid and isoinfo.
func checkISO(t *testing.T, path string, off int64, size int64) {
	t.Helper()
	out := run(t, "", needTool(t, "blkid"), "-p", "-O", strconv.FormatInt(off, 10), "-o", "export", path)
	if !strings.Contains(out, "LABEL=config-2") || !strings.Contains(out, "TYPE=iso9660") {
		t.Errorf("blkid at %d: %s", off, out)
	}
	part := filepath.Join(t.TempDir(), "part.iso")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, raw[off:off+size], 0o644); err != nil {
		t.Fatal(err)
	}
	ud := run(t, "", needTool(t, "isoinfo"), "-R", "-i", part, "-x", "/openstack/latest/user_data")
	if !strings.Contains(ud, "runcmd: [echo hi]") {
		t.Errorf("user_data on the disk: %q", ud)
	}
	md := run(t, "", "isoinfo", "-R", "-i", part, "-x", "/openstack/2012-08-10/meta_data.json")
	if !strings.Contains(md, `"uuid":"1be26c0b-03f2-4d2e-ae87-c02d7f33c123"`) || !strings.Contains(md, `"hostname":"cd-test"`) {
		t.Errorf("meta_data on the disk: %q", md)
	}
}

func TestWriteConfigDriveMBR(t *testing.T) {
	path := disk(t, 256<<20, "label: dos\nstart=2048, size=65536, type=83\n")
	cd := sampleDrive(t)
	res, err := WriteConfigDrive(t.Context(), rwOpen, nil, wire.WriteConfigDrive{Device: path, ConfigDrive: cd,
		ImageSize: 40 << 20})
	if err != nil {
		t.Fatal(err)
	}
	tab := readTable(t, path)
	if tab.PartitionTable.Label != "dos" || len(tab.PartitionTable.Partitions) != 2 {
		t.Fatalf("table after: %+v", tab)
	}
	p := tab.PartitionTable.Partitions[1]
	if res.Partition != 2 || p.Start*512 != res.Start || p.Size*512 != ConfigDrivePartitionSize ||
		(p.Start+p.Size)*512 > 256<<20 || p.Start*512 < 40<<20 {
		t.Fatalf("config drive partition %+v, result %+v", p, res)
	}
	checkISO(t, path, res.Start, res.ISOSize)

	// A rebuild writes into the same partition.
	again, err := WriteConfigDrive(t.Context(), rwOpen, nil, wire.WriteConfigDrive{Device: path, ConfigDrive: cd})
	if err != nil || again.Partition != 2 || again.Start != res.Start {
		t.Fatalf("rewrite: %+v, %v", again, err)
	}
	if n := len(readTable(t, path).PartitionTable.Partitions); n != 2 {
		t.Errorf("rewrite added a partition: %d", n)
	}
}

func TestWriteConfigDriveGPT(t *testing.T) {
	// A GPT image made for a 100 MiB disk, written to a 512 MiB one: its
	// backup header sits at 100 MiB and must move to the end.
	path := disk(t, 100<<20, "label: gpt\nstart=2048, size=40960, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\n")
	if err := os.Truncate(path, 512<<20); err != nil {
		t.Fatal(err)
	}
	res, err := WriteConfigDrive(t.Context(), rwOpen, nil, wire.WriteConfigDrive{Device: path, ConfigDrive: sampleDrive(t),
		ImageSize: 100 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if sgdisk, err := exec.LookPath("sgdisk"); err == nil {
		out := run(t, "", sgdisk, "-v", path)
		if !strings.Contains(out, "No problems found") {
			t.Errorf("sgdisk -v: %s", out)
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("sgdisk is not installed (CI installs gdisk)")
	}
	tab := readTable(t, path)
	if tab.PartitionTable.Label != "gpt" || len(tab.PartitionTable.Partitions) != 2 {
		t.Fatalf("table after: %+v", tab)
	}
	p := tab.PartitionTable.Partitions[1]
	if p.Name != "config-2" || p.Start*512 != res.Start || p.Size*512 != ConfigDrivePartitionSize ||
		(p.Start+p.Size)*512 > (512<<20)-33*512 || p.Start*512 < 100<<20 {
		t.Fatalf("config drive partition %+v, result %+v", p, res)
	}
	checkISO(t, path, res.Start, res.ISOSize)
}

func TestWriteConfigDriveNoTable(t *testing.T) {
	// A raw image without a partition table (a bare boot sector): the
	// config drive gets the first MBR entry, after the image.
	path := disk(t, 128<<20, "")
	res, err := WriteConfigDrive(t.Context(), rwOpen, nil, wire.WriteConfigDrive{Device: path, ConfigDrive: sampleDrive(t),
		ImageSize: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	tab := readTable(t, path)
	if len(tab.PartitionTable.Partitions) != 1 || res.Partition != 1 || res.Start < 32<<20 {
		t.Fatalf("table %+v, result %+v", tab, res)
	}
	checkISO(t, path, res.Start, res.ISOSize)
}

func TestWriteConfigDriveRefusals(t *testing.T) {
	cd := sampleDrive(t)
	for _, tt := range []struct {
		name   string
		layout string
		size   int64
		image  int64
		drive  string
	}{
		{"four primary partitions", "label: dos\nsize=8192\nsize=8192\nsize=8192\nsize=8192\n", 256 << 20, 0, cd},
		{"disk too small for the image and the drive", "", 80 << 20, 40 << 20, cd},
		{"not an ISO", "", 256 << 20, 0, base64.StdEncoding.EncodeToString([]byte("hello"))},
		{"garbage", "", 256 << 20, 0, "!!! not a config drive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := disk(t, tt.size, tt.layout)
			before, _ := os.ReadFile(path)
			_, err := WriteConfigDrive(t.Context(), rwOpen, nil, wire.WriteConfigDrive{Device: path, ConfigDrive: tt.drive,
				ImageSize: tt.image})
			if !errors.Is(err, ErrConfigDrive) {
				t.Fatalf("err = %v, want ErrConfigDrive", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("a refused config drive changed the disk")
			}
		})
	}
}

func TestConfigDriveFromURL(t *testing.T) {
	cd := sampleDrive(t)
	raw, _ := base64.StdEncoding.DecodeString(cd)
	zr, _ := gzip.NewReader(bytes.NewReader(raw))
	var iso bytes.Buffer
	if _, err := iso.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"base64 gzip": []byte(cd), "raw iso": iso.Bytes(), "gzip": raw} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
			defer srv.Close()
			got, err := configDriveImage(context.Background(), srv.Client(), srv.URL+"/cd")
			if err != nil || !bytes.Equal(got, iso.Bytes()) {
				t.Fatalf("image %d bytes, %v", len(got), err)
			}
		})
	}
}
