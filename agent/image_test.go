package agent

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ferric-project/ferric/agent/wire"
)

// testDisk returns guest disk content: random data with zero runs, so that
// qcow2 images have unallocated clusters and compression has work.
func testDisk(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, size)
	for off := 0; off < size; {
		n := min(size-off, 1+r.IntN(300<<10))
		if r.IntN(3) != 0 {
			var w [8]byte
			for i := off; i < off+n; i += 8 {
				binary.LittleEndian.PutUint64(w[:], r.Uint64())
				copy(b[i:off+n], w[:])
			}
		}
		off += n
	}
	return b
}

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll(b, nil)
}

// qcow2Image builds a qcow2 v2 image (64 KiB clusters) of disk. All-zero
// clusters stay unallocated. With reverse, data clusters are laid out in
// reverse guest order (as a VM that wrote its disk backwards would leave
// them), which defeats streaming and forces range requests.
func qcow2Image(disk []byte, reverse bool) []byte {
	const bits = 16
	const cs = 1 << bits
	const l2Entries = cs / 8
	nClusters := (len(disk) + cs - 1) / cs
	l1Size := (nClusters + l2Entries - 1) / l2Entries
	var order []int
	for c := range nClusters {
		data := disk[c*cs : min(len(disk), (c+1)*cs)]
		if !bytes.Equal(data, make([]byte, len(data))) {
			order = append(order, c)
		}
	}
	if reverse {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	file := make([]byte, 2*cs) // header, L1
	const copied = uint64(1) << 63
	l2 := map[int]int{}
	for _, c := range order {
		l1i := c / l2Entries
		if _, ok := l2[l1i]; !ok {
			l2[l1i] = len(file)
			binary.BigEndian.PutUint64(file[cs+8*l1i:], uint64(len(file))|copied)
			file = append(file, make([]byte, cs)...)
		}
		binary.BigEndian.PutUint64(file[l2[l1i]+8*(c%l2Entries):], uint64(len(file))|copied)
		cluster := make([]byte, cs)
		copy(cluster, disk[c*cs:min(len(disk), (c+1)*cs)])
		file = append(file, cluster...)
	}
	h := file[:72]
	copy(h, "QFI\xfb")
	binary.BigEndian.PutUint32(h[4:], 2)     // version
	binary.BigEndian.PutUint32(h[20:], bits) // cluster_bits
	binary.BigEndian.PutUint64(h[24:], uint64(len(disk)))
	binary.BigEndian.PutUint32(h[36:], uint32(l1Size))
	binary.BigEndian.PutUint64(h[40:], cs) // l1_table_offset
	return file
}

// imageServer serves one image. Range requests are honoured unless noRange.
type imageServer struct {
	data    []byte
	noRange bool
	gets    atomic.Int32
	ranges  atomic.Int32
}

func (s *imageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Range") != "" {
		s.ranges.Add(1)
		if s.noRange {
			http.Error(w, "no ranges here", http.StatusNotImplemented)
			return
		}
	} else {
		s.gets.Add(1)
	}
	http.ServeContent(w, r, "image", time.Time{}, bytes.NewReader(s.data))
}

func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/image"
}

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// readDisk returns the first n bytes of the "disk" file (zeros past its end).
func readDisk(t testing.TB, path string, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < n {
		b = append(b, make([]byte, n-len(b))...)
	}
	return b[:n]
}

// emptyDisk creates an empty file to serve as the disk.
func emptyDisk(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWriteImageFormats(t *testing.T) {
	t.Parallel()
	disk := testDisk(5<<20+12345, 1)
	md5sum := md5.Sum(disk)
	sha512sum := sha512.Sum512(disk)
	qcow := qcow2Image(disk[:5<<20], false)
	cases := []struct {
		name, format string
		image        []byte
		want         []byte
		sum          func(image []byte) wire.WriteImage
	}{
		{"raw md5 legacy checksum", "raw", disk, disk, func([]byte) wire.WriteImage {
			return wire.WriteImage{Checksum: hex.EncodeToString(md5sum[:])}
		}},
		{"raw detected sha512 algo+value", "", disk, disk, func([]byte) wire.WriteImage {
			return wire.WriteImage{HashAlgo: "sha512", HashValue: hex.EncodeToString(sha512sum[:])}
		}},
		{"gzip", "gzip", gzipped(t, disk), disk, nil},
		{"gzip detected", "", gzipped(t, disk), disk, nil},
		{"zstd detected", "", zstded(t, disk), disk, nil},
		{"qcow2 detected", "", qcow, disk[:5<<20], nil},
		{"no checksum", "raw", disk, disk, func([]byte) wire.WriteImage { return wire.WriteImage{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := &imageServer{data: tc.image}
			p := wire.WriteImage{Checksum: "sha256:" + sha256hex(tc.image)}
			if tc.sum != nil {
				p = tc.sum(tc.image)
			}
			p.URL = serve(t, srv)
			p.Format = tc.format
			p.Device = filepath.Join(t.TempDir(), "disk")
			if err := os.WriteFile(p.Device, bytes.Repeat([]byte{0xee}, len(tc.want)+4096), 0o600); err != nil {
				t.Fatal(err)
			}
			var prog Progress
			w := &ImageWriter{BufferSize: 256 << 10, Buffers: 3}
			res, err := w.Write(t.Context(), p, &prog)
			if err != nil {
				t.Fatalf("Write() = %v", err)
			}
			if res.BytesWritten != int64(len(tc.want)) {
				t.Errorf("BytesWritten = %d, want %d", res.BytesWritten, len(tc.want))
			}
			if got := readDisk(t, p.Device, len(tc.want)); !bytes.Equal(got, tc.want) {
				t.Errorf("disk content differs from the image")
			}
			if written, _ := prog.Get(); written != int64(len(tc.want)) {
				t.Errorf("progress = %d, want %d", written, len(tc.want))
			}
			if res.HashValue == "" || res.HashAlgo == "" {
				t.Errorf("result has no hash: %+v", res)
			}
			if tc.format == "" && srv.ranges.Load() != 0 {
				t.Errorf("%d range requests, want 0 (sequential layout)", srv.ranges.Load())
			}
		})
	}
}

// qemuImg converts disk with qemu-img; the test is skipped without it.
func qemuImg(t *testing.T, disk []byte, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not installed")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.raw"), filepath.Join(dir, "out.qcow2")
	if err := os.WriteFile(in, disk, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(append([]string{"convert", "-f", "raw", "-O", "qcow2"}, args...), in, out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// plainDevice hides *os.File's Fd: zeroing falls back to writing zeros.
type plainDevice struct{ f *os.File }

func (d plainDevice) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d plainDevice) Sync() error                              { return d.f.Sync() }
func (d plainDevice) Close() error                             { return d.f.Close() }

func TestWriteImageQcow2(t *testing.T) {
	t.Parallel()
	disk := testDisk(24<<20, 2)
	clear(disk[3<<20 : 9<<20]) // unallocated clusters: must zero what the "disk" held
	clear(disk[20<<20:])
	plain := func(name string) (Device, error) {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		return plainDevice{f}, err
	}
	cases := []struct {
		name    string
		image   func(t *testing.T) []byte
		noRange bool
		ranges  int // range requests: 0 none, 1 some, -1 either
		wantErr error
		open    OpenDeviceFunc
	}{
		{"qemu-img", func(t *testing.T) []byte { return qemuImg(t, disk) }, true, 0, nil, nil},
		// Compressed clusters are written by parallel coroutines: a few may
		// land out of order, behind the read-behind window.
		{"qemu-img compressed", func(t *testing.T) []byte { return qemuImg(t, disk, "-c") }, false, -1, nil, nil},
		{"qemu-img v2 2MiB clusters", func(t *testing.T) []byte {
			return qemuImg(t, disk, "-o", "compat=0.10,cluster_size=2M")
		}, true, 0, nil, nil},
		{"scattered clusters use range requests", func(*testing.T) []byte { return qcow2Image(disk, true) }, false, 1, nil, nil},
		{"zeroing by writes", func(*testing.T) []byte { return qcow2Image(disk, false) }, true, 0, nil, plain},
		{"scattered clusters without range support fail", func(*testing.T) []byte { return qcow2Image(disk, true) }, true, 1, &StatusError{}, nil},
		{"backing file refused", func(*testing.T) []byte {
			b := qcow2Image(disk, false)
			binary.BigEndian.PutUint64(b[8:], 512)
			binary.BigEndian.PutUint32(b[16:], 4)
			copy(b[512:], "/etc")
			return b
		}, false, 0, ErrUnsupportedFormat, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := tc.image(t)
			srv := &imageServer{data: img, noRange: tc.noRange}
			dev := filepath.Join(t.TempDir(), "disk")
			if err := os.WriteFile(dev, bytes.Repeat([]byte{0xee}, len(disk)), 0o600); err != nil {
				t.Fatal(err)
			}
			p := wire.WriteImage{URL: serve(t, srv), Device: dev, Checksum: "sha256:" + sha256hex(img)}
			var prog Progress
			res, err := (&ImageWriter{OpenDevice: tc.open}).Write(t.Context(), p, &prog)
			if tc.wantErr != nil {
				var se *StatusError
				if errors.As(tc.wantErr, &se) && errors.As(err, &se) || errors.Is(err, tc.wantErr) {
					return
				}
				t.Fatalf("Write() = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				t.Fatalf("Write() = %v", err)
			}
			if got := readDisk(t, dev, len(disk)); !bytes.Equal(got, disk) {
				t.Fatal("disk content differs from the image")
			}
			if _, total := prog.Get(); total != int64(len(disk)) || res.BytesWritten != int64(len(disk)) {
				t.Errorf("total = %d, written = %d, want %d", total, res.BytesWritten, len(disk))
			}
			if n := srv.ranges.Load(); tc.ranges == 0 && n > 0 || tc.ranges == 1 && n == 0 {
				t.Errorf("range requests = %d, want 0 none, 1 some: %d", n, tc.ranges)
			}
			if srv.gets.Load() != 1 {
				t.Errorf("full GETs = %d, want 1", srv.gets.Load())
			}
		})
	}
}

// fullDevice is a "disk" that holds limit bytes: writes past it fail with
// ENOSPC, like a full disk or a write past a block device's end.
type fullDevice struct {
	*os.File
	limit int64
}

func (d fullDevice) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > d.limit {
		n := max(0, int(d.limit-off))
		if n > 0 {
			if _, err := d.File.WriteAt(p[:n], off); err != nil {
				return 0, err
			}
		}
		return n, &os.PathError{Op: "write", Path: d.Name(), Err: syscall.ENOSPC}
	}
	return d.File.WriteAt(p, off)
}

// sizedDevice reports its capacity, as a block device does.
type sizedDevice struct {
	fullDevice
}

func (d sizedDevice) Size() (int64, error) { return d.limit, nil }

func TestWriteImageFailures(t *testing.T) {
	t.Parallel()
	disk := testDisk(3<<20, 3)
	good := "sha256:" + sha256hex(disk)
	gz := gzipped(t, disk)

	// partial sends the first half of body, with the given headers, then
	// closes the connection.
	partial := func(body []byte, contentLength bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if contentLength {
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // the server closes the connection
		}
	}
	// shortLength declares the full length but sends fewer bytes and
	// closes cleanly (a proxy or server that gave up).
	shortLength := func(w http.ResponseWriter, r *http.Request) {
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(disk))
		_, _ = bw.Write(disk[:len(disk)-1000])
		_ = bw.Flush()
	}
	stall := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(disk)))
		_, _ = w.Write(disk[:1<<20])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	tooBig := func(name string) (Device, error) {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		return fullDevice{f, 1 << 20}, err
	}
	tooSmall := func(name string) (Device, error) {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		return sizedDevice{fullDevice{f, 1 << 20}}, err
	}
	xz := append([]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, disk[:100]...)

	cases := []struct {
		name     string
		handler  http.Handler
		format   string
		checksum string
		open     OpenDeviceFunc
		want     error
	}{
		{"wrong checksum", &imageServer{data: disk}, "", "sha256:" + sha256hex(disk[1:]), nil, ErrChecksumMismatch},
		{"wrong md5", &imageServer{data: disk}, "", "0123456789abcdef0123456789abcdef", nil, ErrChecksumMismatch},
		{"gzip wrong checksum", &imageServer{data: gz}, "", good, nil, ErrChecksumMismatch},
		{"truncated: fewer bytes than Content-Length", http.HandlerFunc(shortLength), "raw", good, nil, ErrTruncated},
		{"server closes mid-image (Content-Length)", partial(disk, true), "", good, nil, ErrTruncated},
		{"server closes mid-image (chunked)", partial(disk, false), "", good, nil, ErrTruncated},
		{"gzip stream cut short", &imageServer{data: gz[:len(gz)/2]}, "", "sha256:" + sha256hex(gz[:len(gz)/2]), nil, ErrTruncated},
		{"zstd stream cut short", &imageServer{data: zstded(t, disk)[:100000]}, "", "", nil, ErrTruncated},
		{"disk full (ENOSPC)", &imageServer{data: disk}, "", good, tooBig, ErrNoSpace},
		{"gzip disk full (ENOSPC)", &imageServer{data: gz}, "", good, tooBig, ErrNoSpace},
		{"image larger than device", &imageServer{data: disk}, "", good, tooSmall, ErrNoSpace},
		{"stalled server", http.HandlerFunc(stall), "", good, nil, ErrStalled},
		{"xz is not supported", &imageServer{data: xz}, "", "", nil, ErrUnsupportedFormat},
		{"unknown format", &imageServer{data: disk}, "vhd", good, nil, ErrUnsupportedFormat},
		{"bad checksum", &imageServer{data: disk}, "", "sha3:abc", nil, ErrBadChecksum},
		{"checksum of the wrong length", &imageServer{data: disk}, "", "sha256:abcd", nil, ErrBadChecksum},
		{"gzip that is not", &imageServer{data: disk}, "gzip", good, nil, gzip.ErrHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dev := filepath.Join(t.TempDir(), "disk")
			if err := os.WriteFile(dev, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			w := &ImageWriter{OpenDevice: tc.open, StallTimeout: 300 * time.Millisecond, BufferSize: 64 << 10}
			p := wire.WriteImage{URL: serve(t, tc.handler), Device: dev, Format: tc.format, Checksum: tc.checksum}
			_, err := w.Write(t.Context(), p, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Write() = %v, want errors.Is(err, %v)", err, tc.want)
			}
			t.Log(err)
		})
	}

	t.Run("HTTP 404", func(t *testing.T) {
		t.Parallel()
		p := wire.WriteImage{URL: serve(t, http.NotFoundHandler()), Device: emptyDisk(t)}
		_, err := (&ImageWriter{}).Write(t.Context(), p, nil)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusNotFound {
			t.Fatalf("Write() = %v, want a *StatusError 404", err)
		}
	})
}

// slowServer sends size bytes of data in pieces, pausing between them.
func slowServer(data []byte, piece int, pause time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		for off := 0; off < len(data); off += piece {
			if _, err := w.Write(data[off:min(len(data), off+piece)]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(pause)
		}
	}
}

func TestWriteImageProgress(t *testing.T) {
	t.Parallel()
	disk := testDisk(8<<20, 4)
	p := wire.WriteImage{
		URL:      serve(t, slowServer(disk, 1<<20, 30*time.Millisecond)),
		Device:   emptyDisk(t),
		Checksum: sha256hex(disk),
	}
	var prog Progress
	done := make(chan error, 1)
	go func() {
		_, err := (&ImageWriter{BufferSize: 1 << 20}).Write(t.Context(), p, &prog)
		done <- err
	}()
	var samples []int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Write() = %v", err)
			}
			running = false
		case <-tick.C:
		}
		w, total := prog.Get()
		if total != int64(len(disk)) && w > 0 {
			t.Fatalf("total = %d, want %d (Content-Length)", total, len(disk))
		}
		if n := len(samples); n == 0 || samples[n-1] != w {
			samples = append(samples, w)
		}
	}
	for i := 1; i < len(samples); i++ {
		if samples[i] < samples[i-1] {
			t.Fatalf("progress went backwards: %v", samples)
		}
	}
	if len(samples) < 4 || samples[len(samples)-1] != int64(len(disk)) {
		t.Fatalf("progress samples = %v, want several steps ending at %d", samples, len(disk))
	}
}

// patternReader generates n bytes on the fly (never allocated whole).
type patternReader struct {
	n, off int64
	block  []byte
}

func newPatternReader(n int64) *patternReader {
	block := make([]byte, 64<<10)
	for i := range block {
		block[i] = byte(i*7 + i>>8)
	}
	return &patternReader{n: n, block: block}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n-r.off)
	for i := int64(0); i < k; {
		j := (r.off + i) % int64(len(r.block))
		i += int64(copy(p[i:k], r.block[j:]))
	}
	r.off += k
	return int(k), nil
}

// discardDevice accepts writes without storing them.
type discardDevice struct{ written atomic.Int64 }

func (d *discardDevice) WriteAt(p []byte, _ int64) (int, error) {
	d.written.Add(int64(len(p)))
	return len(p), nil
}
func (d *discardDevice) Sync() error  { return nil }
func (d *discardDevice) Close() error { return nil }

func TestWriteImageBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	const size = 256 << 20
	h := sha256.New()
	if _, err := io.Copy(h, newPatternReader(size)); err != nil {
		t.Fatal(err)
	}
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = io.CopyBuffer(w, newPatternReader(size), make([]byte, 256<<10))
	}))
	dev := &discardDevice{}
	w := &ImageWriter{OpenDevice: func(string) (Device, error) { return dev, nil }}
	p := wire.WriteImage{URL: url, Device: "mem", Checksum: "sha256:" + hex.EncodeToString(h.Sum(nil))}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		var max uint64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > max {
					max = m.HeapInuse
				}
			}
		}
	}()
	res, err := w.Write(t.Context(), p, nil)
	close(stop)
	maxHeap := <-peak
	if err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if res.BytesWritten != size || dev.written.Load() != size {
		t.Fatalf("written %d / %d, want %d", res.BytesWritten, dev.written.Load(), size)
	}
	t.Logf("heap in use: %d MiB before, %d MiB peak while streaming %d MiB", before.HeapInuse>>20, maxHeap>>20, size>>20)
	if maxHeap > 32<<20 {
		t.Fatalf("peak heap %d MiB, want < 32 MiB", maxHeap>>20)
	}
}

func TestSeqReaderAt(t *testing.T) {
	t.Parallel()
	data := testDisk(1<<20, 5)
	var fetched [][2]int64
	s := &seqReaderAt{r: bufio.NewReaderSize(bytes.NewReader(data), 16), ring: make([]byte, 64<<10),
		fetch: func(p []byte, off int64) (int, error) {
			fetched = append(fetched, [2]int64{off, int64(len(p))})
			return copy(p, data[off:]), nil
		}}
	reads := []struct{ off, n int64 }{
		{0, 100}, {0, 10}, {50, 200}, // rereads in the window
		{300 << 10, 1000},            // skip ahead
		{300<<10 - 20<<10, 30 << 10}, // back into the window and past its end
		{100, 5000},                  // far behind: range request
		{1<<20 - 10, 10},             // the last bytes
	}
	for _, r := range reads {
		p := make([]byte, r.n)
		n, err := s.ReadAt(p, r.off)
		if err != nil || int64(n) != r.n || !bytes.Equal(p, data[r.off:r.off+r.n]) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v; data equal: %v", r.n, r.off, n, err, bytes.Equal(p[:n], data[r.off:r.off+int64(n)]))
		}
	}
	if len(fetched) != 1 || fetched[0] != [2]int64{100, 5000} {
		t.Fatalf("range requests = %v, want one for [100, +5000)", fetched)
	}
	p := make([]byte, 20)
	if n, err := s.ReadAt(p, 1<<20-10); n != 10 || !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt past the end = %d, %v; want 10, EOF", n, err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := classifyReadError(ctx, fmt.Errorf("x: %w", io.ErrUnexpectedEOF)); !errors.Is(err, ErrTruncated) {
		t.Errorf("unexpected EOF → %v", err)
	}
	if err := classifyWriteError(&os.PathError{Err: syscall.ENOSPC}); !errors.Is(err, ErrNoSpace) {
		t.Errorf("ENOSPC → %v", err)
	}
}

// BenchmarkWriteImage streams a raw image (512 MiB, FERRIC_BENCH_IMAGE_MB)
// from a loopback HTTP server into a temp file with sha256 verification and
// the final fsync. FERRIC_BENCH_URL points it at an outside server serving
// the same generated image instead; FERRIC_BENCH_BUFFER_KB and
// FERRIC_BENCH_BUFFERS tune the pipeline.
func BenchmarkWriteImage(b *testing.B) {
	size := int64(512 << 20)
	if s := os.Getenv("FERRIC_BENCH_IMAGE_MB"); s != "" {
		n, _ := strconv.Atoi(s)
		size = int64(n) << 20
	}
	dir := b.TempDir()
	h := sha256.New()
	url := os.Getenv("FERRIC_BENCH_URL") // an outside server with the same image (to compare with curl | dd)
	if url == "" {
		src := filepath.Join(dir, "image.raw")
		f, err := os.Create(src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.MultiWriter(f, h), newPatternReader(size)); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, src)
		}))
		defer srv.Close()
		url = srv.URL
	} else if _, err := io.Copy(h, newPatternReader(size)); err != nil {
		b.Fatal(err)
	}
	sum := "sha256:" + hex.EncodeToString(h.Sum(nil))
	dev := filepath.Join(dir, "disk")
	bufSize, nbuf := DefaultBufferSize, DefaultBuffers
	if s := os.Getenv("FERRIC_BENCH_BUFFER_KB"); s != "" {
		n, _ := strconv.Atoi(s)
		bufSize = n << 10
	}
	if s := os.Getenv("FERRIC_BENCH_BUFFERS"); s != "" {
		nbuf, _ = strconv.Atoi(s)
	}
	w := &ImageWriter{BufferSize: bufSize, Buffers: nbuf}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		_ = os.Remove(dev)
		if err := os.WriteFile(dev, nil, 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := w.Write(context.Background(), wire.WriteImage{URL: url, Device: dev, Checksum: sum}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
