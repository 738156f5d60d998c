package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// testJPEG encodes a w×h image with image/jpeg: a gradient with some noise,
// so that its scan data holds stuffed FF 00 pairs.
func testJPEG(t testing.TB, w, h int, seed uint64, noise int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			v := (x*255/max(w, 1) + y*255/max(h, 1) + int(seed)*37) / 2
			if noise > 0 {
				v += rng.IntN(2*noise+1) - noise
			}
			img.Y[img.YOffset(x, y)] = uint8(min(max(v, 0), 255))
		}
	}
	for i := range img.Cb {
		img.Cb[i] = uint8(128 + rng.IntN(9) - 4)
		img.Cr[i] = uint8(128 + int(seed%32))
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// seg builds a marker segment: FF m, the big-endian length, then body.
func seg(m byte, body ...[]byte) []byte {
	n := 2
	for _, b := range body {
		n += len(b)
	}
	out := []byte{0xFF, m, byte(n >> 8), byte(n)}
	for _, b := range body {
		out = append(out, b...)
	}
	return out
}

// withSegments inserts raw bytes right after the SOI of jpg.
func withSegments(jpg []byte, raw ...[]byte) []byte {
	out := []byte{0xFF, 0xD8}
	for _, r := range raw {
		out = append(out, r...)
	}
	return append(out, jpg[2:]...)
}

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// endOfHeaders returns the offset of the first byte of scan data in jpg.
func endOfHeaders(t testing.TB, jpg []byte) int {
	t.Helper()
	p := 2
	for p+4 <= len(jpg) {
		m := jpg[p+1]
		n := int(jpg[p+2])<<8 | int(jpg[p+3])
		p += 2 + n
		if m == mSOS {
			return p
		}
	}
	t.Fatal("no SOS in test JPEG")
	return 0
}

// sos is a minimal SOS header for one component.
var sos = seg(mSOS, []byte{1, 1, 0, 0, 63, 0})

// sof is a baseline frame header: 8-bit, 1x1 pixels, one component.
var sof = seg(0xC0, []byte{8, 0, 1, 0, 1, 1, 1, 0x11, 0})

// crafted is a structurally valid frame that image/jpeg cannot decode: SOI,
// SOS header, then scan bytes (which must be valid entropy-coded data: no FF
// except FF 00, FF D0..D7 and fill), then EOI.
func crafted(scan ...byte) []byte {
	return cat([]byte{0xFF, 0xD8}, sof, sos, scan, []byte{0xFF, 0xD9})
}

// chunkReader returns its data in random-sized reads.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(1+r.rng.IntN(r.max), len(p), len(r.data))
	n = copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// readers are the ways a test input is delivered to the splitter.
var readers = []struct {
	name string
	new  func([]byte) io.Reader
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"onebyte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"half", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	{"dataerr", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
	{"random7", func(b []byte) io.Reader {
		return &chunkReader{data: b, rng: rand.New(rand.NewPCG(7, 7)), max: 7}
	}},
	{"random4k", func(b []byte) io.Reader {
		return &chunkReader{data: b, rng: rand.New(rand.NewPCG(9, 9)), max: 4096}
	}},
}

// splitAll runs a splitter to the end and returns copies of its frames and
// the error that ended it.
func splitAll(t testing.TB, r io.Reader, maxFrame int) ([][]byte, *Splitter, error) {
	t.Helper()
	s := NewSplitter(r, maxFrame)
	var frames [][]byte
	for {
		f, err := s.Next()
		if err != nil {
			if f != nil {
				t.Errorf("Next returned a frame with error %v", err)
			}
			return frames, s, err
		}
		if len(f) < 4 || f[0] != 0xFF || f[1] != 0xD8 || f[len(f)-2] != 0xFF || f[len(f)-1] != 0xD9 {
			t.Fatalf("frame %d is not SOI...EOI: % x", len(frames), f[:min(len(f), 16)])
		}
		frames = append(frames, bytes.Clone(f))
		if len(frames) > 1e5 {
			t.Fatal("too many frames")
		}
	}
}

func TestSplitter(t *testing.T) {
	a := testJPEG(t, 64, 48, 1, 40)
	b := testJPEG(t, 40, 32, 2, 10)
	c := testJPEG(t, 16, 16, 3, 0)
	big := testJPEG(t, 320, 240, 4, 60) // about 40 KB
	thumb := testJPEG(t, 8, 8, 5, 0)
	aScan := endOfHeaders(t, a)
	aSOS := bytes.LastIndex(a[:aScan], []byte{0xFF, mSOS})
	if !bytes.Contains(a[aScan:], []byte{0xFF, 0x00}) {
		t.Fatal("test JPEG a has no stuffed FF 00 in its scan data")
	}

	// exif is an APP1 segment carrying a whole thumbnail JPEG, so FF D8 and
	// FF D9 appear in a segment.
	exif := seg(0xE1, []byte("Exif\x00\x00"), thumb)
	com := seg(0xFE, []byte("x\xFF\xD9\xFF\xD8y\xFF\xFF\xD9"))
	fill := []byte{0xFF, 0xFF, 0xFF} // before the next marker: FF FF FF FF DB

	// A frame whose segment length is < 2, holding a good frame after its
	// SOI: the good frame must be found by the rescan.
	badLen := cat([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x01}, b)
	// An APP1 segment that swallows a good frame, then a non-FF byte where
	// a marker must be.
	swallow := cat([]byte{0xFF, 0xD8}, seg(0xE1, b), []byte{0x00, 0x01})

	tests := []struct {
		name    string
		in      []byte
		max     int
		want    [][]byte
		dropped uint64
		garbage int // -1: not checked
		decode  bool
	}{
		{name: "empty", in: nil, garbage: 0},
		{name: "one", in: a, want: [][]byte{a}, decode: true, garbage: 0},
		{name: "three", in: cat(a, b, c), want: [][]byte{a, b, c}, decode: true, garbage: 0},
		{name: "only garbage", in: []byte("hello\xFF\xFFworld\xFF"), garbage: 13},
		{
			name:    "garbage before between and after",
			in:      cat([]byte("junk\xFF\x00\xFF"), a, []byte("\xFF\xD9more"), b, []byte("tail\xFF")),
			want:    [][]byte{a, b},
			garbage: 7 + 6 + 5, decode: true,
		},
		{name: "EXIF thumbnail in APP1", in: cat(withSegments(a, exif), b), want: [][]byte{withSegments(a, exif), b}, decode: true, garbage: 0},
		{name: "FF D9 and FF D8 in COM", in: cat(withSegments(a, com), c), want: [][]byte{withSegments(a, com), c}, decode: true, garbage: 0},
		{name: "fill bytes before markers", in: withSegments(a, fill), want: [][]byte{withSegments(a, fill)}, decode: true, garbage: 0},
		{
			name:    "stuffing before EOI",
			in:      cat(crafted(0x12, 0xFF, 0x00, 0xD9, 0xFF, 0x00), c),
			want:    [][]byte{crafted(0x12, 0xFF, 0x00, 0xD9, 0xFF, 0x00), c},
			garbage: 0,
		},
		{
			name:    "RST and fill in scan data",
			in:      cat(crafted(0x01, 0xFF, 0xD0, 0x02, 0xFF, 0xD7, 0xFF, 0xFF, 0xFF, 0xD3, 0x03, 0xFF, 0xFF), c),
			want:    [][]byte{crafted(0x01, 0xFF, 0xD0, 0x02, 0xFF, 0xD7, 0xFF, 0xFF, 0xFF, 0xD3, 0x03, 0xFF, 0xFF), c},
			garbage: 0,
		},
		{
			name: "several scans with tables between",
			in: cat([]byte{0xFF, 0xD8}, seg(0xDB, make([]byte, 65)), sof, sos, []byte{1, 2, 0xFF, 0x00},
				seg(0xC4, []byte{0x10, 0xFF, 0xD9}), sos, []byte{3, 0xFF, 0xD1, 4}, sos, []byte{5}, []byte{0xFF, 0xD9}),
			want: [][]byte{cat([]byte{0xFF, 0xD8}, seg(0xDB, make([]byte, 65)), sof, sos, []byte{1, 2, 0xFF, 0x00},
				seg(0xC4, []byte{0x10, 0xFF, 0xD9}), sos, []byte{3, 0xFF, 0xD1, 4}, sos, []byte{5}, []byte{0xFF, 0xD9})},
			garbage: 0,
		},
		{
			name:    "standalone markers between segments",
			in:      withSegments(a, []byte{0xFF, 0x01, 0xFF, 0xD0}),
			want:    [][]byte{withSegments(a, []byte{0xFF, 0x01, 0xFF, 0xD0})},
			garbage: 0, // image/jpeg rejects TEM and RST outside a scan: no decode
		},
		{name: "torn in scan data", in: cat(a[:aScan+100], b), want: [][]byte{b}, dropped: 1, garbage: 0, decode: true},
		{name: "torn at a marker", in: cat(a[:aSOS], b, c), want: [][]byte{b, c}, dropped: 1, garbage: 0, decode: true},
		{name: "truncated in a header segment", in: cat(a[:30], b), want: [][]byte{b}, dropped: 1, garbage: -1, decode: true},
		{name: "truncated at EOF in scan", in: cat(b, a[:len(a)-10]), want: [][]byte{b}, dropped: 1, garbage: 0, decode: true},
		{name: "truncated at EOF in segment", in: cat(b, a[:20]), want: [][]byte{b}, dropped: 1, garbage: 0, decode: true},
		{name: "truncated at EOF after SOI", in: cat(b, []byte{0xFF, 0xD8}), want: [][]byte{b}, dropped: 1, garbage: 0},
		{name: "truncated at EOF on fill", in: cat(b, []byte{0xFF, 0xD8, 0xFF, 0xFF}), want: [][]byte{b}, dropped: 1, garbage: 0},
		{name: "segment length below 2", in: badLen, want: [][]byte{b}, dropped: 1, garbage: 4, decode: true},
		{name: "SOI inside an invalid frame", in: cat(swallow, c), want: [][]byte{b, c}, dropped: 1, garbage: 6, decode: true},
		{name: "marker not FF", in: cat([]byte{0xFF, 0xD8, 0x12, 0x34}, a), want: [][]byte{a}, dropped: 1, garbage: 2, decode: true},
		{name: "stuffing where a marker must be", in: cat([]byte{0xFF, 0xD8, 0xFF, 0x00}, a), want: [][]byte{a}, dropped: 1, garbage: 2, decode: true},
		{name: "oversize then good", in: cat(big, c, big), max: len(big) - 1, want: [][]byte{c}, dropped: 2, garbage: 0, decode: true},
		{name: "frame of exactly max", in: cat(c, b), max: len(c), want: [][]byte{c}, dropped: 1, garbage: 0, decode: true},
		{
			name:    "oversize torn by a new SOI",
			in:      cat(big[:len(big)-100], c),
			max:     1000,
			want:    [][]byte{c},
			dropped: 1, garbage: 0, decode: true,
		},
		{
			name:    "oversize then invalid then good",
			in:      cat(big[:len(big)-2], []byte{0xFF, 0xC4, 0x00, 0x00}, c),
			max:     1000,
			want:    [][]byte{c},
			dropped: 1, garbage: -1, decode: true,
		},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				frames, s, err := splitAll(t, rd.new(tt.in), tt.max)
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
				if len(frames) != len(tt.want) {
					t.Fatalf("got %d frames, want %d", len(frames), len(tt.want))
				}
				for i, f := range frames {
					if !bytes.Equal(f, tt.want[i]) {
						t.Errorf("frame %d: %d bytes differ from the %d input bytes", i, len(f), len(tt.want[i]))
					}
					if tt.decode {
						if _, err := jpeg.Decode(bytes.NewReader(f)); err != nil {
							t.Errorf("frame %d does not decode: %v", i, err)
						}
					}
				}
				if s.Dropped() != tt.dropped {
					t.Errorf("Dropped() = %d, want %d", s.Dropped(), tt.dropped)
				}
				if tt.garbage >= 0 && s.Garbage() != uint64(tt.garbage) {
					t.Errorf("Garbage() = %d, want %d", s.Garbage(), tt.garbage)
				}
				// The end is sticky.
				if f, err := s.Next(); f != nil || err != io.EOF {
					t.Errorf("Next after the end = %d bytes, %v; want io.EOF", len(f), err)
				}
				if s.Dropped() != tt.dropped {
					t.Errorf("Dropped() after the end = %d, want %d", s.Dropped(), tt.dropped)
				}
			})
		}
	}
}

// TestSplitterFFmpeg splits real ffmpeg image2pipe output, and progressive
// and restart-marker JPEGs made from it with jpegtran:
//
//	ffmpeg -f lavfi -i testsrc2=size=320x240:rate=10 -t 1 -c:v mjpeg -q:v 5 -f image2pipe ffmpeg_320x240.mjpeg
//	ffmpeg -f lavfi -i testsrc2=size=160x120:rate=10 -t 0.4 -c:v mjpeg -q:v 5 -f image2 f%02d.jpg
//	for f in f0*.jpg; do jpegtran -progressive -copy all $f; done > progressive.mjpeg
//	for f in f0*.jpg; do jpegtran -restart 2B -copy all $f; done > restart.mjpeg
func TestSplitterFFmpeg(t *testing.T) {
	tests := []struct {
		file   string
		frames int
		marker []byte // must occur in every frame
		count  int    // at least this many times
	}{
		{"ffmpeg_320x240.mjpeg", 10, []byte{0xFF, 0xFE}, 1},     // COM "Lavc..."
		{"progressive.mjpeg", 4, []byte{0xFF, 0xDA}, 5},         // several scans
		{"restart.mjpeg", 4, []byte{0xFF, 0xDD, 0x00, 0x04}, 1}, // DRI, then RSTn in the scan
	}
	for _, tt := range tests {
		in, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, rd := range readers {
			t.Run(tt.file+"/"+rd.name, func(t *testing.T) {
				frames, s, err := splitAll(t, rd.new(in), 0)
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
				if len(frames) != tt.frames || s.Dropped() != 0 || s.Garbage() != 0 {
					t.Fatalf("got %d frames, %d dropped, %d garbage; want %d, 0, 0",
						len(frames), s.Dropped(), s.Garbage(), tt.frames)
				}
				if !bytes.Equal(bytes.Join(frames, nil), in) {
					t.Error("frames joined differ from the input")
				}
				for i, f := range frames {
					if n := bytes.Count(f, tt.marker); n < tt.count {
						t.Errorf("frame %d has %d × % x, want >= %d", i, n, tt.marker, tt.count)
					}
					img, err := jpeg.Decode(bytes.NewReader(f))
					if err != nil {
						t.Fatalf("frame %d does not decode: %v", i, err)
					}
					if img.Bounds().Dx() < 160 {
						t.Errorf("frame %d is %v", i, img.Bounds())
					}
				}
			})
		}
	}
}

// TestSplitterRestartInScan checks the restart-marker sample really has RST
// markers in its scan data, so the test above covers them.
func TestSplitterRestartInScan(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "restart.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := byte(mRST); m <= mRST+7; m++ {
		n += bytes.Count(in, []byte{0xFF, m})
	}
	if n < 50 {
		t.Fatalf("restart.mjpeg has %d RST markers", n)
	}
}

// errReader returns its data, then err.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestSplitterReadError(t *testing.T) {
	a := testJPEG(t, 32, 32, 1, 20)
	boom := errors.New("boom")
	tests := []struct {
		name    string
		in      []byte
		frames  int
		dropped uint64
	}{
		{"between frames", cat(a, a), 2, 0},
		{"inside a frame", cat(a, a[:len(a)/2]), 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, s, err := splitAll(t, &errReader{data: tt.in, err: boom}, 0)
			if err != boom {
				t.Fatalf("err = %v, want boom", err)
			}
			if len(frames) != tt.frames || s.Dropped() != tt.dropped {
				t.Errorf("got %d frames, %d dropped; want %d, %d", len(frames), s.Dropped(), tt.frames, tt.dropped)
			}
		})
	}
}

// zeroReader never makes progress.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// badReader claims more bytes than it was given.
type badReader struct{}

func (badReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

func TestSplitterBadReaders(t *testing.T) {
	if _, err := NewSplitter(zeroReader{}, 0).Next(); err != io.ErrNoProgress {
		t.Errorf("zero reader: err = %v, want io.ErrNoProgress", err)
	}
	if _, err := NewSplitter(badReader{}, 0).Next(); err != errBadRead {
		t.Errorf("bad reader: err = %v, want errBadRead", err)
	}
}

// TestSplitterMemoryBound feeds frames far over the limit, as long scan data
// and as long runs of segments, and checks the buffer stays near the limit.
func TestSplitterMemoryBound(t *testing.T) {
	const maxFrame = 64 << 10
	good := testJPEG(t, 32, 32, 1, 20)
	longScan := cat([]byte{0xFF, 0xD8}, sof, sos, bytes.Repeat([]byte{0x55, 0xFF, 0x00, 0x12}, 1<<20), []byte{0xFF, 0xD9})
	var segs []byte
	for range 100 {
		segs = append(segs, seg(0xE2, make([]byte, 65000))...)
	}
	longSegs := withSegments(good, segs)
	in := cat(longScan, good, longSegs, good)
	for _, rd := range readers[4:] { // random chunks: both the fast and the slow paths
		t.Run(rd.name, func(t *testing.T) {
			frames, s, err := splitAll(t, rd.new(in), maxFrame)
			if err != io.EOF {
				t.Fatalf("err = %v", err)
			}
			if len(frames) != 2 || s.Dropped() != 2 || s.Garbage() != 0 {
				t.Errorf("got %d frames, %d dropped, %d garbage; want 2, 2, 0", len(frames), s.Dropped(), s.Garbage())
			}
			if len(s.buf) > maxFrame+readSize {
				t.Errorf("buffer grew to %d bytes, limit %d", len(s.buf), maxFrame+readSize)
			}
		})
	}
	t.Run("grows for a large frame", func(t *testing.T) {
		frames, s, err := splitAll(t, bytes.NewReader(cat(longSegs, good)), 0)
		if err != io.EOF || len(frames) != 2 || !bytes.Equal(frames[0], longSegs) {
			t.Fatalf("got %d frames, err %v", len(frames), err)
		}
		if len(s.buf) > 2*len(longSegs)+readSize {
			t.Errorf("buffer grew to %d bytes for a %d-byte frame", len(s.buf), len(longSegs))
		}
	})
}

// loopReader returns data over and over, without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

func TestSplitterNoAllocs(t *testing.T) {
	a := testJPEG(t, 320, 240, 1, 30)
	b := testJPEG(t, 320, 240, 2, 30)
	s := NewSplitter(&loopReader{data: cat(a, []byte("junk"), b)}, 0)
	for range 100 { // warm up
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

// FuzzSplitter checks that the splitter never panics, that every frame is
// SOI...EOI, a piece of the input and within the limit, and that how the
// input is cut into reads does not change the result.
func FuzzSplitter(f *testing.F) {
	a := testJPEG(f, 16, 16, 1, 20)
	f.Add(a)
	f.Add(cat([]byte("x\xFF"), a[:len(a)/2], a, []byte("\xFF\xD8\xFF")))
	f.Add(cat([]byte{0xFF, 0xD8}, seg(0xE1, a), []byte{0x00}, a))
	f.Add(crafted(0x01, 0xFF, 0x00, 0xFF, 0xD0, 0xFF, 0xFF, 0xD9))
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, sw, err := splitAll(t, bytes.NewReader(data), 0)
		if err != io.EOF {
			t.Fatalf("err = %v, want io.EOF", err)
		}
		off := 0
		for i, fr := range whole {
			j := bytes.Index(data[off:], fr)
			if j < 0 {
				t.Fatalf("frame %d is not in the input after offset %d", i, off)
			}
			off += j + len(fr)
		}
		one, so, err := splitAll(t, iotest.OneByteReader(bytes.NewReader(data)), 0)
		if err != io.EOF {
			t.Fatalf("one byte reads: err = %v, want io.EOF", err)
		}
		if len(one) != len(whole) || so.Dropped() != sw.Dropped() || so.Garbage() != sw.Garbage() {
			t.Fatalf("one byte reads: %d frames, %d dropped, %d garbage; whole: %d, %d, %d",
				len(one), so.Dropped(), so.Garbage(), len(whole), sw.Dropped(), sw.Garbage())
		}
		for i := range one {
			if !bytes.Equal(one[i], whole[i]) {
				t.Fatalf("one byte reads: frame %d differs", i)
			}
		}
		maxFrame := 4 + len(data)/3
		r := &chunkReader{data: data, rng: rand.New(rand.NewPCG(uint64(len(data)), 3)), max: 16}
		small, _, err := splitAll(t, r, maxFrame)
		if err != io.EOF {
			t.Fatalf("small limit: err = %v, want io.EOF", err)
		}
		for i, fr := range small {
			if len(fr) > maxFrame {
				t.Fatalf("frame %d has %d bytes, limit %d", i, len(fr), maxFrame)
			}
		}
	})
}

// TestSplitterNestedInvalid feeds many SOIs nested in comment segments that
// all lead to one long scan ending in an invalid segment. Searching again
// from each SOI would take time quadratic in the input; the splitter gives
// up going back once that work exceeds the input read.
func TestSplitterNestedInvalid(t *testing.T) {
	const n, scanLen = 2000, 1 << 20
	var in []byte
	p := 6 * n // offset of the shared SOS
	for k := range n {
		l := p - 6*k - 4 // the comment ends right before the SOS
		in = append(in, 0xFF, 0xD8, 0xFF, 0xFE, byte(l>>8), byte(l))
	}
	in = append(in, sos...)
	in = append(in, bytes.Repeat([]byte{0x55}, scanLen)...)
	in = append(in, 0xFF, 0xC4, 0x00, 0x00) // segment length 0: invalid
	good := testJPEG(t, 16, 16, 1, 20)
	in = append(in, good...)
	frames, s, err := splitAll(t, bytes.NewReader(in), 0)
	if err != io.EOF || len(frames) != 1 || !bytes.Equal(frames[0], good) {
		t.Fatalf("got %d frames, err %v; want the good frame", len(frames), err)
	}
	if s.Dropped() > 10 {
		t.Errorf("%d frames dropped: the nested SOIs were all parsed", s.Dropped())
	}
	if s.back > int64(len(in)) {
		t.Errorf("searched %d bytes again, input is %d", s.back, len(in))
	}
}

// TestSplitterCountersConcurrent reads the counters while Next runs; -race
// checks they may be.
func TestSplitterCountersConcurrent(t *testing.T) {
	a := testJPEG(t, 32, 32, 1, 20)
	var in []byte
	torn := a[:bytes.LastIndex(a, []byte{0xFF, mSOS})]
	for range 200 {
		in = append(in, a...)
		in = append(in, "junk"...) // garbage
		in = append(in, torn...)   // dropped at the next SOI or at EOF
	}
	s := NewSplitter(iotest.HalfReader(bytes.NewReader(in)), 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := s.Next(); err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			if s.Dropped() != 200 || s.Garbage() != 800 {
				t.Errorf("Dropped() = %d, Garbage() = %d; want 200, 800", s.Dropped(), s.Garbage())
			}
			return
		default:
			_, _ = s.Dropped(), s.Garbage()
		}
	}
}

// A frame torn inside its SOF or SOS header, followed by a whole frame: the
// torn segment's length would swallow the next SOI (or, torn inside the
// length itself, the next frame's first bytes would make up the length).
// Only the whole frames may come out, never two glued into one that does
// not decode. Every cut from the marker to the end of the segment.
func TestSplitterTornHeaderIsNotGlued(t *testing.T) {
	a := testJPEG(t, 64, 48, 1, 20)
	b := testJPEG(t, 64, 48, 2, 20)
	for _, marker := range []byte{0xC0, mSOS} {
		i := bytes.Index(a, []byte{0xFF, marker})
		if i < 0 {
			t.Fatalf("no FF %X in the test JPEG", marker)
		}
		n := int(a[i+2])<<8 | int(a[i+3])
		for cut := i + 2; cut < i+2+n; cut++ {
			torn := a[:cut]
			for _, rd := range readers {
				t.Run(fmt.Sprintf("%X/cut%d/%s", marker, cut-i, rd.name), func(t *testing.T) {
					frames, s, err := splitAll(t, rd.new(cat(torn, b, a)), 0)
					if err != io.EOF {
						t.Fatalf("err = %v", err)
					}
					for _, f := range frames {
						if _, err := jpeg.Decode(bytes.NewReader(f)); err != nil {
							t.Errorf("a %d-byte frame does not decode: %v", len(f), err)
						}
					}
					if len(frames) != 2 || !bytes.Equal(frames[0], b) || !bytes.Equal(frames[1], a) {
						t.Errorf("got %d frames, want the 2 whole ones", len(frames))
					}
					if s.Dropped() == 0 {
						t.Error("the torn frame was not counted as dropped")
					}
				})
			}
		}
	}
}
