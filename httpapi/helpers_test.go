package httpapi

import (
	"context"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeFeed is a feed on a real hub that counts its holders: a fake
// camera's main stream, or one of its profiles. Tests publish its frames.
type fakeFeed struct {
	*pipeline.Hub

	mu       sync.Mutex // guards holders and acquires
	holders  int
	acquires int
}

func newFakeFeed() *fakeFeed { return &fakeFeed{Hub: pipeline.NewHub()} }

func (f *fakeFeed) Acquire() func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holders++
	f.acquires++
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.holders--
		})
	}
}

// counts returns the holders now and the acquires so far.
func (f *fakeFeed) counts() (holders, acquires int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.holders, f.acquires
}

func (f *fakeFeed) holding() int {
	h, _ := f.counts()
	return h
}

// fakeCamera is a Camera whose main stream is a fakeFeed; addProfile gives
// it profiles, each a fakeFeed of its own.
type fakeCamera struct {
	*fakeFeed
	name string

	mu       sync.Mutex // guards the fields below
	state    pipeline.State
	profiles []fakeProfile            // config order
	interval map[string]time.Duration // learnt frame interval, by profile (main too)
}

// fakeProfile is a profile of a fakeCamera.
type fakeProfile struct {
	name string
	feed testFeed
}

// testFeed is a feed of a fake camera: a fakeFeed, or one that embeds it.
type testFeed interface {
	pipeline.Feed
	holding() int
	Close()
}

func newFakeCamera(name string) *fakeCamera {
	return &fakeCamera{fakeFeed: newFakeFeed(), name: name, state: pipeline.StateStreaming}
}

func (c *fakeCamera) Name() string { return c.name }

// addProfile gives the camera a profile called name and returns its feed.
func (c *fakeCamera) addProfile(name string) *fakeFeed {
	f := newFakeFeed()
	c.addProfileFeed(name, f)
	return f
}

// addProfileFeed gives the camera a profile called name served by f.
func (c *fakeCamera) addProfileFeed(name string, f testFeed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.profiles = append(c.profiles, fakeProfile{name, f})
}

func (c *fakeCamera) Profile(name string) (pipeline.Feed, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.profiles {
		if p.name == name {
			return p.feed, true
		}
	}
	return nil, false
}

// Status reports the camera's state and holders, and a status per profile
// with the camera's state and the profile's holders.
func (c *fakeCamera) Status() pipeline.Status {
	c.mu.Lock()
	st := pipeline.Status{Name: c.name, URL: "rtsp://cam/" + c.name, State: c.state, FrameInterval: c.interval[pipeline.MainProfile]}
	profiles := c.profiles
	interval := maps.Clone(c.interval)
	c.mu.Unlock()
	st.Clients = c.holding()
	for _, p := range profiles {
		st.Profiles = append(st.Profiles, pipeline.ProfileStatus{Name: p.name, State: st.State, Clients: p.feed.holding(),
			FrameInterval: interval[p.name]})
	}
	return st
}

// setInterval sets the frame interval the camera learnt for a profile
// (pipeline.MainProfile: its main stream).
func (c *fakeCamera) setInterval(profile string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.interval == nil {
		c.interval = map[string]time.Duration{}
	}
	c.interval[profile] = d
}

func (c *fakeCamera) setState(s pipeline.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = s
}

// Close closes the hubs of the camera and its profiles, as removing a
// camera does: their viewers get pipeline.ErrHubClosed.
func (c *fakeCamera) Close() {
	c.mu.Lock()
	profiles := c.profiles
	c.mu.Unlock()
	c.Hub.Close()
	for _, p := range profiles {
		p.feed.Close()
	}
}

// profile returns the fakeFeed of the camera's profile called name, nil if
// it has none.
func (c *fakeCamera) profile(name string) *fakeFeed {
	f, _ := c.Profile(name)
	ff, _ := f.(*fakeFeed)
	return ff
}

// payload is a recognisable fake JPEG for frame i, padded to size bytes.
func payload(i, size int) []byte {
	b := []byte(fmt.Sprintf("jpeg-%06d;", i))
	for len(b) < size {
		b = append(b, byte('a'+len(b)%26))
	}
	return b
}

// payloadIndex returns i of a payload, or -1.
func payloadIndex(b []byte) int {
	s, ok := strings.CutPrefix(string(b), "jpeg-")
	if !ok || len(s) < 6 {
		return -1
	}
	i, err := strconv.Atoi(s[:6])
	if err != nil {
		return -1
	}
	return i
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.DebugLevel) // exercise the debug paths
	return logrus.NewEntry(l)
}

// newServer serves a router over cams on an httptest server closed at the
// end of the test.
func newServer(t *testing.T, cfg Config, cams ...Camera) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewRouter(cfg, cams, quietLog()))
	t.Cleanup(srv.Close)
	return srv
}

// do sends a request bound to the test's context and fails the test if no
// response header comes within 5 s.
func do(t *testing.T, srv *httptest.Server, method, path string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	type result struct {
		resp *http.Response
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		ch <- result{resp, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s %s: %v", method, path, r.err)
		}
		t.Cleanup(func() { r.resp.Body.Close() })
		return r.resp
	case <-time.After(5 * time.Second):
		t.Fatalf("%s %s: no response header within 5s", method, path)
		return nil
	}
}

// readAll reads the body within 5 s.
func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var b []byte
	var err error
	within(t, 5*time.Second, "read body", func() { b, err = io.ReadAll(r) })
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

// within runs f and fails the test if it does not return within d. f must
// end by itself once the test's context ends.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: not done within %s", what, d)
	}
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// part is one part of an MJPEG stream as a client sees it.
type part struct {
	header textproto.MIMEHeader
	body   []byte
	at     time.Time // when the client had it whole
}

func (p part) noSignal() bool { return p.header.Get("X-No-Signal") == "1" }

// openStream GETs a stream and returns its multipart reader.
func openStream(t *testing.T, srv *httptest.Server, path string) (*http.Response, *multipart.Reader) {
	t.Helper()
	resp := do(t, srv, http.MethodGet, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] != pipeline.Boundary {
		t.Fatalf("GET %s: Content-Type %q", path, resp.Header.Get("Content-Type"))
	}
	return resp, multipart.NewReader(resp.Body, params["boundary"])
}

// nextPart reads the next whole part within 5 s and checks its headers.
func nextPart(t *testing.T, mr *multipart.Reader) part {
	t.Helper()
	var p part
	var err error
	within(t, 5*time.Second, "read part", func() {
		var mp *multipart.Part
		if mp, err = mr.NextPart(); err != nil {
			return
		}
		p.header = mp.Header
		p.body, err = io.ReadAll(mp)
		p.at = time.Now()
	})
	if err != nil {
		t.Fatalf("read part: %v", err)
	}
	if got := p.header.Get("Content-Type"); got != "image/jpeg" {
		t.Errorf("part Content-Type = %q, want image/jpeg", got)
	}
	if got := p.header.Get("Content-Length"); got != strconv.Itoa(len(p.body)) {
		t.Errorf("part Content-Length = %q, body has %d bytes", got, len(p.body))
	}
	if p.header.Get("X-Timestamp") == "" {
		t.Error("part has no X-Timestamp")
	}
	return p
}

// publisher publishes numbered frames every period until stopped.
type publisher struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // guards last
	last   int        // index of the last frame published
}

// hubLike is what publishes frames: a fake camera, one of its profiles.
type hubLike interface {
	Publish(jpeg []byte, at time.Time) uint64
}

func startPublisher(cam hubLike, first, size int, period time.Duration) *publisher {
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for i := first; ; i++ {
			cam.Publish(payload(i, size), time.Now())
			p.mu.Lock()
			p.last = i
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *publisher) stop() {
	p.cancel()
	<-p.done
}

// lastIndex is the index of the last frame published.
func (p *publisher) lastIndex() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// httptestServer serves h on an httptest server closed at the end of the test.
func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// checkStreamStart checks the headers of a stream response (an MJPEG
// stream's or the wall's, by contentType) and that its body opens with the
// preamble at once, before any frame.
func checkStreamStart(t *testing.T, resp *http.Response, contentType string) {
	t.Helper()
	want := map[string]string{
		"Content-Type":      contentType,
		"Cache-Control":     "no-cache, no-store, must-revalidate",
		"Pragma":            "no-cache",
		"X-Accel-Buffering": "no",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	buf := make([]byte, len(pipeline.StreamPreamble))
	within(t, 5*time.Second, "read preamble", func() { _, _ = io.ReadFull(resp.Body, buf) })
	if string(buf) != "--frame\r\n" {
		t.Errorf("body starts with %q, want %q", buf, "--frame\r\n")
	}
}
