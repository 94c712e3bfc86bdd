package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/ferric-project/ferric/agent/wire"
)

// Image formats (wire.WriteImage.Format).
const (
	FormatRaw   = "raw"
	FormatGzip  = "gzip"
	FormatZstd  = "zstd"
	FormatQcow2 = "qcow2"
)

// Defaults of ImageWriter.
const (
	DefaultBufferSize   = 1 << 20
	DefaultBuffers      = 4
	DefaultStallTimeout = time.Minute
	// zstdMaxWindow bounds the zstd decoder's memory (zstd -19 uses 8 MiB,
	// --ultra -22 and --long=27 use 128 MiB).
	zstdMaxWindow = 128 << 20
	// maxZeroRun caps one zeroing step so progress moves smoothly.
	maxZeroRun = 256 << 20
	sniffLen   = 32
)

// ImageWriter streams images from HTTP onto a device. Memory use is bounded
// by Buffers×BufferSize (plus the decompressor's window and, for qcow2, a
// read-behind window): the image is never held whole in memory or on disk.
//
// Stages run concurrently: download (and decompression) → write → hash (raw
// images are hashed off the download path; compressed ones are hashed as
// downloaded, before the decompressor).
type ImageWriter struct {
	Client       *http.Client   // nil: a NewImageClient() per Write
	OpenDevice   OpenDeviceFunc // nil: OpenBlockDevice
	BufferSize   int            // bytes per buffer; default DefaultBufferSize
	Buffers      int            // buffers in flight; default DefaultBuffers
	StallTimeout time.Duration  // no byte for this long fails the write; default DefaultStallTimeout
	Log          *slog.Logger   // nil: discard
}

// Progress of a running write, updated by the writer and read by the
// heartbeat loop. The zero value is ready to use.
type Progress struct {
	written atomic.Int64
	total   atomic.Int64
}

// Get returns the bytes written to the device so far and the total when
// known (0 = unknown).
func (p *Progress) Get() (written, total int64) {
	if p == nil {
		return 0, 0
	}
	return p.written.Load(), p.total.Load()
}

func (p *Progress) add(n int64) {
	if p != nil {
		p.written.Add(n)
	}
}

func (p *Progress) setTotal(n int64) {
	if p != nil && n > 0 {
		p.total.Store(n)
	}
}

// NewImageClient returns the HTTP client used for images: no overall
// timeout (images are large; ImageWriter has a stall timeout instead) and no
// transparent decompression (the checksum is of the bytes as served).
func NewImageClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		DisableCompression:    true,
		ReadBufferSize:        256 << 10,
	}}
}

// Write streams p.URL onto p.Device and verifies the checksum on the way.
// prog (may be nil) is updated as bytes reach the device. The device is
// fsynced before Write returns. Errors wrap ErrChecksumMismatch,
// ErrTruncated, ErrStalled, ErrNoSpace, ErrUnsupportedFormat,
// ErrBadChecksum or a *StatusError.
func (w *ImageWriter) Write(ctx context.Context, p wire.WriteImage, prog *Progress) (wire.WriteImageResult, error) {
	var res wire.WriteImageResult
	if p.Device == "" {
		return res, ErrNoDevice
	}
	sum, err := parseChecksum(p)
	if err != nil {
		return res, err
	}
	h, _ := newHash(sum.algo) // algo validated by parseChecksum
	open := w.OpenDevice
	if open == nil {
		open = OpenBlockDevice
	}
	dev, err := open(p.Device)
	if err != nil {
		return res, fmt.Errorf("write image to %s: %w", p.Device, err)
	}
	defer dev.Close()
	size, bounded, err := deviceSize(dev)
	if err != nil {
		return res, fmt.Errorf("write image to %s: %w", p.Device, err)
	}

	client := w.Client
	if client == nil {
		client = NewImageClient()
		defer client.CloseIdleConnections()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := get(ctx, client, p.URL, "")
	if err != nil {
		return res, fmt.Errorf("write image: %w", err)
	}
	defer resp.Body.Close()
	body := newStallReader(resp.Body, w.stallTimeout(), func() { cancel(ErrStalled) })
	defer body.stop()

	hdr, err := sniff(body)
	if err != nil {
		return res, fmt.Errorf("write image: read %s: %w", p.URL, classifyReadError(ctx, err))
	}
	format := p.Format
	if format == "" {
		if format, err = detectFormat(hdr); err != nil {
			return res, fmt.Errorf("write image %s: %w", p.URL, err)
		}
	}
	stream := io.MultiReader(bytes.NewReader(hdr), body)
	log := w.log().With("url", p.URL, "device", p.Device, "format", format)
	log.Info("writing image", "content_length", resp.ContentLength, "device_size", size, "bounded", bounded)

	pl := &pipeline{dev: dev, bufSize: w.bufferSize(), nbuf: w.buffers(), prog: prog, size: size, bounded: bounded}
	var produce func(ctx context.Context, pl *pipeline) error
	switch format {
	case FormatRaw:
		if resp.ContentLength > 0 {
			if bounded && resp.ContentLength > size {
				return res, fmt.Errorf("write image: %w: image is %d bytes, %s is %d", ErrNoSpace, resp.ContentLength, p.Device, size)
			}
			prog.setTotal(resp.ContentLength)
		}
		pl.hash = h // hashed in its own stage, after the write
		produce = streamProducer(stream)
	case FormatGzip:
		produce = func(ctx context.Context, pl *pipeline) error {
			tee := io.TeeReader(stream, h)
			zr, err := gzip.NewReader(tee)
			if err != nil {
				return fmt.Errorf("open gzip stream: %w", err)
			}
			if err := streamProducer(zr)(ctx, pl); err != nil {
				return fmt.Errorf("gzip: %w", err)
			}
			_, err = io.Copy(io.Discard, tee) // hash whatever follows the last member
			return err
		}
	case FormatZstd:
		if n := zstdContentSize(hdr); n > 0 {
			prog.setTotal(n)
		}
		produce = func(ctx context.Context, pl *pipeline) error {
			tee := io.TeeReader(stream, h)
			zr, err := zstd.NewReader(tee, zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderLowmem(true), zstd.WithDecoderConcurrency(1))
			if err != nil {
				return fmt.Errorf("open zstd stream: %w", err)
			}
			defer zr.Close()
			if err := streamProducer(zr)(ctx, pl); err != nil {
				return fmt.Errorf("zstd: %w", err)
			}
			_, err = io.Copy(io.Discard, tee)
			return err
		}
	case FormatQcow2:
		q, err := qcow2Producer(ctx, client, p.URL, hdr, io.TeeReader(stream, h), log)
		if err != nil {
			return res, fmt.Errorf("write image %s: %w", p.URL, err)
		}
		if bounded && q.virtualSize > size {
			return res, fmt.Errorf("write image: %w: qcow2 virtual size is %d bytes, %s is %d", ErrNoSpace, q.virtualSize, p.Device, size)
		}
		prog.setTotal(q.virtualSize)
		produce = q.produce
	default:
		return res, fmt.Errorf("write image %s: %w: %q", p.URL, ErrUnsupportedFormat, format)
	}

	start := time.Now()
	written, err := pl.run(ctx, produce, func() { _ = resp.Body.Close() })
	if err != nil {
		return res, fmt.Errorf("write image %s to %s: %w", p.URL, p.Device, classifyReadError(ctx, err))
	}
	if err := dev.Sync(); err != nil {
		return res, fmt.Errorf("write image: sync %s: %w", p.Device, classifyWriteError(err))
	}
	got := h.Sum(nil)
	res = wire.WriteImageResult{BytesWritten: written, HashAlgo: sum.algo, HashValue: hex.EncodeToString(got)}
	elapsed := time.Since(start)
	log.Info("image written", "bytes", written, "seconds", elapsed.Round(time.Millisecond).Seconds(),
		"mb_per_s", math.Round(float64(written)/1e6/max(elapsed.Seconds(), 1e-9)), sum.algo, res.HashValue)
	if sum.want != nil && !bytes.Equal(got, sum.want) {
		return res, fmt.Errorf("write image %s: %w: %s is %x, want %x", p.URL, ErrChecksumMismatch, sum.algo, got, sum.want)
	}
	return res, nil
}

// get issues a GET (with a Range header when rng != "") and checks the status.
func get(ctx context.Context, c *http.Client, url, rng string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", url, err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	want := http.StatusOK
	if rng != "" {
		want = http.StatusPartialContent
	}
	if resp.StatusCode != want {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, &StatusError{URL: url, Code: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	}
	return resp, nil
}

func (w *ImageWriter) bufferSize() int {
	if w.BufferSize > 0 {
		return w.BufferSize
	}
	return DefaultBufferSize
}

func (w *ImageWriter) buffers() int {
	if w.Buffers > 0 {
		return w.Buffers
	}
	return DefaultBuffers
}

func (w *ImageWriter) stallTimeout() time.Duration {
	if w.StallTimeout > 0 {
		return w.StallTimeout
	}
	return DefaultStallTimeout
}

func (w *ImageWriter) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}

// sniff reads the first bytes of the image (fewer if the image is shorter).
func sniff(r io.Reader) ([]byte, error) {
	hdr := make([]byte, sniffLen)
	n, err := fill(r, hdr)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return hdr[:n], nil
}

// detectFormat tells the format from the first bytes of an image.
func detectFormat(hdr []byte) (string, error) {
	switch {
	case bytes.HasPrefix(hdr, []byte{0x1f, 0x8b}):
		return FormatGzip, nil
	case bytes.HasPrefix(hdr, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return FormatZstd, nil
	case bytes.HasPrefix(hdr, []byte("QFI\xfb")):
		return FormatQcow2, nil
	case bytes.HasPrefix(hdr, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return "", fmt.Errorf("%w: xz", ErrUnsupportedFormat)
	case bytes.HasPrefix(hdr, []byte("BZh")):
		return "", fmt.Errorf("%w: bzip2", ErrUnsupportedFormat)
	case bytes.HasPrefix(hdr, []byte("KDMV")):
		return "", fmt.Errorf("%w: vmdk", ErrUnsupportedFormat)
	}
	return FormatRaw, nil
}

// zstdContentSize returns the decompressed size recorded in the first zstd
// frame's header, or 0.
func zstdContentSize(hdr []byte) int64 {
	var zh zstd.Header
	if err := zh.Decode(hdr); err != nil || !zh.HasFCS {
		return 0
	}
	return int64(zh.FrameContentSize)
}

// fill reads until buf is full or r fails; a clean end returns io.EOF
// (unlike io.ReadFull, an io.ErrUnexpectedEOF is always the reader's own).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// classifyReadError maps download failures onto the package's sentinels.
func classifyReadError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrStalled) && !errors.Is(err, ErrStalled) {
		return fmt.Errorf("%w: %w", ErrStalled, err)
	}
	switch {
	case errors.Is(err, ErrTruncated), errors.Is(err, ErrNoSpace), errors.Is(err, ErrStalled):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return err
}

// stallReader fails a download that makes no progress: onStall runs (and
// cancels the request) when no byte arrived for the timeout.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func newStallReader(r io.Reader, d time.Duration, onStall func()) *stallReader {
	return &stallReader{r: r, d: d, timer: time.AfterFunc(d, onStall)}
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.d)
	}
	return n, err
}

func (s *stallReader) stop() { s.timer.Stop() }

// chunk is one unit of work for the writer: data (buf[:n]) or, when buf is
// nil, n bytes of zeros, at offset off of the device.
type chunk struct {
	buf []byte
	n   int64
	off int64
}

// pipeline moves chunks from a producer to the device through a fixed set
// of buffers: producer → writer → (hasher) → back to the free list.
type pipeline struct {
	dev     Device
	bufSize int
	nbuf    int
	prog    *Progress
	size    int64
	bounded bool
	hash    hash.Hash // nil: the producer hashes

	free    chan []byte
	full    chan chunk
	written int64 // owned by the writer
	zeros   []byte
	wb      *writeback
}

// get returns a free buffer (full length).
func (pl *pipeline) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-pl.free:
		return b[:cap(b)], nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// put returns an unused buffer.
func (pl *pipeline) put(b []byte) { pl.free <- b }

// emit hands a chunk to the writer.
func (pl *pipeline) emit(ctx context.Context, c chunk) error {
	select {
	case pl.full <- c:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// run runs produce against the writer (and hasher) stages and returns the
// bytes written. abort is called when a stage fails, to unblock a producer
// stuck in a network read.
func (pl *pipeline) run(ctx context.Context, produce func(context.Context, *pipeline) error, abort func()) (int64, error) {
	pl.free = make(chan []byte, pl.nbuf)
	for range pl.nbuf {
		pl.free <- make([]byte, pl.bufSize)
	}
	pl.full = make(chan chunk, pl.nbuf)
	pl.wb = newWriteback(pl.dev)
	var hashed chan chunk
	if pl.hash != nil {
		hashed = make(chan chunk, pl.nbuf)
	}
	g, gctx := errgroup.WithContext(ctx)
	stop := context.AfterFunc(gctx, abort)
	defer stop()
	g.Go(func() error {
		defer close(pl.full)
		return produce(gctx, pl)
	})
	g.Go(func() error {
		if hashed != nil {
			defer close(hashed)
		}
		for c := range pl.full {
			if err := pl.write(c); err != nil {
				return err
			}
			if c.buf == nil {
				continue
			}
			if hashed == nil {
				pl.put(c.buf)
				continue
			}
			select {
			case hashed <- c:
			case <-gctx.Done():
				return context.Cause(gctx)
			}
		}
		return nil
	})
	if hashed != nil {
		g.Go(func() error {
			for c := range hashed {
				pl.hash.Write(c.buf[:c.n])
				pl.put(c.buf)
			}
			return nil
		})
	}
	err := g.Wait()
	return pl.written, err
}

func (pl *pipeline) write(c chunk) error {
	if pl.bounded && c.off+c.n > pl.size {
		return fmt.Errorf("%w: write of %d bytes at %d passes the device end (%d bytes)", ErrNoSpace, c.n, c.off, pl.size)
	}
	if c.buf == nil {
		if pl.zeros == nil {
			pl.zeros = make([]byte, pl.bufSize)
		}
		if err := zeroRange(pl.dev, pl.zeros, c.off, c.n); err != nil {
			return err
		}
	} else if _, err := pl.dev.WriteAt(c.buf[:c.n], c.off); err != nil {
		return classifyWriteError(fmt.Errorf("write at %d: %w", c.off, err))
	}
	pl.written += c.n
	pl.prog.add(c.n)
	pl.wb.wrote(c.off + c.n)
	return nil
}

// streamProducer cuts a sequential stream into chunks at increasing offsets.
func streamProducer(r io.Reader) func(context.Context, *pipeline) error {
	return func(ctx context.Context, pl *pipeline) error {
		var off int64
		for {
			buf, err := pl.get(ctx)
			if err != nil {
				return err
			}
			n, rerr := fill(r, buf)
			if n > 0 {
				if err := pl.emit(ctx, chunk{buf: buf, n: int64(n), off: off}); err != nil {
					return err
				}
				off += int64(n)
			} else {
				pl.put(buf)
			}
			if rerr == io.EOF {
				return nil
			}
			if rerr != nil {
				return fmt.Errorf("read at %d: %w", off, rerr)
			}
		}
	}
}
