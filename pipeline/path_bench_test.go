package pipeline

import (
	"io"
	"os"
	"testing"
	"time"
)

// BenchmarkFramePath is the daemon's cost per frame for a camera nobody
// watches: read ffmpeg's stdout (a real pipe), split, publish. One op is one
// ~50 KB 720p frame.
func BenchmarkFramePath(b *testing.B) {
	var frames []byte
	const n = 4
	for i := range n {
		frames = append(frames, testJPEG(b, 1280, 720, uint64(i+1), 3)...)
	}
	b.Run("memory", func(b *testing.B) {
		// Split and publish only: what the daemon's own code costs.
		splitPublish(b, &loopReader{data: frames}, len(frames)/n)
	})
	// pipe: as the daemon reads ffmpeg's stdout (newPipeReader); pipe/file:
	// with os.File.Read, for comparison.
	b.Run("pipe", func(b *testing.B) { framePathPipe(b, frames, n, true) })
	b.Run("pipe/file", func(b *testing.B) { framePathPipe(b, frames, n, false) })
}

func framePathPipe(b *testing.B, frames []byte, n int, raw bool) {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // stands for ffmpeg: writes frames until the reader closes
		defer close(done)
		for {
			if _, err := w.Write(frames); err != nil {
				return
			}
		}
	}()
	var in io.Reader = r
	if raw {
		in = newPipeReader(r)
	}
	splitPublish(b, in, len(frames)/n)
	b.StopTimer()
	r.Close()
	w.Close()
	<-done
}

// splitPublish is the daemon's loop for a camera: split frames of about
// frameBytes from in and publish each to a hub nobody reads.
func splitPublish(b *testing.B, in io.Reader, frameBytes int) {
	s := NewSplitter(in, 0)
	h := NewHub()
	b.SetBytes(int64(frameBytes))
	b.ReportAllocs()
	for b.Loop() {
		f, err := s.Next()
		if err != nil {
			b.Fatal(err)
		}
		h.Publish(f, time.Now())
	}
}
