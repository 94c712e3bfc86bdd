package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"unicode/utf16"

	"github.com/ferric-project/ferric/agent/wire"
)

// Config drive sizes, as Ironic's agent: the partition is 64 MiB at the end
// of the disk, and an image larger than that is refused.
const (
	ConfigDrivePartitionSize = 64 << 20
	maxConfigDriveSize       = ConfigDrivePartitionSize
	sector                   = 512
	alignSectors             = 2048 // 1 MiB
)

// ErrConfigDrive: the config drive cannot be decoded or placed.
var ErrConfigDrive = errors.New("agent: config drive")

// ReadWriteDevice is a Device that can also be read (a disk opened
// read-write): writing a config drive reads the partition table first.
type ReadWriteDevice interface {
	Device
	io.ReaderAt
}

// configDriveImage decodes the config drive of a command: a URL is
// downloaded; base64 is decoded; gzip is gunzipped; the result must be an
// ISO 9660 image of at most 64 MiB.
func configDriveImage(ctx context.Context, client *http.Client, cd string) ([]byte, error) {
	var data []byte
	if strings.HasPrefix(cd, "http://") || strings.HasPrefix(cd, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cd, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: url: %w", ErrConfigDrive, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: download: %w", ErrConfigDrive, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%w: download: %w", ErrConfigDrive, &StatusError{URL: cd, Code: resp.StatusCode})
		}
		// base64 of gzip is larger than the image: allow for it.
		if data, err = io.ReadAll(io.LimitReader(resp.Body, 2*maxConfigDriveSize+1)); err != nil {
			return nil, fmt.Errorf("%w: download: %w", ErrConfigDrive, err)
		}
	} else {
		data = []byte(cd)
	}
	if dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(data)), "")); err == nil {
		data = dec
	} else if !isISO(data) && !isGzip(data) {
		return nil, fmt.Errorf("%w: neither base64, gzip nor an ISO 9660 image", ErrConfigDrive)
	}
	if isGzip(data) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%w: gunzip: %w", ErrConfigDrive, err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, maxConfigDriveSize+1))
		if err != nil {
			return nil, fmt.Errorf("%w: gunzip: %w", ErrConfigDrive, err)
		}
		data = out
	}
	if len(data) > maxConfigDriveSize {
		return nil, fmt.Errorf("%w: image larger than %d MiB", ErrConfigDrive, maxConfigDriveSize>>20)
	}
	if !isISO(data) {
		return nil, fmt.Errorf("%w: not an ISO 9660 image", ErrConfigDrive)
	}
	return data, nil
}

func isGzip(b []byte) bool { return len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b }

// isISO checks the primary volume descriptor's "CD001" at sector 16.
func isISO(b []byte) bool { return len(b) >= 32774 && string(b[32769:32774]) == "CD001" }

// isoLabel returns the volume identifier of the ISO 9660 image at off.
func isoLabel(d io.ReaderAt, off int64) string {
	var pvd [72]byte
	if _, err := d.ReadAt(pvd[:], off+32768); err != nil || string(pvd[1:6]) != "CD001" {
		return ""
	}
	return strings.TrimRight(string(pvd[40:72]), " \x00")
}

// WriteConfigDrive writes the config drive of p onto p.Device: into an
// existing partition that already holds a config-2 filesystem big enough
// (a rebuild), else into a new 64 MiB partition at the end of the disk,
// added to its MBR or GPT table (the GPT's backup structures are moved to
// the end of the disk first, as the image was made for a smaller one).
func WriteConfigDrive(ctx context.Context, open OpenDeviceFunc, client *http.Client, p wire.WriteConfigDrive) (wire.WriteConfigDriveResult, error) {
	res := wire.WriteConfigDriveResult{Device: p.Device}
	if client == nil {
		client = NewImageClient()
	}
	iso, err := configDriveImage(ctx, client, p.ConfigDrive)
	if err != nil {
		return res, err
	}
	res.ISOSize = int64(len(iso))
	if open == nil {
		open = OpenBlockDevice
	}
	d, err := open(p.Device)
	if err != nil {
		return res, fmt.Errorf("write config drive to %s: %w", p.Device, err)
	}
	defer d.Close()
	dev, ok := d.(ReadWriteDevice)
	if !ok {
		return res, fmt.Errorf("write config drive to %s: %w: device is not readable", p.Device, ErrConfigDrive)
	}
	size, _, err := deviceSize(dev)
	if err != nil {
		return res, fmt.Errorf("write config drive to %s: %w", p.Device, err)
	}
	var mbr [sector]byte
	if _, err := dev.ReadAt(mbr[:], 0); err != nil {
		return res, fmt.Errorf("write config drive to %s: read MBR: %w", p.Device, err)
	}
	var part partition
	imageEnd := (p.ImageSize+sector-1)/sector - 1 // last sector the image used
	if isProtectiveMBR(mbr[:]) {
		part, err = gptConfigDrive(dev, size, mbr[:], int64(len(iso)), imageEnd)
	} else {
		part, err = mbrConfigDrive(dev, size, mbr[:], int64(len(iso)), imageEnd)
	}
	if err != nil {
		return res, fmt.Errorf("write config drive to %s: %w", p.Device, err)
	}
	if _, err := dev.WriteAt(iso, part.start); err != nil {
		return res, classifyWriteError(fmt.Errorf("write config drive to %s: %w", p.Device, err))
	}
	if err := dev.Sync(); err != nil {
		return res, fmt.Errorf("write config drive to %s: sync: %w", p.Device, err)
	}
	res.Partition, res.Start, res.Size = part.number, part.start, part.size
	return res, nil
}

// partition is a place on the disk for the config drive.
type partition struct {
	number      int
	start, size int64 // bytes
}

// newPartitionRange returns the sectors [first, last] of a new partition of
// ConfigDrivePartitionSize ending at or before lastUsable, 1 MiB aligned,
// after every used sector.
func newPartitionRange(lastUsable, usedEnd int64) (first, last int64, err error) {
	sectors := int64(ConfigDrivePartitionSize / sector)
	first = (lastUsable + 1 - sectors) / alignSectors * alignSectors
	if first <= usedEnd {
		return 0, 0, fmt.Errorf("%w: no room for a %d MiB partition after the image's partitions (the disk is too small)",
			ErrConfigDrive, ConfigDrivePartitionSize>>20)
	}
	return first, first + sectors - 1, nil
}

// MBR layout.
const (
	mbrEntries   = 446
	mbrEntrySize = 16
	typeGPTProt  = 0xEE
	typeLinux    = 0x83
)

func isProtectiveMBR(mbr []byte) bool {
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return false
	}
	for i := 0; i < 4; i++ {
		if mbr[mbrEntries+i*mbrEntrySize+4] == typeGPTProt {
			return true
		}
	}
	return false
}

// mbrConfigDrive finds or makes the config drive partition of an MBR disk
// (one without a partition table gets one).
func mbrConfigDrive(dev ReadWriteDevice, size int64, mbr []byte, isoSize, imageEnd int64) (partition, error) {
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		// No partition table (a raw image): start an empty one; whatever
		// the entries' bytes held was not a table.
		clear(mbr[mbrEntries:510])
		mbr[510], mbr[511] = 0x55, 0xAA
	}
	free, usedEnd := -1, max(imageEnd, 0)
	for i := 0; i < 4; i++ {
		e := mbr[mbrEntries+i*mbrEntrySize : mbrEntries+(i+1)*mbrEntrySize]
		typ := e[4]
		first := int64(binary.LittleEndian.Uint32(e[8:12]))
		count := int64(binary.LittleEndian.Uint32(e[12:16]))
		if typ == 0 || count == 0 {
			if free < 0 {
				free = i
			}
			continue
		}
		start, psize := first*sector, count*sector
		if isoLabel(dev, start) == "config-2" && psize >= isoSize {
			return partition{number: i + 1, start: start, size: psize}, nil
		}
		usedEnd = max(usedEnd, first+count-1)
	}
	if free < 0 {
		return partition{}, fmt.Errorf("%w: the MBR already has 4 primary partitions", ErrConfigDrive)
	}
	lastLBA := size/sector - 1
	if lastLBA > 0xFFFFFFFF {
		lastLBA = 0xFFFFFFFF // the MBR addresses 2 TiB
	}
	first, last, err := newPartitionRange(lastLBA, usedEnd)
	if err != nil {
		return partition{}, err
	}
	e := mbr[mbrEntries+free*mbrEntrySize : mbrEntries+(free+1)*mbrEntrySize]
	clear(e)
	copy(e[1:4], []byte{0xFE, 0xFF, 0xFF}) // CHS: beyond 8 GiB, use the LBA fields
	e[4] = typeLinux
	copy(e[5:8], []byte{0xFE, 0xFF, 0xFF})
	binary.LittleEndian.PutUint32(e[8:12], uint32(first))
	binary.LittleEndian.PutUint32(e[12:16], uint32(last-first+1))
	if _, err := dev.WriteAt(mbr, 0); err != nil {
		return partition{}, classifyWriteError(fmt.Errorf("write MBR: %w", err))
	}
	return partition{number: free + 1, start: first * sector, size: (last - first + 1) * sector}, nil
}

// GPT layout (UEFI spec, chapter 5).
const (
	gptSignature  = "EFI PART"
	gptHeaderSize = 92
)

// linuxDataGUID is the GPT type of a Linux filesystem partition
// (0FC63DAF-8483-4772-8E79-3D69D8477DE4), in its on-disk byte order.
var linuxDataGUID = [16]byte{0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4}

// gptConfigDrive finds or makes the config drive partition of a GPT disk.
// The image's backup header and entries sit where its disk ended; they are
// rewritten at the real end of this disk, with the new entry, and both
// headers get new CRCs.
func gptConfigDrive(dev ReadWriteDevice, size int64, mbr []byte, isoSize, imageEnd int64) (partition, error) {
	hdr := make([]byte, sector)
	if _, err := dev.ReadAt(hdr, sector); err != nil {
		return partition{}, fmt.Errorf("read GPT header: %w", err)
	}
	if string(hdr[0:8]) != gptSignature {
		return partition{}, fmt.Errorf("%w: protective MBR without a GPT header", ErrConfigDrive)
	}
	hsize := binary.LittleEndian.Uint32(hdr[12:16])
	if hsize < gptHeaderSize || hsize > sector {
		return partition{}, fmt.Errorf("%w: GPT header size %d", ErrConfigDrive, hsize)
	}
	want := binary.LittleEndian.Uint32(hdr[16:20])
	binary.LittleEndian.PutUint32(hdr[16:20], 0)
	if crc32.ChecksumIEEE(hdr[:hsize]) != want {
		return partition{}, fmt.Errorf("%w: GPT header checksum mismatch", ErrConfigDrive)
	}
	entriesLBA := int64(binary.LittleEndian.Uint64(hdr[72:80]))
	count := int64(binary.LittleEndian.Uint32(hdr[80:84]))
	esize := int64(binary.LittleEndian.Uint32(hdr[84:88]))
	if esize < 128 || count <= 0 || count*esize > 1<<20 {
		return partition{}, fmt.Errorf("%w: GPT entry array %d x %d", ErrConfigDrive, count, esize)
	}
	entries := make([]byte, count*esize)
	if _, err := dev.ReadAt(entries, entriesLBA*sector); err != nil {
		return partition{}, fmt.Errorf("read GPT entries: %w", err)
	}
	if crc32.ChecksumIEEE(entries) != binary.LittleEndian.Uint32(hdr[88:92]) {
		return partition{}, fmt.Errorf("%w: GPT entries checksum mismatch", ErrConfigDrive)
	}
	free, usedEnd := int64(-1), max(entriesLBA+(count*esize+sector-1)/sector-1, imageEnd)
	var zero [16]byte
	for i := int64(0); i < count; i++ {
		e := entries[i*esize : (i+1)*esize]
		if bytes.Equal(e[0:16], zero[:]) {
			if free < 0 {
				free = i
			}
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:40]))
		last := int64(binary.LittleEndian.Uint64(e[40:48]))
		if isoLabel(dev, first*sector) == "config-2" && (last-first+1)*sector >= isoSize {
			return partition{number: int(i) + 1, start: first * sector, size: (last - first + 1) * sector}, nil
		}
		usedEnd = max(usedEnd, last)
	}
	if free < 0 {
		return partition{}, fmt.Errorf("%w: the GPT has no free entry", ErrConfigDrive)
	}
	lastLBA := size/sector - 1
	entrySectors := (count*esize + sector - 1) / sector
	lastUsable := lastLBA - entrySectors - 1
	first, last, err := newPartitionRange(lastUsable, usedEnd)
	if err != nil {
		return partition{}, err
	}
	e := entries[free*esize : (free+1)*esize]
	clear(e)
	copy(e[0:16], linuxDataGUID[:])
	if _, err := rand.Read(e[16:32]); err != nil {
		return partition{}, fmt.Errorf("partition GUID: %w", err)
	}
	e[16+7] = e[16+7]&0x0F | 0x40 // version 4 (mixed-endian field: byte 7 holds the version)
	e[16+8] = e[16+8]&0x3F | 0x80
	binary.LittleEndian.PutUint64(e[32:40], uint64(first))
	binary.LittleEndian.PutUint64(e[40:48], uint64(last))
	for i, u := range utf16.Encode([]rune("config-2")) {
		binary.LittleEndian.PutUint16(e[56+2*i:], u)
	}
	entriesCRC := crc32.ChecksumIEEE(entries)

	backupEntriesLBA := lastLBA - entrySectors
	header := func(my, alternate, entriesAt int64) []byte {
		h := make([]byte, sector)
		copy(h, hdr[:hsize])
		binary.LittleEndian.PutUint64(h[24:32], uint64(my))
		binary.LittleEndian.PutUint64(h[32:40], uint64(alternate))
		binary.LittleEndian.PutUint64(h[48:56], uint64(lastUsable))
		binary.LittleEndian.PutUint64(h[72:80], uint64(entriesAt))
		binary.LittleEndian.PutUint32(h[88:92], entriesCRC)
		binary.LittleEndian.PutUint32(h[16:20], 0)
		binary.LittleEndian.PutUint32(h[16:20], crc32.ChecksumIEEE(h[:hsize]))
		return h
	}
	// Backup first, primary last: a crash in between leaves the old
	// primary, which still describes the image.
	for _, w := range []struct {
		data []byte
		lba  int64
	}{
		{entries, backupEntriesLBA},
		{header(lastLBA, 1, backupEntriesLBA), lastLBA},
		{entries, entriesLBA},
		{header(1, lastLBA, entriesLBA), 1},
	} {
		if _, err := dev.WriteAt(w.data, w.lba*sector); err != nil {
			return partition{}, classifyWriteError(fmt.Errorf("write GPT at LBA %d: %w", w.lba, err))
		}
	}
	// The protective MBR covers the whole disk.
	for i := 0; i < 4; i++ {
		pe := mbr[mbrEntries+i*mbrEntrySize : mbrEntries+(i+1)*mbrEntrySize]
		if pe[4] == typeGPTProt {
			binary.LittleEndian.PutUint32(pe[12:16], uint32(min(lastLBA, 0xFFFFFFFF)))
		}
	}
	if _, err := dev.WriteAt(mbr, 0); err != nil {
		return partition{}, classifyWriteError(fmt.Errorf("write protective MBR: %w", err))
	}
	return partition{number: int(free) + 1, start: first * sector, size: (last - first + 1) * sector}, nil
}
