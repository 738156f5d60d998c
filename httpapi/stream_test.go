package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func TestStreamHeaders(t *testing.T) {
	for _, path := range []string{"/video", "/cameras/door/video", "/?action=stream", "/cameras/door/video?fps=5"} {
		t.Run(path, func(t *testing.T) {
			cam := newFakeCamera("door")
			srv := newServer(t, Config{}, cam, newFakeCamera("yard"))
			resp := do(t, srv, http.MethodGet, path, nil)
			// No frame yet: the preamble still comes at once.
			checkStreamStart(t, resp, "multipart/x-mixed-replace; boundary=frame")
			waitFor(t, "the stream to acquire the camera", func() bool { return cam.holding() == 1 })
		})
	}
}

func TestStreamParts(t *testing.T) {
	cam := newFakeCamera("door")
	srv := newServer(t, Config{}, cam)
	at1 := time.UnixMilli(1700000000123)
	cam.Publish(payload(1, 1000), at1)

	_, mr := openStream(t, srv, "/cameras/door/video")
	// The first part is the newest frame already held.
	p := nextPart(t, mr)
	if !bytes.Equal(p.body, payload(1, 1000)) {
		t.Fatalf("first part = %q..., want frame 1", p.body[:16])
	}
	if got := p.header.Get("X-Timestamp"); got != "1700000000.123" {
		t.Errorf("X-Timestamp = %q, want 1700000000.123", got)
	}
	if p.noSignal() {
		t.Error("camera frame marked X-No-Signal")
	}
	// A new frame arrives whole without waiting for the one after it: the
	// trailing boundary is in the same write.
	for i := 2; i <= 4; i++ {
		cam.Publish(payload(i, 5000+i), time.Now())
		p := nextPart(t, mr)
		if !bytes.Equal(p.body, payload(i, 5000+i)) {
			t.Fatalf("part %d = %q..., want frame %d", i, p.body[:16], i)
		}
	}
}

// gatedWriter is a ResponseWriter whose writes block until the test takes
// them, like a client that reads only when it wants.
type gatedWriter struct {
	ctx    context.Context
	header http.Header
	writes chan []byte
}

func (w *gatedWriter) Header() http.Header { return w.header }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Flush()              {}
func (w *gatedWriter) Write(p []byte) (int, error) {
	select {
	case w.writes <- bytes.Clone(p):
		return len(p), nil
	case <-w.ctx.Done():
		return 0, w.ctx.Err()
	}
}

func TestStreamSlowClientSkipsToNewest(t *testing.T) {
	cam := newFakeCamera("door")
	h := NewRouter(Config{}, []Camera{cam}, quietLog())
	cam.Publish(payload(1, 100), time.Now())

	ctx, cancel := context.WithCancel(t.Context())
	w := &gatedWriter{ctx: ctx, header: http.Header{}, writes: make(chan []byte)}
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/cameras/door/video", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, req)
	}()
	defer func() {
		cancel()
		<-done
	}()

	take := func() []byte {
		t.Helper()
		select {
		case b := <-w.writes:
			return b
		case <-time.After(5 * time.Second):
			t.Fatal("no write within 5s")
			return nil
		}
	}
	if got := take(); string(got) != pipeline.StreamPreamble {
		t.Fatalf("first write = %q, want the preamble", got)
	}
	if got := take(); payloadIndex(got[bytes.Index(got, []byte("jpeg-")):]) != 1 {
		t.Fatalf("second write is not frame 1: %q", got)
	}
	// The client reads nothing while frames 2..10 come: it gets at most the
	// one the handler was already writing, then frame 10.
	for i := 2; i <= 10; i++ {
		cam.Publish(payload(i, 100), time.Now())
	}
	var got []int
	for len(got) == 0 || got[len(got)-1] != 10 {
		b := take()
		got = append(got, payloadIndex(b[bytes.Index(b, []byte("jpeg-")):]))
		if len(got) > 2 {
			break
		}
	}
	if !(len(got) == 1 && got[0] == 10) && !(len(got) == 2 && got[0] >= 2 && got[0] < 10 && got[1] == 10) {
		t.Fatalf("after frame 1 the slow client got frames %v, want [10] or [k 10]", got)
	}
}

func TestStreamHead(t *testing.T) {
	cam := newFakeCamera("door")
	cam.Publish(payload(1, 100), time.Now())
	srv := newServer(t, Config{}, cam)
	for _, path := range []string{"/video", "/cameras/door/video", "/?action=stream"} {
		t.Run(path, func(t *testing.T) {
			resp := do(t, srv, http.MethodHead, path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != "multipart/x-mixed-replace; boundary=frame" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-cache, no-store, must-revalidate" {
				t.Errorf("Cache-Control = %q", got)
			}
			if body := readAll(t, resp.Body); len(body) != 0 {
				t.Errorf("HEAD body = %q, want none", body)
			}
		})
	}
	if _, acquires := cam.counts(); acquires != 0 {
		t.Errorf("HEAD acquired the camera %d times, want 0", acquires)
	}
}

func TestStreamNoSignal(t *testing.T) {
	cam := newFakeCamera("door")
	srv := newServer(t, Config{NoSignalEvery: 100 * time.Millisecond}, cam)
	cam.Publish(payload(1, 100), time.Now())
	_, mr := openStream(t, srv, "/cameras/door/video")
	if p := nextPart(t, mr); payloadIndex(p.body) != 1 || p.noSignal() {
		t.Fatalf("first part: no-signal %v, body %q", p.noSignal(), p.body)
	}

	// Frames stop: placeholders come, one per period.
	var prev time.Time
	for i := range 3 {
		p := nextPart(t, mr)
		if !p.noSignal() {
			t.Fatalf("placeholder %d has no X-No-Signal: 1 (body %q)", i, p.body[:min(16, len(p.body))])
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(p.body))
		if err != nil {
			t.Fatalf("placeholder is not a JPEG: %v", err)
		}
		if cfg.Width != noSignalWidth || cfg.Height != noSignalHeight {
			t.Errorf("placeholder is %dx%d", cfg.Width, cfg.Height)
		}
		if !prev.IsZero() && p.at.Sub(prev) < 50*time.Millisecond {
			t.Errorf("placeholders %s apart, want about 100ms", p.at.Sub(prev))
		}
		prev = p.at
	}

	// Frames return: the same connection shows them again.
	cam.Publish(payload(2, 100), time.Now())
	for i := 0; ; i++ {
		p := nextPart(t, mr)
		if !p.noSignal() {
			if payloadIndex(p.body) != 2 {
				t.Fatalf("after the outage got %q, want frame 2", p.body)
			}
			break
		}
		if i > 3 {
			t.Fatal("still no-signal parts after a frame was published")
		}
	}
	cam.Publish(payload(3, 100), time.Now())
	if p := nextPart(t, mr); payloadIndex(p.body) != 3 || p.noSignal() {
		t.Fatalf("got no-signal %v, body %q; want frame 3", p.noSignal(), p.body)
	}
}

func TestStreamFPSCap(t *testing.T) {
	cam := newFakeCamera("door")
	srv := newServer(t, Config{}, cam)
	pub := startPublisher(cam, 1, 200, 20*time.Millisecond)
	defer pub.stop()
	waitFor(t, "a first frame", func() bool { return cam.Latest() != nil })

	_, mr := openStream(t, srv, "/cameras/door/video?fps=1")
	p1 := nextPart(t, mr)
	p2 := nextPart(t, mr)
	gap := p2.at.Sub(p1.at)
	if gap < 900*time.Millisecond {
		t.Errorf("parts %s apart with fps=1, want about 1s", gap)
	}
	if gap > 2*time.Second {
		t.Errorf("parts %s apart with fps=1, want about 1s", gap)
	}
	i1, i2 := payloadIndex(p1.body), payloadIndex(p2.body)
	if i2-i1 < 10 {
		t.Errorf("frames %d then %d: want the skipped ones not sent", i1, i2)
	}
	if last := pub.lastIndex(); last-i2 > 5 {
		t.Errorf("sent frame %d while frame %d was published: want the newest", i2, last)
	}
}

func TestStreamDropsStuckClient(t *testing.T) {
	cam := newFakeCamera("door")
	const writeTimeout = 300 * time.Millisecond
	srv := newServer(t, Config{WriteTimeout: writeTimeout, NoSignalEvery: time.Minute}, cam)
	cam.Publish(payload(0, 100), time.Now())

	// A client that sends its request and never reads.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /cameras/door/video HTTP/1.1\r\nHost: test\r\n\r\n")
	waitFor(t, "the stuck client to connect", func() bool { return cam.holding() == 1 })

	// A client that reads everything.
	resp, mr := openStream(t, srv, "/cameras/door/video")
	nextPart(t, mr)
	waitFor(t, "the reading client to connect", func() bool { return cam.holding() == 2 })
	var seen atomic.Int64 // index of the last frame the reading client got
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			p, err := mr.NextPart()
			if err != nil {
				return // the test's context ended
			}
			b, err := io.ReadAll(p)
			if err != nil {
				return
			}
			seen.Store(int64(payloadIndex(b)))
		}
	}()
	defer func() {
		resp.Body.Close()
		<-readerDone
	}()

	// Big frames fill the stuck client's socket buffers quickly.
	start := time.Now()
	pub := startPublisher(cam, 1, 512<<10, 5*time.Millisecond)
	waitFor(t, "the stuck client to be dropped", func() bool { return cam.holding() == 1 })
	dropped := time.Since(start)
	pub.stop()
	// The publisher went on while the stuck client was held: it never
	// waits for a viewer (every 5 ms for the write timeout at least).
	if last := pub.lastIndex(); last < 10 {
		t.Errorf("only %d frames published before the stuck client was dropped", last)
	}
	if dropped < writeTimeout {
		t.Errorf("stuck client dropped after %s, before the write timeout", dropped)
	}

	// The reading client still gets new frames.
	last := pub.lastIndex()
	cam.Publish(payload(last+1, 100), time.Now())
	waitFor(t, "the reading client to get the newest frame", func() bool { return seen.Load() == int64(last+1) })
}

func TestStreamEndsWithClient(t *testing.T) {
	cam := newFakeCamera("door")
	srv := newServer(t, Config{}, cam)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/video", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitFor(t, "the stream to acquire the camera", func() bool { return cam.holding() == 1 })
	cancel()
	waitFor(t, "the stream to release the camera", func() bool { return cam.holding() == 0 })
}

// TestStreamSlowCameraRepeatsItsFrame: a healthy camera that learnt it
// sends a frame less often than the no-signal period (a still-image
// camera) gets its last frame again between two frames, not "no signal";
// a profile follows its own learnt interval (a substream of its own URL),
// not its camera's; a camera that leaves streaming gets "no signal".
func TestStreamSlowCameraRepeatsItsFrame(t *testing.T) {
	cam := newFakeCamera("porch")
	sub := cam.addProfile("sub")
	srv := newServer(t, Config{NoSignalEvery: 50 * time.Millisecond}, cam)
	cam.setInterval(pipeline.MainProfile, 10*time.Millisecond) // main is fast...
	cam.setInterval("sub", 5*time.Second)                      // ...its substream slow
	cam.Publish(payload(1, 100), time.Now())
	sub.Publish(payload(7, 100), time.Now())

	_, main := openStream(t, srv, "/cameras/porch/video")
	_, slow := openStream(t, srv, "/cameras/porch/video?profile=sub")
	nextPart(t, main)
	nextPart(t, slow)
	for i := range 3 {
		if p := nextPart(t, slow); p.noSignal() || payloadIndex(p.body) != 7 {
			t.Fatalf("substream part %d: no-signal %v, want frame 7 again", i, p.noSignal())
		}
		if p := nextPart(t, main); !p.noSignal() {
			t.Fatalf("main stream part %d is a frame: its interval (10ms) is not slow, want no signal", i)
		}
	}
	cam.setState(pipeline.StateStalled)
	for i := 0; ; i++ {
		if p := nextPart(t, slow); p.noSignal() {
			break
		}
		if i > 3 {
			t.Fatal("a stalled camera's slow substream still repeats its frame")
		}
	}
}
