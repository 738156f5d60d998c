package pipeline

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

func TestHubNextReturnsNewestAndSkips(t *testing.T) {
	h := NewHub()
	if h.Latest() != nil {
		t.Fatal("new hub has a frame")
	}
	for i := range 5 {
		h.Publish([]byte{0xFF, 0xD8, byte(i), 0xFF, 0xD9}, time.Now())
	}
	f, err := h.Next(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Seq != 5 || f.JPEG[2] != 4 {
		t.Fatalf("slow viewer got seq %d (byte %d), want the newest (5)", f.Seq, f.JPEG[2])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Next(ctx, 5); err == nil {
		t.Fatal("Next returned without a newer frame")
	}
}

func TestHubPublishCopiesAndBuildsPart(t *testing.T) {
	h := NewHub()
	src := []byte{0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9}
	at := time.UnixMilli(1700000000123)
	h.Publish(src, at)
	f := h.Latest()
	defer f.Release()
	src[2] = 99 // the splitter reuses its buffer
	if f.JPEG[2] != 1 {
		t.Fatal("frame shares memory with the publisher's buffer")
	}
	want := "Content-Type: image/jpeg\r\nContent-Length: 7\r\nX-Timestamp: 1700000000.123\r\n\r\n" +
		"\xFF\xD8\x01\x02\x03\xFF\xD9\r\n--frame\r\n"
	if string(f.Part) != want {
		t.Fatalf("part = %q\nwant %q", f.Part, want)
	}
	if !bytes.Equal(f.JPEG, []byte{0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9}) {
		t.Fatalf("JPEG = %x", f.JPEG)
	}
	ns := NewNoSignalFrame([]byte{0xFF, 0xD8, 0xFF, 0xD9}, at)
	if !ns.NoSignal || !bytes.Contains(ns.Part, []byte("\r\nX-No-Signal: 1\r\n\r\n")) {
		t.Fatalf("no-signal part = %q", ns.Part)
	}
}

// A viewer that never reads must not hold back the producer or a fast viewer.
func TestHubProducerNeverWaitsForViewers(t *testing.T) {
	h := NewHub()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const frames = 2000
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xD9}

	var wg sync.WaitGroup
	// Stuck viewers: take one frame, then never ask again (until ctx ends).
	for range 20 {
		wg.Go(func() {
			if _, err := h.Next(ctx, 0); err == nil {
				<-ctx.Done()
			}
		})
	}
	fastDone := make(chan uint64, 1)
	started := make(chan struct{})
	wg.Go(func() {
		var seq uint64
		close(started)
		for seq < frames {
			f, err := h.Next(ctx, seq)
			if err != nil {
				return
			}
			if f.Seq <= seq {
				t.Errorf("seq went from %d to %d", seq, f.Seq)
			}
			seq = f.Seq
		}
		fastDone <- seq
	})
	// Slow viewers: sleep between frames and must only ever see newer frames.
	for range 10 {
		wg.Go(func() {
			var seq uint64
			for {
				f, err := h.Next(ctx, seq)
				if err != nil {
					return
				}
				if f.Seq <= seq {
					t.Errorf("slow viewer: seq went from %d to %d", seq, f.Seq)
				}
				seq = f.Seq
				time.Sleep(time.Millisecond)
			}
		})
	}
	<-started
	publishDone := make(chan struct{})
	go func() {
		defer close(publishDone)
		for range frames {
			h.Publish(jpeg, time.Now())
		}
	}()
	select {
	case <-publishDone:
	case <-time.After(10 * time.Second):
		t.Fatal("producer blocked by viewers")
	}
	select {
	case seq := <-fastDone:
		if seq != frames {
			t.Fatalf("fast viewer ended at %d", seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fast viewer did not reach the last frame")
	}
	cancel()
	wg.Wait()
}

// A frame a viewer holds keeps its bytes while the hub recycles the memory
// of released frames.
func TestHubRecyclesOnlyReleasedFrames(t *testing.T) {
	h := NewHub()
	jpeg := func(b byte) []byte { return bytes.Repeat([]byte{b}, 1000) }
	h.Publish(jpeg(1), time.Now())
	held, err := h.Next(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		h.Publish(jpeg(byte(2+i)), time.Now())
		f, _ := h.Next(t.Context(), 0)
		f.Release()
	}
	if !bytes.Equal(held.JPEG, jpeg(1)) {
		t.Fatal("a held frame was overwritten by a recycled one")
	}
	held.Release()
	seven := jpeg(7)
	if n := testing.AllocsPerRun(100, func() {
		h.Publish(seven, time.Now())
		f, _ := h.Next(t.Context(), 0)
		f.Release()
	}); n > 2 {
		t.Errorf("%.0f allocations per published frame, want <= 2 (the Frame and its wake-up channel; the memory reused)", n)
	}
	defer func() {
		if recover() == nil {
			t.Error("a double release went unnoticed")
		}
	}()
	f := h.Latest()
	f.Release()
	f.Release()
	f.Release() // the hub's reference is gone too: below zero
}
