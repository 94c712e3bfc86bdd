package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/lima-vm/go-qcow2reader/image/qcow2"
)

// qcow2 images are converted while they stream, without a local copy.
//
// go-qcow2reader needs an io.ReaderAt. It is given seqReaderAt, a view of
// the one sequential download that:
//   - serves reads at or ahead of the stream position by reading forward
//     (skipped bytes still pass through the hash, so the checksum covers the
//     file exactly once, in order);
//   - serves reads shortly behind the position from a window of the last
//     qcow2Window bytes (compressed clusters overlap, headers are reread);
//   - serves older reads with an HTTP range request (not hashed: those bytes
//     were hashed when the stream passed them).
//
// The guest disk is walked in increasing offsets. Images written by
// `qemu-img convert` place metadata and clusters nearly in that order, so
// they stream with few or no range requests; an image whose clusters are
// scattered (one grown by a running VM) still works, one range request per
// out-of-order cluster, if the server honours Range.
//
// Not supported: backing files, external data files, encryption, zstd
// cluster compression (go-qcow2reader registers no zstd decompressor by
// default). Extended-L2 images work but reread their L2 tables per cluster.
const qcow2Window = 8 << 20

type qcow2Source struct {
	img         *qcow2.Qcow2
	ra          *seqReaderAt
	virtualSize int64
	log         *slog.Logger
}

func qcow2Producer(ctx context.Context, c *http.Client, url string, hdr []byte, stream io.Reader, log *slog.Logger) (*qcow2Source, error) {
	// Refuse backing files before go-qcow2reader tries to open one from the
	// local filesystem. Header: magic(4) version(4) backing_file_offset(8).
	if len(hdr) < 16 {
		return nil, fmt.Errorf("%w: qcow2 header too short", ErrUnsupportedFormat)
	}
	if binary.BigEndian.Uint64(hdr[8:16]) != 0 {
		return nil, fmt.Errorf("%w: qcow2 image with a backing file", ErrUnsupportedFormat)
	}
	ra := &seqReaderAt{r: stream, ring: make([]byte, qcow2Window), fetch: func(p []byte, off int64) (int, error) {
		return fetchRange(ctx, c, url, p, off)
	}}
	img, err := qcow2.Open(ra, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: qcow2: %w", ErrUnsupportedFormat, err)
	}
	if err := img.Readable(); err != nil {
		return nil, fmt.Errorf("%w: qcow2: %w", ErrUnsupportedFormat, err)
	}
	return &qcow2Source{img: img, ra: ra, virtualSize: img.Size(), log: log}, nil
}

// produce walks the guest disk in buffer-sized, buffer-aligned steps. A
// step that is wholly unallocated or zero becomes a zero range (merged with
// its neighbours); any other step is read whole, zeros included.
func (q *qcow2Source) produce(ctx context.Context, pl *pipeline) error {
	step := int64(pl.bufSize)
	var zoff, zlen int64
	flush := func() error {
		if zlen == 0 {
			return nil
		}
		err := pl.emit(ctx, chunk{off: zoff, n: zlen})
		zlen = 0
		return err
	}
	for off := int64(0); off < q.virtualSize; {
		l := min(step-off%step, q.virtualSize-off)
		ext, err := q.img.Extent(off, l)
		if err != nil {
			return fmt.Errorf("qcow2 extent at %d: %w", off, err)
		}
		if ext.Length == l && (ext.Zero || !ext.Allocated) {
			if zlen == 0 {
				zoff = off
			}
			zlen += l
			off += l
			if zlen >= maxZeroRun {
				if err := flush(); err != nil {
					return err
				}
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		buf, err := pl.get(ctx)
		if err != nil {
			return err
		}
		n, err := q.img.ReadAt(buf[:l], off)
		if err != nil && !(errors.Is(err, io.EOF) && int64(n) == l) {
			pl.put(buf)
			return fmt.Errorf("qcow2 read at %d: %w", off, err)
		}
		if err := pl.emit(ctx, chunk{buf: buf, n: l, off: off}); err != nil {
			return err
		}
		off += l
	}
	if err := flush(); err != nil {
		return err
	}
	// Hash the rest of the file (trailing metadata) and check its length.
	if err := q.ra.drain(); err != nil {
		return fmt.Errorf("qcow2 read tail: %w", err)
	}
	if q.ra.fetches > 0 {
		q.log.Info("qcow2 image is not laid out in guest order", "range_requests", q.ra.fetches, "range_bytes", q.ra.fetched)
	}
	return nil
}

// fetchRange reads len(p) bytes at off with an HTTP range request.
func fetchRange(ctx context.Context, c *http.Client, url string, p []byte, off int64) (int, error) {
	rng := "bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+int64(len(p))-1, 10)
	resp, err := get(ctx, c, url, rng)
	if err != nil {
		return 0, fmt.Errorf("qcow2 range request (server must honour Range for this image's layout): %w", err)
	}
	defer resp.Body.Close()
	n, err := fill(resp.Body, p)
	if err == io.EOF && n < len(p) {
		err = io.ErrUnexpectedEOF
	} else if err == io.EOF {
		err = nil
	}
	return n, err
}

// seqReaderAt is an io.ReaderAt over a forward-only stream; see the comment
// at the top of this file. Not safe for concurrent use (go-qcow2reader is
// used from one goroutine).
type seqReaderAt struct {
	r     io.Reader
	pos   int64  // offset of the next byte of r
	ring  []byte // the last len(ring) bytes before pos, byte x at ring[x%len]
	valid int64  // bytes of ring that hold data (≤ len(ring))
	eof   bool
	fetch func(p []byte, off int64) (int, error)

	fetches int   // range requests made
	fetched int64 // bytes they returned
}

func (s *seqReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("qcow2: negative offset")
	}
	w := int64(len(s.ring))
	n := 0
	for n < len(p) {
		o := off + int64(n)
		switch start := s.pos - s.valid; {
		case o < start: // behind the window: range request up to the window
			k := min(int64(len(p)-n), start-o)
			m, err := s.fetch(p[n:n+int(k)], o)
			s.fetches++
			s.fetched += int64(m)
			n += m
			if err != nil {
				return n, err
			}
		case o < s.pos: // inside the window
			k := min(int64(len(p)-n), s.pos-o)
			i := o % w
			c := copy(p[n:n+int(k)], s.ring[i:])
			copy(p[n+c:n+int(k)], s.ring[:int(k)-c])
			n += int(k)
		case s.eof:
			return n, io.EOF
		default: // ahead: stream forward (skipping if needed), keep in the window
			if err := s.advance(o + min(int64(len(p)-n), w/2)); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// advance reads the stream into the window until pos reaches target or the
// stream ends.
func (s *seqReaderAt) advance(target int64) error {
	w := int64(len(s.ring))
	for s.pos < target && !s.eof {
		i := s.pos % w
		k := min(w-i, target-s.pos)
		m, err := s.r.Read(s.ring[i : i+k])
		s.pos += int64(m)
		s.valid = min(w, s.valid+int64(m))
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

// drain reads the stream to its end.
func (s *seqReaderAt) drain() error {
	if s.eof {
		return nil
	}
	n, err := io.Copy(io.Discard, s.r)
	s.pos += n
	s.valid = 0
	s.eof = err == nil
	return err
}
