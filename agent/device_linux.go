package agent

import (
	"errors"
	"syscall"
	"unsafe"
)

const (
	blkZeroOut      = 0x127f // _IO(0x12, 127)
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	sectorSize      = 512
)

// fastZero zeroes a range without copying buffers: BLKZEROOUT on a block
// device (virtio/NVMe write-zeroes or the kernel's own zero pages), hole
// punching plus extension on a regular file.
func fastZero(fd uintptr, off, n int64) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(fd), &st); err != nil {
		return err
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		if off%sectorSize != 0 || n%sectorSize != 0 {
			return errors.ErrUnsupported
		}
		r := [2]uint64{uint64(off), uint64(n)}
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, blkZeroOut, uintptr(unsafe.Pointer(&r))); e != 0 {
			return e
		}
		return nil
	case syscall.S_IFREG:
		end := off + n
		if off < st.Size {
			punch := min(end, st.Size) - off
			if err := syscall.Fallocate(int(fd), fallocPunchHole|fallocKeepSize, off, punch); err != nil {
				return err
			}
		}
		if end > st.Size {
			return syscall.Ftruncate(int(fd), end)
		}
		return nil
	}
	return errors.ErrUnsupported
}

// writeback keeps a sequential writer's dirty page cache bounded and
// overlaps disk I/O with the download: every writebackChunk it starts
// writeback of the new chunk and waits for the one before it, so that at
// most about two chunks are dirty and the final fsync has little left.
type writeback struct {
	fd      int
	started int64 // writeback started for [waited, started)
	waited  int64 // [0, waited) is on the device
}

const writebackChunk = 32 << 20

func newWriteback(d Device) *writeback {
	f, ok := d.(interface{ Fd() uintptr })
	if !ok {
		return nil
	}
	return &writeback{fd: int(f.Fd())}
}

// wrote tells that the device now holds data up to end.
func (w *writeback) wrote(end int64) {
	if w == nil || end-w.started < writebackChunk {
		return
	}
	const (
		waitBefore = 1
		write      = 2
		waitAfter  = 4
	)
	if err := syscall.SyncFileRange(w.fd, w.started, end-w.started, write); err != nil {
		return // not supported here: the final fsync does it all
	}
	if w.started > w.waited {
		_ = syscall.SyncFileRange(w.fd, w.waited, w.started-w.waited, waitBefore|write|waitAfter)
		w.waited = w.started
	}
	w.started = end
}
