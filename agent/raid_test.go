package agent_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferric-project/ferric/agent"
	"github.com/ferric-project/ferric/agent/wire"
)

func TestDeleteRAID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk")
	const size = 4 << 20
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	put := func(off int64, v uint32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], v)
		if _, err := f.WriteAt(b[:], off); err != nil {
			t.Fatal(err)
		}
	}
	// A 1.2 superblock (4 KiB in), a 0.90 one (the last 64 KiB block), and
	// something else at the start.
	put(4096, 0xa92b4efc)
	put(size-64<<10, 0xa92b4efc)
	put(0, 0x12345678)
	f.Close()
	n, err := agent.DeleteRAID(nil, path)
	if err != nil || n != 2 {
		t.Fatalf("DeleteRAID = %d, %v; want 2 superblocks", n, err)
	}
	b, _ := os.ReadFile(path)
	if binary.LittleEndian.Uint32(b[4096:]) != 0 || binary.LittleEndian.Uint32(b[size-64<<10:]) != 0 ||
		binary.LittleEndian.Uint32(b[0:]) != 0x12345678 {
		t.Error("the superblocks were not erased, or more was")
	}
	if n, err := agent.DeleteRAID(nil, path); err != nil || n != 0 {
		t.Errorf("again: %d, %v", n, err)
	}
}

func TestCreateRAIDRefuses(t *testing.T) {
	for _, cfg := range []string{
		`{"logical_disks":[{"size_gb":10,"raid_level":"1","controller":"software"}]}`,
		`{"logical_disks":[{"size_gb":10,"raid_level":"5"}]}`,
	} {
		err := agent.CreateRAID(wire.CreateRAID{Config: json.RawMessage(cfg)})
		if !errors.Is(err, agent.ErrNoRAIDBuilder) {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}
