package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// statusCamera is a fakeCamera with the counters of a real one: Publish
// counts frames and bytes, and update sets the other status fields.
type statusCamera struct {
	*fakeCamera

	mu sync.Mutex      // guards st
	st pipeline.Status // State and Clients come from fakeCamera
}

func newStatusCamera(name string, state pipeline.State) *statusCamera {
	c := &statusCamera{fakeCamera: newFakeCamera(name)}
	c.setState(state)
	c.st.Running = state == pipeline.StateStreaming
	return c
}

func (c *statusCamera) Publish(jpeg []byte, at time.Time) uint64 {
	seq := c.fakeCamera.Publish(jpeg, at)
	c.update(func(st *pipeline.Status) {
		st.Frames++
		st.Bytes += uint64(len(jpeg))
		st.LastFrameAt = &at
	})
	return seq
}

func (c *statusCamera) update(f func(*pipeline.Status)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.st)
}

func (c *statusCamera) Status() pipeline.Status {
	base := c.fakeCamera.Status()
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	st.Name, st.URL, st.State, st.Clients = base.Name, base.URL, base.State, base.Clients
	if st.Profiles == nil { // none set by update: those of the fake
		st.Profiles = base.Profiles
	}
	return st
}

// script hands a viewer frames with the given sequence numbers, one per
// Next call, then waits for the viewer to leave.
type script struct {
	mu   sync.Mutex // guards seqs
	seqs []uint64
}

func (s *script) Next(ctx context.Context, after uint64) (*pipeline.Frame, error) {
	s.mu.Lock()
	if len(s.seqs) > 0 {
		seq := s.seqs[0]
		s.seqs = s.seqs[1:]
		s.mu.Unlock()
		return pipeline.NewFrame(payload(int(seq), 64), time.Now(), seq), nil
	}
	s.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

// NextBefore hides the hub's, which the stream would use instead of Next.
func (s *script) NextBefore(ctx context.Context, after uint64, timeout <-chan time.Time) (*pipeline.Frame, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-timeout:
			cancel()
		case <-ctx.Done():
		}
	}()
	return s.Next(ctx, after)
}

// scriptedCamera is a camera whose main stream follows a script.
type scriptedCamera struct {
	*fakeCamera
	*script
}

// scriptedFeed is a profile feed that follows a script.
type scriptedFeed struct {
	*fakeFeed
	*script
}

// scrape GETs /metrics and parses it as the Prometheus text format.
func scrape(t *testing.T, srv *httptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp := do(t, srv, http.MethodGet, "/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(readAll(t, resp.Body))))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// sample returns the value of the series of family name whose labels
// include want, and whether there is exactly one.
func sample(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	var v float64
	n := 0
	for _, m := range mf.GetMetric() {
		match := 0
		for _, l := range m.GetLabel() {
			if w, ok := want[l.GetName()]; ok && w == l.GetValue() {
				match++
			}
		}
		if match != len(want) {
			continue
		}
		n++
		switch {
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Untyped != nil:
			v = m.Untyped.GetValue()
		}
	}
	return v, n == 1
}

// cameraLabels returns the camera label of every series of family name.
func cameraLabels(mfs map[string]*dto.MetricFamily, name string) []string {
	var cams []string
	for _, m := range mfs[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "camera" {
				cams = append(cams, l.GetValue())
			}
		}
	}
	return cams
}

func TestMetrics(t *testing.T) {
	door := newStatusCamera("door", pipeline.StateStreaming)
	yard := newStatusCamera("yard", pipeline.StateBackoff)
	yard.update(func(st *pipeline.Status) {
		st.Restarts = 3
		st.LastError = "connection refused"
	})
	rt := NewRouter(Config{}, []Camera{door, yard}, quietLog())
	srv := httptestServer(t, rt)

	at := time.Now().Add(-1500 * time.Millisecond).Truncate(time.Millisecond)
	for i := range 3 {
		door.Publish(payload(i, 100), at)
	}
	door.update(func(st *pipeline.Status) { st.FPS = 12.5 })
	release := door.Acquire()
	defer release()

	mfs := scrape(t, srv)
	families := []struct {
		name string
		typ  dto.MetricType
	}{
		{"rtsp2mjpeg_frames_total", dto.MetricType_COUNTER},
		{"rtsp2mjpeg_bytes_total", dto.MetricType_COUNTER},
		{"rtsp2mjpeg_restarts_total", dto.MetricType_COUNTER},
		{"rtsp2mjpeg_dropped_frames_total", dto.MetricType_COUNTER},
		{"rtsp2mjpeg_clients", dto.MetricType_GAUGE},
		{"rtsp2mjpeg_ffmpeg_up", dto.MetricType_GAUGE},
		{"rtsp2mjpeg_fps", dto.MetricType_GAUGE},
		{"rtsp2mjpeg_last_frame_timestamp_seconds", dto.MetricType_GAUGE},
		{"rtsp2mjpeg_camera_state", dto.MetricType_GAUGE},
	}
	for _, f := range families {
		mf := mfs[f.name]
		if mf == nil {
			t.Errorf("family %s missing", f.name)
			continue
		}
		if mf.GetType() != f.typ {
			t.Errorf("%s: type %s, want %s", f.name, mf.GetType(), f.typ)
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s: no help", f.name)
		}
		if got := strings.Join(cameraLabels(mfs, f.name), ","); got != "door,yard" {
			t.Errorf("%s: cameras %q, want door,yard", f.name, got)
		}
	}
	// The Go and process collectors of the private registry.
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}

	door1 := map[string]string{"camera": "door", "profile": "main"}
	yard1 := map[string]string{"camera": "yard", "profile": "main"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rtsp2mjpeg_frames_total", door1, 3},
		{"rtsp2mjpeg_bytes_total", door1, 300},
		{"rtsp2mjpeg_frames_total", yard1, 0},
		{"rtsp2mjpeg_restarts_total", yard1, 3},
		{"rtsp2mjpeg_restarts_total", door1, 0},
		{"rtsp2mjpeg_dropped_frames_total", door1, 0},
		{"rtsp2mjpeg_clients", door1, 1},
		{"rtsp2mjpeg_clients", yard1, 0},
		{"rtsp2mjpeg_ffmpeg_up", door1, 1},
		{"rtsp2mjpeg_ffmpeg_up", yard1, 0},
		{"rtsp2mjpeg_fps", door1, 12.5},
		{"rtsp2mjpeg_last_frame_timestamp_seconds", door1, float64(at.UnixMilli()) / 1e3},
		{"rtsp2mjpeg_last_frame_timestamp_seconds", yard1, 0},
		{"rtsp2mjpeg_camera_state", map[string]string{"camera": "door", "profile": "main", "state": "streaming"}, 1},
		{"rtsp2mjpeg_camera_state", map[string]string{"camera": "yard", "profile": "main", "state": "backoff"}, 1},
	}
	for _, c := range checks {
		got, ok := sample(mfs, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v: no single series", c.name, c.labels)
		} else if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// One state series per camera: the current one.
	if n := len(mfs["rtsp2mjpeg_camera_state"].GetMetric()); n != 2 {
		t.Errorf("rtsp2mjpeg_camera_state has %d series, want 2", n)
	}
	if got, ok := sample(mfs, "rtsp2mjpeg_seconds_since_last_frame", door1); !ok || got < 1.5 || got > 60 {
		t.Errorf("rtsp2mjpeg_seconds_since_last_frame{door} = %v (found %v), want 1.5..60", got, ok)
	}
	if _, ok := sample(mfs, "rtsp2mjpeg_seconds_since_last_frame", yard1); ok {
		t.Error("rtsp2mjpeg_seconds_since_last_frame{yard} present before its first frame")
	}

	// The state series follows the camera.
	yard.setState(pipeline.StateStreaming)
	mfs = scrape(t, srv)
	if _, ok := sample(mfs, "rtsp2mjpeg_camera_state", map[string]string{"camera": "yard", "state": "streaming"}); !ok {
		t.Error("camera_state{yard} is not streaming after the change")
	}
	if _, ok := sample(mfs, "rtsp2mjpeg_camera_state", map[string]string{"camera": "yard", "state": "backoff"}); ok {
		t.Error("camera_state{yard,backoff} still there after the change")
	}

	// A removed camera disappears; nothing was registered for it.
	rt.SetCameras([]Camera{door})
	mfs = scrape(t, srv)
	for _, f := range families {
		if got := strings.Join(cameraLabels(mfs, f.name), ","); got != "door" {
			t.Errorf("after removing yard, %s: cameras %q, want door", f.name, got)
		}
	}
}

func TestMetricsHead(t *testing.T) {
	srv := newServer(t, Config{}, newFakeCamera("door"))
	resp := do(t, srv, http.MethodHead, "/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("HEAD /metrics: Content-Type %q", ct)
	}
	if b := readAll(t, resp.Body); len(b) != 0 {
		t.Errorf("HEAD /metrics: %d body bytes", len(b))
	}
}

// TestMetricsDroppedFrames checks that the stream counts the frames a
// viewer skipped (Seq jumps), except under a ?fps= cap, per camera and
// profile, and that the count survives a camera set change.
func TestMetricsDroppedFrames(t *testing.T) {
	for _, tc := range []struct {
		profile string // "": the main stream
		query   string
		want    float64
	}{
		{"", "", 2 + 3}, // 1, 2, 5, 6, 10
		{"", "?fps=1000", 0},
		{"thumb", "?profile=thumb", 2 + 3},
		{"thumb", "?profile=thumb&fps=1000", 0},
	} {
		t.Run("query="+tc.query, func(t *testing.T) {
			seqs := []uint64{1, 2, 5, 6, 10}
			var cam Camera
			var holding func() int
			if tc.profile == "" {
				c := &scriptedCamera{fakeCamera: newFakeCamera("door"), script: &script{seqs: seqs}}
				cam, holding = c, c.holding
			} else {
				c := newFakeCamera("door")
				f := &scriptedFeed{fakeFeed: newFakeFeed(), script: &script{seqs: seqs}}
				c.addProfileFeed(tc.profile, f)
				cam, holding = c, f.holding
			}
			rt := NewRouter(Config{}, []Camera{cam}, quietLog())
			srv := httptestServer(t, rt)
			resp, mr := openStream(t, srv, "/cameras/door/video"+tc.query)
			for range 5 {
				nextPart(t, mr)
			}
			resp.Body.Close()
			waitFor(t, "viewer gone", func() bool { return holding() == 0 })

			dropped := func(profile string) float64 {
				t.Helper()
				v, ok := sample(scrape(t, srv), "rtsp2mjpeg_dropped_frames_total", map[string]string{"camera": "door", "profile": profile})
				if !ok {
					t.Fatalf("no rtsp2mjpeg_dropped_frames_total{camera=door,profile=%s}", profile)
				}
				return v
			}
			profile, other := "main", "thumb"
			if tc.profile != "" {
				profile, other = tc.profile, "main"
			}
			if got := dropped(profile); got != tc.want {
				t.Errorf("dropped frames of %s = %v, want %v", profile, got, tc.want)
			}
			if tc.profile != "" {
				if got := dropped(other); got != 0 {
					t.Errorf("dropped frames of %s = %v, want 0", other, got)
				}
			}
			// A reload that replaces the camera by one of the same name
			// keeps its count.
			next := newFakeCamera("door")
			next.addProfile("thumb")
			rt.SetCameras([]Camera{next})
			if got := dropped(profile); got != tc.want {
				t.Errorf("dropped frames of %s after reload = %v, want %v", profile, got, tc.want)
			}
		})
	}
}

func TestMetricsProfiles(t *testing.T) {
	door := newStatusCamera("door", pipeline.StateStreaming)
	yard := newStatusCamera("yard", pipeline.StateBackoff)
	at := time.Now().Add(-3 * time.Second).Truncate(time.Millisecond)
	door.update(func(st *pipeline.Status) {
		st.Frames, st.Restarts = 40, 1
		st.LastFrameAt = &at
		st.Profiles = []pipeline.ProfileStatus{
			{Name: "thumb", Width: 320, MaxFPS: 5, State: pipeline.StateStreaming, FPS: 4.5,
				Frames: 12, Bytes: 1200, LastFrameAt: &at, Restarts: 1, Clients: 2, Running: true},
			{Name: "sub", URL: "rtsp://cam/door-sub", State: pipeline.StateBackoff,
				Restarts: 4, LastError: "connection refused"},
		}
	})
	srv := newServer(t, Config{}, door, yard)
	mfs := scrape(t, srv)

	// Every family has one series per feed: the main stream of each
	// camera, then its profiles.
	for _, name := range []string{
		"rtsp2mjpeg_frames_total", "rtsp2mjpeg_bytes_total", "rtsp2mjpeg_restarts_total",
		"rtsp2mjpeg_dropped_frames_total", "rtsp2mjpeg_clients", "rtsp2mjpeg_ffmpeg_up",
		"rtsp2mjpeg_fps", "rtsp2mjpeg_last_frame_timestamp_seconds", "rtsp2mjpeg_camera_state",
	} {
		var feeds []string
		for _, m := range mfs[name].GetMetric() {
			var cam, profile string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "camera":
					cam = l.GetValue()
				case "profile":
					profile = l.GetValue()
				}
			}
			feeds = append(feeds, cam+"/"+profile)
		}
		slices.Sort(feeds)
		want := "door/main,door/sub,door/thumb,yard/main"
		if name == "rtsp2mjpeg_restarts_total" { // the thumb's restarts are main's: counted once
			want = "door/main,door/sub,yard/main"
		}
		if got := strings.Join(feeds, ","); got != want {
			t.Errorf("%s: series %s, want %s", name, got, want)
		}
	}

	feed := func(cam, profile string) map[string]string {
		return map[string]string{"camera": cam, "profile": profile}
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rtsp2mjpeg_frames_total", feed("door", "main"), 40},
		{"rtsp2mjpeg_frames_total", feed("door", "thumb"), 12},
		{"rtsp2mjpeg_frames_total", feed("door", "sub"), 0},
		{"rtsp2mjpeg_bytes_total", feed("door", "thumb"), 1200},
		{"rtsp2mjpeg_restarts_total", feed("door", "sub"), 4},
		{"rtsp2mjpeg_dropped_frames_total", feed("door", "thumb"), 0},
		{"rtsp2mjpeg_clients", feed("door", "thumb"), 2},
		{"rtsp2mjpeg_clients", feed("door", "sub"), 0},
		{"rtsp2mjpeg_ffmpeg_up", feed("door", "thumb"), 1},
		{"rtsp2mjpeg_ffmpeg_up", feed("door", "sub"), 0},
		{"rtsp2mjpeg_fps", feed("door", "thumb"), 4.5},
		{"rtsp2mjpeg_last_frame_timestamp_seconds", feed("door", "thumb"), float64(at.UnixMilli()) / 1e3},
		{"rtsp2mjpeg_last_frame_timestamp_seconds", feed("door", "sub"), 0},
		{"rtsp2mjpeg_camera_state", map[string]string{"camera": "door", "profile": "thumb", "state": "streaming"}, 1},
		{"rtsp2mjpeg_camera_state", map[string]string{"camera": "door", "profile": "sub", "state": "backoff"}, 1},
		{"rtsp2mjpeg_camera_state", map[string]string{"camera": "yard", "profile": "main", "state": "backoff"}, 1},
	}
	for _, c := range checks {
		got, ok := sample(mfs, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v: no single series", c.name, c.labels)
		} else if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got, ok := sample(mfs, "rtsp2mjpeg_seconds_since_last_frame", feed("door", "thumb")); !ok || got < 3 || got > 60 {
		t.Errorf("rtsp2mjpeg_seconds_since_last_frame{door,thumb} = %v (found %v), want 3..60", got, ok)
	}
	if _, ok := sample(mfs, "rtsp2mjpeg_seconds_since_last_frame", feed("door", "sub")); ok {
		t.Error("rtsp2mjpeg_seconds_since_last_frame{door,sub} present before its first frame")
	}
}

// TestMetricsIdleProfile: a profile made only while watched (of a
// codec-copy camera) that nobody watches is idle, not down: it has no
// last-frame series for a staleness alert to fire on.
func TestMetricsIdleProfile(t *testing.T) {
	door := newStatusCamera("door", pipeline.StateStreaming)
	door.update(func(st *pipeline.Status) {
		st.Profiles = []pipeline.ProfileStatus{{Name: "thumb", State: pipeline.StateIdle}}
	})
	mfs := scrape(t, newServer(t, Config{}, door))
	labels := map[string]string{"camera": "door", "profile": "thumb"}
	if v, ok := sample(mfs, "rtsp2mjpeg_last_frame_timestamp_seconds", labels); ok {
		t.Errorf("idle profile has a last-frame series: %v", v)
	}
	if v, ok := sample(mfs, "rtsp2mjpeg_camera_state", map[string]string{"camera": "door", "profile": "thumb", "state": "idle"}); !ok || v != 1 {
		t.Errorf("idle profile state: %v %v", v, ok)
	}
	if _, ok := sample(mfs, "rtsp2mjpeg_last_frame_timestamp_seconds", map[string]string{"camera": "door", "profile": "main"}); !ok {
		t.Error("the main stream lost its last-frame series")
	}
}

// TestMetricsViewersAndSentBytes: the process-wide series an autoscaler
// reads count the streams open (video and wall) and the bytes sent to them.
func TestMetricsViewersAndSentBytes(t *testing.T) {
	cam := newFakeCamera("door")
	srv := newServer(t, Config{}, cam)
	value := func(name string) float64 {
		t.Helper()
		v, ok := sample(scrape(t, srv), name, map[string]string{})
		if !ok {
			t.Fatalf("no %s", name)
		}
		return v
	}
	if v := value("rtsp2mjpeg_viewers"); v != 0 {
		t.Errorf("viewers before any = %v", v)
	}
	cam.Publish(payload(1, 5000), time.Now())
	resp1, mr := openStream(t, srv, "/cameras/door/video")
	resp2, wall := openWall(t, srv, "/wall/video?cameras=door")
	var got int
	for range 3 {
		got += len(nextPart(t, mr).body)
		cam.Publish(payload(2, 5000), time.Now())
	}
	nextWallPart(t, wall)
	if v := value("rtsp2mjpeg_viewers"); v != 2 {
		t.Errorf("viewers with a stream and a wall open = %v, want 2", v)
	}
	if v := value("rtsp2mjpeg_sent_bytes_total"); v < float64(got) {
		t.Errorf("sent bytes %v, want at least the %d JPEG bytes a viewer read", v, got)
	}
	resp1.Body.Close()
	resp2.Body.Close()
	waitFor(t, "viewers gone", func() bool { return value("rtsp2mjpeg_viewers") == 0 })
}
