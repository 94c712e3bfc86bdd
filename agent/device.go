package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Device is where images and wipes are written. *os.File satisfies it (a
// block device or, in tests, a regular file).
//
// Optional capabilities, found by type assertion:
//   - Size() (int64, error): the device's capacity in bytes; writes past it
//     fail with ErrNoSpace before they are attempted. *os.File on a block
//     device reports its size; a regular file is unbounded.
//   - Fd() uintptr: lets zeroing use BLKZEROOUT (block device) or
//     fallocate(PUNCH_HOLE) (regular file) instead of writing zero buffers.
type Device interface {
	io.WriterAt
	Sync() error
	Close() error
}

// OpenDeviceFunc opens a disk by name ("/dev/vda") for writing.
type OpenDeviceFunc func(name string) (Device, error)

// OpenBlockDevice is the default OpenDeviceFunc: the device opened
// read-write (page cache, no O_SYNC, no O_DIRECT; writers fsync at the end).
// Writing a config drive reads the partition table first.
func OpenBlockDevice(name string) (Device, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open device: %w", err)
	}
	return f, nil
}

// deviceSize returns the capacity of d and whether writes are bounded by it.
// For a regular file it returns the file's current size, unbounded.
func deviceSize(d Device) (size int64, bounded bool, err error) {
	switch v := d.(type) {
	case interface{ Size() (int64, error) }:
		size, err := v.Size()
		return size, err == nil && size > 0, err
	case *os.File:
		st, err := v.Stat()
		if err != nil {
			return 0, false, fmt.Errorf("stat device: %w", err)
		}
		if st.Mode().IsRegular() {
			return st.Size(), false, nil
		}
		end, err := v.Seek(0, io.SeekEnd) // block devices report their size here
		if err != nil {
			return 0, false, fmt.Errorf("size device: %w", err)
		}
		return end, end > 0, nil
	}
	return 0, false, nil
}

// classifyWriteError maps "disk full" errors onto ErrNoSpace.
func classifyWriteError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EFBIG) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// zeroRange makes [off, off+n) of d read as zeros: the fast way when d is a
// file descriptor that supports it, else by writing zero buffers from zeros.
func zeroRange(d Device, zeros []byte, off, n int64) error {
	if n <= 0 {
		return nil
	}
	if f, ok := d.(interface{ Fd() uintptr }); ok {
		if err := fastZero(f.Fd(), off, n); err == nil {
			return nil
		}
	}
	for n > 0 {
		k := int64(len(zeros))
		if k > n {
			k = n
		}
		if _, err := d.WriteAt(zeros[:k], off); err != nil {
			return classifyWriteError(fmt.Errorf("write zeros at %d: %w", off, err))
		}
		off += k
		n -= k
	}
	return nil
}

// EraseMetadata zeroes the first and last MiB of the device: partition
// tables (MBR, GPT and its backup in the last 33 sectors) and most
// filesystem, RAID and LVM signatures (Ironic's erase_devices_metadata),
// then fsyncs it.
func EraseMetadata(open OpenDeviceFunc, name string) error {
	const span = 1 << 20
	if open == nil {
		open = OpenBlockDevice
	}
	dev, err := open(name)
	if err != nil {
		return fmt.Errorf("erase metadata of %s: %w", name, err)
	}
	defer dev.Close()
	size, _, err := deviceSize(dev)
	if err != nil {
		return fmt.Errorf("erase metadata of %s: %w", name, err)
	}
	zeros := make([]byte, span)
	head := min(int64(span), size)
	if size <= 0 {
		head = span // unknown size: the head at least
	}
	if err := zeroRange(dev, zeros, 0, head); err != nil {
		return fmt.Errorf("erase metadata of %s: head: %w", name, err)
	}
	if tail := max(head, size-span); tail < size {
		if err := zeroRange(dev, zeros, tail, size-tail); err != nil {
			return fmt.Errorf("erase metadata of %s: tail: %w", name, err)
		}
	}
	if err := dev.Sync(); err != nil {
		return fmt.Errorf("erase metadata of %s: sync: %w", name, err)
	}
	return nil
}

// EraseDevice overwrites every byte of the device with zeros (Ironic's
// erase_devices), in 64 MiB chunks, reporting progress and stopping when ctx
// ends, then fsyncs it. A device whose size cannot be told is refused: there
// is no end to erase up to.
func EraseDevice(ctx context.Context, open OpenDeviceFunc, name string, prog *Progress) error {
	const chunk = 64 << 20
	if open == nil {
		open = OpenBlockDevice
	}
	dev, err := open(name)
	if err != nil {
		return fmt.Errorf("erase %s: %w", name, err)
	}
	defer dev.Close()
	size, _, err := deviceSize(dev)
	if err != nil {
		return fmt.Errorf("erase %s: %w", name, err)
	}
	if size <= 0 {
		return fmt.Errorf("erase %s: %w: size unknown", name, ErrNoDevice)
	}
	prog.setTotal(prog.total.Load() + size)
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += chunk {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("erase %s: %w", name, err)
		}
		n := min(chunk, size-off)
		if err := zeroRange(dev, zeros, off, n); err != nil {
			return fmt.Errorf("erase %s: %w", name, err)
		}
		prog.add(n)
	}
	if err := dev.Sync(); err != nil {
		return fmt.Errorf("erase %s: sync: %w", name, err)
	}
	return nil
}
