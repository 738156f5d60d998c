package pipeline

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// cappedReader returns at most chunk bytes per read, as a pipe from ffmpeg
// does (64 KiB on Linux), looping over its data without allocating.
type cappedReader struct {
	loopReader
	chunk int
}

func (r *cappedReader) Read(p []byte) (int, error) {
	return r.loopReader.Read(p[:min(len(p), r.chunk)])
}

// BenchmarkSplitter measures splitting throughput. One op is one pass over a
// stream of frames; allocs/frame counts every allocation in the loop.
func BenchmarkSplitter(b *testing.B) {
	// 1280×720 with mild noise: about 50 KB at quality 80, like an ffmpeg
	// -q:v 5 720p camera frame.
	var hd []byte
	for i := range 4 {
		hd = append(hd, testJPEG(b, 1280, 720, uint64(i+1), 3)...)
	}
	small, err := os.ReadFile(filepath.Join("testdata", "ffmpeg_320x240.mjpeg"))
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name   string
		data   []byte
		frames int
		chunk  int // bytes per read; 0: as many as asked
	}{
		{"720p", hd, 4, 0},
		{"720p/pipe64k", hd, 4, 64 << 10},
		{"ffmpeg320x240", small, 10, 0},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := &cappedReader{loopReader: loopReader{data: c.data}, chunk: c.chunk}
			if c.chunk == 0 {
				r.chunk = 1 << 30
			}
			s := NewSplitter(r, 0)
			n := 0
			for range 2 * c.frames { // warm up: size the buffer
				f, err := s.Next()
				if err != nil {
					b.Fatal(err)
				}
				n += len(f)
			}
			if n != 2*len(c.data) {
				b.Fatalf("warm-up split %d bytes, want %d", n, 2*len(c.data))
			}
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				for range c.frames {
					if _, err := s.Next(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(len(c.data))/float64(c.frames), "B/frame")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*c.frames), "allocs/frame")
			if s.Dropped() != 0 || s.Garbage() != 0 {
				b.Errorf("dropped %d, garbage %d", s.Dropped(), s.Garbage())
			}
		})
	}
}
