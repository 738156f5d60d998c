package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// wallCameras returns door and yard with a thumb profile and attic without
// one, each with a main frame (1, 2, 3) and door and yard a thumb frame
// (101, 102) already held.
func wallCameras() (door, yard, attic *fakeCamera) {
	door, yard, attic = newFakeCamera("door"), newFakeCamera("yard"), newFakeCamera("attic")
	for i, c := range []*fakeCamera{door, yard, attic} {
		c.Publish(payload(i+1, 300), time.Now())
		if c != attic {
			c.addProfile(pipeline.ThumbProfile).Publish(payload(101+i, 100), time.Now())
		}
	}
	return door, yard, attic
}

// wallPart is one part of the wall as a client sees it.
type wallPart struct {
	part
	camera, profile string
	index           int // payload index of the body, -1 for a placeholder
}

func (p wallPart) String() string {
	s := p.camera + "/" + p.profile + ":" + strconv.Itoa(p.index)
	if p.noSignal() {
		s += "(no signal)"
	}
	return s
}

// openWall GETs a wall and returns its multipart reader.
func openWall(t *testing.T, srv *httptest.Server, path string) (*http.Response, *multipart.Reader) {
	t.Helper()
	resp := do(t, srv, http.MethodGet, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, readAll(t, resp.Body))
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] != pipeline.Boundary {
		t.Fatalf("GET %s: Content-Type %q", path, resp.Header.Get("Content-Type"))
	}
	return resp, multipart.NewReader(resp.Body, params["boundary"])
}

// nextWallPart reads the next part of a wall and checks its tags.
func nextWallPart(t *testing.T, mr *multipart.Reader) wallPart {
	t.Helper()
	p := wallPart{part: nextPart(t, mr)}
	p.camera, p.profile = p.header.Get("X-Camera"), p.header.Get("X-Profile")
	if p.camera == "" || p.profile == "" {
		t.Fatalf("part without X-Camera or X-Profile: %v", p.header)
	}
	p.index = payloadIndex(p.body)
	if p.noSignal() {
		if p.index != -1 {
			t.Errorf("%s: a camera frame tagged X-No-Signal", p)
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(p.body)); err != nil {
			t.Errorf("%s: the placeholder is not a JPEG: %v", p, err)
		}
	} else if p.index < 0 {
		t.Errorf("part of %s is neither a camera frame nor tagged X-No-Signal: %q", p.camera, p.body[:min(16, len(p.body))])
	}
	return p
}

// wallUntil reads parts until done says so, failing after max parts.
func wallUntil(t *testing.T, mr *multipart.Reader, max int, what string, done func(wallPart) bool) []wallPart {
	t.Helper()
	var got []wallPart
	for len(got) < max {
		p := nextWallPart(t, mr)
		got = append(got, p)
		if done(p) {
			return got
		}
	}
	t.Fatalf("%s: not within %d parts: %v", what, max, got)
	return nil
}

func TestWallHeaders(t *testing.T) {
	door, yard, attic := newFakeCamera("door"), newFakeCamera("yard"), newFakeCamera("attic")
	srv := newServer(t, Config{}, door, yard, attic)
	resp := do(t, srv, http.MethodGet, "/wall/video", nil)
	// No camera has a frame: the preamble still comes at once.
	checkStreamStart(t, resp, "multipart/mixed; boundary=frame")
	// Every camera is acquired (none has a thumb: their main streams).
	waitFor(t, "the wall to acquire every camera", func() bool {
		return door.holding() == 1 && yard.holding() == 1 && attic.holding() == 1
	})
	resp.Body.Close()
	waitFor(t, "the wall to release every camera", func() bool {
		return door.holding() == 0 && yard.holding() == 0 && attic.holding() == 0
	})
}

func TestWallHead(t *testing.T) {
	door, yard, attic := wallCameras()
	srv := newServer(t, Config{}, door, yard, attic)
	for _, path := range []string{"/wall/video", "/wall/video?cameras=door,attic&profile=main&fps=2"} {
		resp := do(t, srv, http.MethodHead, path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD %s: status %d", path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); got != "multipart/mixed; boundary=frame" {
			t.Errorf("HEAD %s: Content-Type %q", path, got)
		}
		if body := readAll(t, resp.Body); len(body) != 0 {
			t.Errorf("HEAD %s: body %q", path, body)
		}
	}
	for _, c := range []*fakeCamera{door, yard, attic} {
		feeds := []*fakeFeed{c.fakeFeed}
		if f := c.profile(pipeline.ThumbProfile); f != nil {
			feeds = append(feeds, f)
		}
		for _, f := range feeds {
			if _, n := f.counts(); n != 0 {
				t.Errorf("HEAD acquired a feed of %s %d times", c.name, n)
			}
		}
	}
}

func TestWallParts(t *testing.T) {
	door, yard, attic := wallCameras()
	// A second frame of each: the newest comes first.
	door.profile("thumb").Publish(payload(201, 100), time.Now())
	yard.profile("thumb").Publish(payload(202, 100), time.Now())
	attic.Publish(payload(203, 100), time.Now())
	srv := newServer(t, Config{}, door, yard, attic)
	_, mr := openWall(t, srv, "/wall/video")

	// The newest frame of every camera, in config order; attic has no thumb
	// and is served its main stream.
	var got []string
	for range 3 {
		got = append(got, nextWallPart(t, mr).String())
	}
	if want := "door/thumb:201 yard/thumb:202 attic/main:203"; strings.Join(got, " ") != want {
		t.Fatalf("first parts %v, want %s", got, want)
	}
	waitFor(t, "the wall to acquire the feeds served", func() bool {
		return door.profile("thumb").holding() == 1 && yard.profile("thumb").holding() == 1 && attic.holding() == 1
	})
	if door.holding() != 0 || yard.holding() != 0 {
		t.Error("the wall acquired a main stream it does not serve")
	}

	// New frames: each comes tagged with its camera.
	for i := 0; i < 3; i++ {
		door.profile("thumb").Publish(payload(300+i, 1000+i), time.Now())
		if p := nextWallPart(t, mr); p.String() != fmt.Sprintf("door/thumb:%d", 300+i) {
			t.Fatalf("got %s, want door/thumb:%d", p, 300+i)
		}
		attic.Publish(payload(400+i, 5000+i), time.Now())
		if p := nextWallPart(t, mr); p.String() != fmt.Sprintf("attic/main:%d", 400+i) {
			t.Fatalf("got %s, want attic/main:%d", p, 400+i)
		}
		yard.Publish(payload(900, 100), time.Now()) // yard's main stream is not on the wall
		yard.profile("thumb").Publish(payload(500+i, 100), time.Now())
		if p := nextWallPart(t, mr); p.String() != fmt.Sprintf("yard/thumb:%d", 500+i) {
			t.Fatalf("got %s, want yard/thumb:%d", p, 500+i)
		}
	}
}

func TestWallRealJPEGs(t *testing.T) {
	door, yard := newFakeCamera("door"), newFakeCamera("yard")
	for _, c := range []*fakeCamera{door, yard} {
		c.Publish(renderNoSignal(c.name, "A CAMERA FRAME"), time.UnixMilli(1700000000123))
	}
	srv := newServer(t, Config{}, door, yard)
	_, mr := openWall(t, srv, "/wall/video?profile=main")
	for _, name := range []string{"door", "yard"} {
		p := nextPart(t, mr)
		if got := p.header.Get("X-Camera") + "/" + p.header.Get("X-Profile"); got != name+"/main" || p.noSignal() {
			t.Fatalf("got a part of %s (no-signal %v), want a main frame of %s", got, p.noSignal(), name)
		}
		if got := p.header.Get("X-Timestamp"); got != "1700000000.123" {
			t.Errorf("X-Timestamp = %q", got)
		}
		if _, err := jpeg.Decode(bytes.NewReader(p.body)); err != nil {
			t.Errorf("part of %s does not decode: %v", name, err)
		}
	}
}

func TestWallQuery(t *testing.T) {
	tests := []struct {
		query string
		want  string // the first parts
	}{
		{"", "door/thumb:101 yard/thumb:102 attic/main:3"},
		{"?cameras=", "door/thumb:101 yard/thumb:102 attic/main:3"},
		{"?cameras=attic,door", "attic/main:3 door/thumb:101"},
		{"?cameras=yard,door,yard,,door", "yard/thumb:102 door/thumb:101"},
		{"?cameras=yard&cameras=attic", "yard/thumb:102 attic/main:3"},
		{"?cameras=%20door%20,yard", "door/thumb:101 yard/thumb:102"},
		{"?profile=main", "door/main:1 yard/main:2 attic/main:3"},
		{"?profile=thumb&cameras=attic", "attic/main:3"}, // the default profile: no 404
		{"?profile=sub", "door/main:1 yard/sub:302 attic/main:3"},
		{"?profile=sub&cameras=yard", "yard/sub:302"},
		{"?fps=2", "door/thumb:101 yard/thumb:102 attic/main:3"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			door, yard, attic := wallCameras()
			yard.addProfile("sub").Publish(payload(302, 100), time.Now())
			srv := newServer(t, Config{}, door, yard, attic)
			resp, mr := openWall(t, srv, "/wall/video"+tt.query)
			n := len(strings.Fields(tt.want))
			var got []string
			for range n {
				got = append(got, nextWallPart(t, mr).String())
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("first parts %v, want %s", got, tt.want)
			}
			// Nothing more: a camera listed twice sends once.
			for _, c := range []*fakeCamera{door, yard, attic} {
				if !strings.Contains(tt.want, c.name) {
					continue
				}
				if h := c.holding(); h > 1 {
					t.Errorf("%s main stream held %d times", c.name, h)
				}
				for _, p := range []string{"thumb", "sub"} {
					if f := c.profile(p); f != nil && f.holding() > 1 {
						t.Errorf("%s %s held %d times", c.name, p, f.holding())
					}
				}
			}
			resp.Body.Close()
		})
	}
}

func TestWallErrors(t *testing.T) {
	door, yard, attic := wallCameras()
	srv := newServer(t, Config{}, door, yard, attic)
	tests := []struct {
		query string
		code  int
		error string
	}{
		{"?cameras=door,nope", 404, `unknown camera "nope"`},
		{"?profile=hd", 404, `unknown profile "hd": none of the cameras has it`},
		{"?profile=hd&cameras=door", 404, `unknown profile "hd" of camera "door"`},
		{"?profile=thumb&cameras=attic", 200, ""}, // falls back to main
		{"?fps=abc", 400, `invalid fps "abc": want a number > 0`},
		{"?fps=0", 400, `invalid fps "0": want a number > 0`},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+tt.query, func(t *testing.T) {
				resp := do(t, srv, method, "/wall/video"+tt.query, nil)
				if resp.StatusCode != tt.code {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
				}
				if tt.code == 200 {
					resp.Body.Close()
					return
				}
				if got := resp.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type = %q", got)
				}
				body := readAll(t, resp.Body)
				if method == http.MethodHead {
					return
				}
				var e errorBody
				if err := json.Unmarshal(body, &e); err != nil || e.Error != tt.error {
					t.Errorf("body %q, want error %q", body, tt.error)
				}
			})
		}
	}
	waitFor(t, "every feed released", func() bool { return attic.holding() == 0 })
	if _, n := door.profile("thumb").counts(); n != 0 {
		t.Errorf("refused requests acquired door's thumb %d times", n)
	}

	empty := newServer(t, Config{})
	resp := do(t, empty, http.MethodGet, "/wall/video", nil)
	if body := readAll(t, resp.Body); resp.StatusCode != 404 || !strings.Contains(string(body), "no camera configured") {
		t.Errorf("wall without cameras: status %d, body %q", resp.StatusCode, body)
	}
}

func TestWallAuth(t *testing.T) {
	door := newFakeCamera("door")
	srv := newServer(t, Config{Auth: &Auth{Tokens: []string{"s3cret"}}}, door)
	if resp := do(t, srv, http.MethodGet, "/wall/video", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: status %d, want 401", resp.StatusCode)
	}
	resp := do(t, srv, http.MethodGet, "/wall/video?token=s3cret", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with the token: status %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestWallNoSignal(t *testing.T) {
	door, yard, attic := wallCameras()
	srv := newServer(t, Config{NoSignalEvery: 100 * time.Millisecond}, door, yard, attic)
	pub := startPublisher(door.profile("thumb"), 1000, 100, 20*time.Millisecond)
	defer pub.stop()
	_, mr := openWall(t, srv, "/wall/video?cameras=door,yard")
	nextWallPart(t, mr) // door's newest
	if p := nextWallPart(t, mr); p.String() != "yard/thumb:102" {
		t.Fatalf("second part %s, want yard/thumb:102", p)
	}

	// yard sends nothing: its tagged placeholders come every 100 ms while
	// door streams.
	var yardDown, doorUp int
	var prev time.Time
	wallUntil(t, mr, 200, "3 placeholders of yard", func(p wallPart) bool {
		switch {
		case p.camera == "door" && !p.noSignal():
			doorUp++
		case p.camera == "door":
			// door publishes every 20 ms, but a loaded test machine (the
			// race detector renders a placeholder slowly) may stall it
			// for a period.
		case p.camera == "yard" && p.noSignal():
			if p.profile != "thumb" {
				t.Errorf("placeholder of yard tagged X-Profile %q", p.profile)
			}
			if !prev.IsZero() && p.at.Sub(prev) < 50*time.Millisecond {
				t.Errorf("placeholders of yard %s apart, want about 100ms", p.at.Sub(prev))
			}
			prev = p.at
			yardDown++
		default:
			t.Errorf("unexpected part %s", p)
		}
		return yardDown == 3
	})
	if doorUp < 5 {
		t.Errorf("door sent %d frames meanwhile, want it to go on streaming", doorUp)
	}

	// yard comes back on the same connection.
	yard.profile("thumb").Publish(payload(600, 100), time.Now())
	wallUntil(t, mr, 100, "yard's frame after the outage", func(p wallPart) bool {
		return p.String() == "yard/thumb:600"
	})
}

// TestWallCameraRemoved: a camera (or profile) removed by a reload ends
// the wall, and every feed is released.
func TestWallCameraRemoved(t *testing.T) {
	door, yard, attic := wallCameras()
	rt := NewRouter(Config{NoSignalEvery: time.Minute}, []Camera{door, yard, attic}, quietLog())
	srv := httptestServer(t, rt)
	resp, mr := openWall(t, srv, "/wall/video")
	for range 3 {
		nextWallPart(t, mr)
	}
	waitFor(t, "yard acquired", func() bool { return yard.profile("thumb").holding() == 1 })

	// A reload removes yard: the wall ends, so that the page asks again
	// for the cameras there are now, rather than show yard frozen.
	rt.SetCameras([]Camera{door, attic})
	yard.Close()
	within(t, 5*time.Second, "the wall to end", func() {
		for {
			if _, err := mr.NextPart(); err != nil {
				return
			}
		}
	})
	resp.Body.Close()
	waitFor(t, "every feed released", func() bool {
		return door.profile("thumb").holding() == 0 && yard.profile("thumb").holding() == 0 && attic.holding() == 0
	})
}

func TestWallViewerCaps(t *testing.T) {
	door, yard, attic := wallCameras()
	srv := newServer(t, Config{MaxViewers: 3, MaxViewersPerCamera: 2}, door, yard, attic)
	open := func(path string) *http.Response { return do(t, srv, http.MethodGet, path, nil) }
	// The wall counts once per camera listed...
	w1 := open("/wall/video")
	v1 := open("/cameras/door/video")
	if w1.StatusCode != 200 || v1.StatusCode != 200 {
		t.Fatalf("wall and a viewer of door: %d %d", w1.StatusCode, v1.StatusCode)
	}
	w2 := open("/wall/video?cameras=door,yard")
	if body := readAll(t, w2.Body); w2.StatusCode != 503 || !strings.Contains(string(body), `too many viewers of camera \"door\"`) || w2.Header.Get("Retry-After") == "" {
		t.Fatalf("a wall with door past its cap: %d %s", w2.StatusCode, body)
	}
	// ... and once in all, however many cameras it shows.
	w3 := open("/wall/video?cameras=yard,attic")
	if w3.StatusCode != 200 {
		t.Fatalf("a third stream: %d", w3.StatusCode)
	}
	w4 := open("/wall/video?cameras=attic")
	if body := readAll(t, w4.Body); w4.StatusCode != 503 || !strings.Contains(string(body), "at most 3 streams") {
		t.Fatalf("a fourth stream: %d %s", w4.StatusCode, body)
	}
	// The refused walls acquired nothing.
	waitFor(t, "the feeds held by the open streams", func() bool {
		return door.holding() == 1 && door.profile("thumb").holding() == 1 &&
			yard.profile("thumb").holding() == 2 && attic.holding() == 2
	})
	w1.Body.Close()
	waitFor(t, "a place freed by the wall leaving", func() bool {
		r := open("/wall/video?cameras=door")
		defer r.Body.Close()
		return r.StatusCode == 200
	})
}

func TestWallDropsStuckClient(t *testing.T) {
	door, yard, attic := wallCameras()
	const writeTimeout = 300 * time.Millisecond
	srv := newServer(t, Config{WriteTimeout: writeTimeout, NoSignalEvery: time.Minute}, door, yard, attic)
	feeds := []*fakeFeed{door.profile("thumb"), yard.profile("thumb"), attic.fakeFeed}
	held := func(n int) func() bool {
		return func() bool {
			for _, f := range feeds {
				if f.holding() != n {
					return false
				}
			}
			return true
		}
	}

	// A client that sends its request and never reads.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /wall/video HTTP/1.1\r\nHost: test\r\n\r\n")
	waitFor(t, "the stuck wall to acquire every feed", held(1))

	// A wall that reads everything.
	resp, mr := openWall(t, srv, "/wall/video")
	for range 3 {
		nextWallPart(t, mr)
	}
	waitFor(t, "the reading wall to acquire every feed", held(2))
	seen := make(chan wallPart, 1000)
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
			select {
			case seen <- wallPart{camera: p.Header.Get("X-Camera"), index: payloadIndex(b)}:
			default:
			}
		}
	}()
	defer func() {
		resp.Body.Close()
		<-readerDone
	}()

	// Big frames on every camera fill the stuck client's socket buffers.
	start := time.Now()
	var pubs []*publisher
	for i, f := range feeds {
		pubs = append(pubs, startPublisher(f, 10000*(i+1), 64<<10, 5*time.Millisecond))
	}
	waitFor(t, "the stuck wall to be dropped, releasing every feed", held(1))
	dropped := time.Since(start)
	for _, p := range pubs {
		p.stop()
	}
	if dropped < writeTimeout {
		t.Errorf("stuck wall dropped after %s, before the write timeout", dropped)
	}

	// The reading wall still gets new frames of every camera.
	for len(seen) > 0 {
		<-seen
	}
	for i, f := range feeds {
		f.Publish(payload(90000+i, 100), time.Now())
	}
	want := map[string]bool{"door": true, "yard": true, "attic": true}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case p := <-seen:
			if p.index >= 90000 {
				delete(want, p.camera)
			}
		case <-deadline:
			t.Fatalf("the reading wall did not get the newest frames of %v (holders %d %d %d, seen %d)", want, feeds[0].holding(), feeds[1].holding(), feeds[2].holding(), len(seen))
		}
	}
}

// TestWallFair checks that on a connection slower than its cameras every
// camera gets its turn, and the frames skipped are counted as dropped.
func TestWallFair(t *testing.T) {
	door, yard, attic := wallCameras()
	// Small socket buffers on both ends: the connection holds about one
	// part, so the cameras contend for it at once.
	srv := httptest.NewUnstartedServer(NewRouter(Config{}, []Camera{door, yard, attic}, quietLog()))
	srv.Listener = smallBufferListener{srv.Listener}
	srv.Start()
	defer srv.Close()
	feeds := map[string]*fakeFeed{"door": door.profile("thumb"), "yard": yard.profile("thumb"), "attic": attic.fakeFeed}
	for _, f := range feeds {
		pub := startPublisher(f, 1, 32<<10, 5*time.Millisecond)
		defer pub.stop()
	}

	// The client reads one part at a time, a third as fast as the cameras
	// send.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	fmt.Fprintf(conn, "GET /wall/video HTTP/1.1\r\nHost: test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(resp.Body, pipeline.Boundary)
	count := map[string]int{}
	var order []string
	for range 60 {
		p := nextWallPart(t, mr)
		count[p.camera]++
		order = append(order, p.camera)
		time.Sleep(5 * time.Millisecond) // a slow reader, not a wait for a condition
	}
	for name := range feeds {
		if count[name] < 10 {
			t.Errorf("%s sent %d of 60 parts (%v): a camera starved", name, count[name], order)
		}
	}
	mfs := scrape(t, srv)
	for name := range feeds {
		profile := "thumb"
		if name == "attic" {
			profile = "main"
		}
		if v, _ := sample(mfs, "rtsp2mjpeg_dropped_frames_total", map[string]string{"camera": name, "profile": profile}); v == 0 {
			t.Errorf("no dropped frames counted for %s/%s", name, profile)
		}
	}
}

// smallBufferListener gives every connection it accepts a small send
// buffer.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// TestWallSlowClientSkipsToNewest holds the connection while the cameras
// send frames: once it takes writes again, each camera sends its newest.
func TestWallSlowClientSkipsToNewest(t *testing.T) {
	door, yard, attic := wallCameras()
	h := NewRouter(Config{NoSignalEvery: time.Minute}, []Camera{door, yard, attic}, quietLog())
	ctx, cancel := context.WithCancel(t.Context())
	w := &gatedWriter{ctx: ctx, header: http.Header{}, writes: make(chan []byte)}
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/wall/video", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, req)
	}()
	defer func() {
		cancel()
		<-done
	}()
	var buf bytes.Buffer
	take := func() {
		t.Helper()
		select {
		case b := <-w.writes:
			buf.Write(b)
		case <-time.After(5 * time.Second):
			t.Fatal("no write within 5s")
		}
	}
	// takePart takes writes until a whole part is in buf and returns it.
	takePart := func() string {
		t.Helper()
		for {
			if p, ok := cutWallPart(&buf); ok {
				return p
			}
			take()
		}
	}
	for buf.Len() < len(pipeline.StreamPreamble) {
		take()
	}
	if got := string(buf.Next(len(pipeline.StreamPreamble))); got != pipeline.StreamPreamble {
		t.Fatalf("body starts with %q", got)
	}
	var first []string
	for range 3 {
		first = append(first, takePart())
	}
	if got := strings.Join(first, " "); got != "door:101 yard:102 attic:3" {
		t.Fatalf("first parts %s", got)
	}

	// The client takes nothing while 9 frames of each camera come.
	feeds := []*fakeFeed{door.profile("thumb"), yard.profile("thumb"), attic.fakeFeed}
	for i := 1; i <= 9; i++ {
		for j, f := range feeds {
			f.Publish(payload(1000*(j+1)+i, 100), time.Now())
		}
	}
	// Each camera sends its newest frame; the one write under way when the
	// client stopped may be an older one, but nothing more.
	newest := map[string]string{"door": "door:1009", "yard": "yard:2009", "attic": "attic:3009"}
	var got []string
	for len(newest) > 0 && len(got) < 4 {
		p := takePart()
		got = append(got, p)
		cam, _, _ := strings.Cut(p, ":")
		if newest[cam] == p {
			delete(newest, cam)
		}
	}
	if len(newest) > 0 {
		t.Fatalf("after the client took writes again: %v, want the newest frame of each camera", got)
	}
}

// cutWallPart removes a whole part from the front of buf and returns it as
// "camera:index", or false if buf does not hold one yet.
func cutWallPart(buf *bytes.Buffer) (string, bool) {
	b := buf.Bytes()
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return "", false
	}
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(b[:end+4]))).ReadMIMEHeader()
	if err != nil {
		return "", false
	}
	n, _ := strconv.Atoi(hdr.Get("Content-Length"))
	size := end + 4 + n + len("\r\n--frame\r\n")
	if len(b) < size {
		return "", false
	}
	body := b[end+4 : end+4+n]
	buf.Next(size)
	return hdr.Get("X-Camera") + ":" + strconv.Itoa(payloadIndex(body)), true
}
