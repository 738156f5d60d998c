package pipeline

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

// The reader of ffmpeg's stdout gets every frame whole, in order, however
// the writer cuts its writes, and EOF when the writer closes.
func TestPipeReaderFrames(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	frames := [][]byte{testJPEG(t, 320, 240, 1, 40), testJPEG(t, 640, 360, 2, 40), testJPEG(t, 64, 48, 3, 0)}
	var stream []byte
	for range 5 {
		for _, f := range frames {
			stream = append(stream, f...)
		}
	}
	wrote := make(chan error, 1)
	go func() {
		defer w.Close()
		// Writes of 32 KiB, as ffmpeg's output buffer makes them.
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), 32<<10)
			if _, err := w.Write(rest[:n]); err != nil {
				wrote <- err
				return
			}
			rest = rest[n:]
		}
		wrote <- nil
	}()

	sp := NewSplitter(newPipeReader(r), 0)
	for i := range 5 * len(frames) {
		got, err := sp.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := frames[i%len(frames)]; !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %d bytes, want the %d bytes written", i, len(got), len(want))
		}
	}
	if _, err := sp.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

// Closing the read end ends a read that waits for data, with an error.
func TestPipeReaderClose(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	pr := newPipeReader(r)
	done := make(chan error, 1)
	go func() {
		_, err := pr.Read(make([]byte, 1024))
		done <- err
	}()
	if _, err := w.Write([]byte{0xFF}); err != nil { // one read that returns
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("read of a written byte: %v", err)
	}
	go func() {
		_, err := pr.Read(make([]byte, 1024))
		done <- err
	}()
	r.Close()
	if err := <-done; err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("read of a closed pipe: %v, want an error other than EOF", err)
	}
}
