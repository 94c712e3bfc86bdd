package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ferric-project/ferric/agent/wire"
)

// ErrNoRAIDBuilder: the agent cannot build the RAID configuration asked for.
var ErrNoRAIDBuilder = errors.New("agent: cannot build this RAID configuration")

// mdMagic is the Linux md superblock's magic (MD_SB_MAGIC), little-endian
// in the 1.x formats and in 0.90 on little-endian machines.
const mdMagic = 0xa92b4efc

// mdSuperblockOffsets are where a member device of a Linux software RAID
// (md) holds its superblock, by metadata format: 1.1 at the start, 1.2
// 4 KiB in, 1.0 at least 8 KiB before the end (4 KiB aligned), 0.90 in
// the last 64 KiB-aligned 64 KiB block.
func mdSuperblockOffsets(size int64) []int64 {
	offs := []int64{0, 4096}
	if size >= 3*64<<10 {
		offs = append(offs, (size-8<<10)&^(4<<10-1), (size&^(64<<10-1))-64<<10)
	}
	return offs
}

// DeleteRAID deletes the software RAID the disk takes part in (Ironic's raid
// delete_configuration, as ironic-python-agent's generic hardware manager
// does for software RAID): every md superblock found on the whole device is
// zeroed, so no array assembles from it again. It returns how many it
// erased. Members that are partitions are left to erase_devices_metadata.
func DeleteRAID(open OpenDeviceFunc, name string) (int, error) {
	if open == nil {
		open = OpenBlockDevice
	}
	dev, err := open(name)
	if err != nil {
		return 0, fmt.Errorf("delete RAID on %s: %w", name, err)
	}
	defer dev.Close()
	r, ok := dev.(io.ReaderAt)
	if !ok {
		return 0, fmt.Errorf("delete RAID on %s: the device cannot be read", name)
	}
	size, _, err := deviceSize(dev)
	if err != nil {
		return 0, fmt.Errorf("delete RAID on %s: %w", name, err)
	}
	zeros := make([]byte, 4<<10)
	erased := 0
	var magic [4]byte
	for _, off := range mdSuperblockOffsets(size) {
		if _, err := r.ReadAt(magic[:], off); err != nil {
			if errors.Is(err, io.EOF) {
				continue
			}
			return erased, fmt.Errorf("delete RAID on %s: read at %d: %w", name, off, err)
		}
		if binary.LittleEndian.Uint32(magic[:]) != mdMagic {
			continue
		}
		if err := zeroRange(dev, zeros, off, int64(len(zeros))); err != nil {
			return erased, fmt.Errorf("delete RAID on %s: erase the superblock at %d: %w", name, off, err)
		}
		erased++
	}
	if erased > 0 {
		if err := dev.Sync(); err != nil {
			return erased, fmt.Errorf("delete RAID on %s: sync: %w", name, err)
		}
	}
	return erased, nil
}

// CreateRAID answers create_configuration: ferric-agent carries no RAID
// builder (software RAID needs mdadm, which the ferric ramdisk does not
// ship; hardware RAID needs its vendor's tool), so it refuses, naming what
// the configuration asked for, and nothing on the disks changes.
func CreateRAID(p wire.CreateRAID) error {
	var cfg struct {
		Disks []struct {
			Controller string `json:"controller"`
			Level      string `json:"raid_level"`
		} `json:"logical_disks"`
	}
	if err := json.Unmarshal(p.Config, &cfg); err != nil {
		return fmt.Errorf("create RAID: target_raid_config: %w", err)
	}
	software := 0
	for _, d := range cfg.Disks {
		if d.Controller == "software" {
			software++
		}
	}
	if software > 0 {
		return fmt.Errorf("%w: %d software RAID logical disk(s) need mdadm, which this ramdisk does not have",
			ErrNoRAIDBuilder, software)
	}
	return fmt.Errorf("%w: the %d logical disk(s) asked for need a hardware RAID controller's tool "+
		"(no logical disk has controller 'software')", ErrNoRAIDBuilder, len(cfg.Disks))
}
