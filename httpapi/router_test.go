package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

func TestRoutes(t *testing.T) {
	door, yard := newFakeCamera("door"), newFakeCamera("yard")
	door.Publish(payload(1, 100), time.Now())
	srv := newServer(t, Config{SnapshotTimeout: 50 * time.Millisecond}, door, yard)
	html := http.Header{"Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}}

	tests := []struct {
		name     string
		method   string
		path     string
		header   http.Header
		code     int
		ctype    string
		contains []string
	}{
		{"index json", "GET", "/", nil, 200, "application/json", []string{`"message":`, `"cameras":["door","yard"]`}},
		{"index curl", "GET", "/", http.Header{"Accept": {"*/*"}}, 200, "application/json", []string{`"cameras":["door","yard"]`}},
		{"index html refused", "GET", "/", http.Header{"Accept": {"text/html;q=0, application/json"}}, 200, "application/json", nil},
		{"index html", "GET", "/", html, 200, "text/html; charset=utf-8", []string{
			`<img src="/cameras/door/video"`, `<img src="/cameras/yard/video"`,
			`href="/cameras/door/snapshot"`, ">door", ">yard",
		}},
		{"healthz", "GET", "/healthz", nil, 200, "text/plain; charset=utf-8", []string{"ok"}},
		{"readyz", "GET", "/readyz", nil, 200, "text/plain; charset=utf-8", []string{"ready"}},
		{"status all", "GET", "/api/cameras", nil, 200, "application/json", []string{`"name":"door"`, `"name":"yard"`, `"state":"streaming"`}},
		{"status one", "GET", "/api/cameras/yard", nil, 200, "application/json", []string{`"name":"yard"`, `"url":"rtsp://cam/yard"`}},
		{"status unknown", "GET", "/api/cameras/nope", nil, 404, "application/json", []string{`{"error":"unknown camera \"nope\""}`}},
		{"video unknown", "GET", "/cameras/nope/video", nil, 404, "application/json", []string{`{"error":"unknown camera \"nope\""}`}},
		{"snapshot unknown", "GET", "/cameras/nope/snapshot", nil, 404, "application/json", []string{`{"error":"unknown camera \"nope\""}`}},
		{"snapshot bad max_age", "GET", "/cameras/door/snapshot?max_age=abc", nil, 400, "application/json", []string{`"error":`, "max_age"}},
		{"snapshot negative max_age", "GET", "/snapshot?max_age=-2s", nil, 400, "application/json", []string{"max_age"}},
		{"snapshot negative seconds", "GET", "/snapshot?max_age=-1", nil, 400, "application/json", []string{"max_age"}},
		{"video bad fps", "GET", "/cameras/door/video?fps=abc", nil, 400, "application/json", []string{"fps"}},
		{"video zero fps", "GET", "/video?fps=0", nil, 400, "application/json", []string{"fps"}},
		{"video negative fps", "GET", "/video?fps=-5", nil, 400, "application/json", []string{"fps"}},
		{"bad action", "GET", "/?action=foo", nil, 400, "application/json", []string{"action", "foo"}},
		{"empty action", "GET", "/?action=", nil, 400, "application/json", []string{"action"}},
		{"action snapshot", "GET", "/?action=snapshot", nil, 200, "image/jpeg", []string{"jpeg-000001"}},
		{"unknown path", "GET", "/nope", nil, 404, "application/json", []string{`"error":`}},
		{"trailing slash", "GET", "/cameras/door/video/", nil, 404, "application/json", []string{`"error":`}},
		{"post video", "POST", "/video", nil, 405, "application/json", []string{`"error":`, "POST"}},
		{"delete status", "DELETE", "/api/cameras/door", nil, 405, "application/json", []string{`"error":`}},
		{"head healthz", "HEAD", "/healthz", nil, 200, "text/plain; charset=utf-8", nil},
		{"head status", "HEAD", "/api/cameras", nil, 200, "application/json", nil},
		{"head unknown camera", "HEAD", "/cameras/nope/snapshot", nil, 404, "application/json", nil},
		{"head index html", "HEAD", "/", html, 200, "text/html; charset=utf-8", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, srv, tt.method, tt.path, tt.header)
			body := string(readAll(t, resp.Body))
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d; body %q", resp.StatusCode, tt.code, body)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body %q does not contain %q", body, s)
				}
			}
			if strings.HasPrefix(tt.ctype, "application/json") && tt.method == "GET" && !json.Valid([]byte(body)) {
				t.Errorf("body is not JSON: %q", body)
			}
			if tt.method == "HEAD" {
				if body != "" {
					t.Errorf("HEAD body %q", body)
				}
				if resp.ContentLength <= 0 {
					t.Errorf("HEAD Content-Length %d, want the GET's", resp.ContentLength)
				}
			}
		})
	}
	waitFor(t, "every request to release its camera", func() bool { return door.holding() == 0 && yard.holding() == 0 })
}

func TestStatusJSON(t *testing.T) {
	cam := newFakeCamera("door")
	srv := newServer(t, Config{}, cam, newFakeCamera("yard"))
	resp := do(t, srv, http.MethodGet, "/api/cameras", nil)
	var got []pipeline.Status
	if err := json.Unmarshal(readAll(t, resp.Body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "door" || got[1].Name != "yard" || got[0].State != pipeline.StateStreaming {
		t.Errorf("status = %+v, want door then yard, streaming", got)
	}
}

func TestStatusJSONProfiles(t *testing.T) {
	door := newFakeCamera("door")
	door.addProfile("thumb")
	door.addProfile("sub")
	srv := newServer(t, Config{}, door, newFakeCamera("yard"))
	for _, path := range []string{"/api/cameras", "/api/cameras/door"} {
		resp := do(t, srv, http.MethodGet, path, nil)
		body := readAll(t, resp.Body)
		var got []pipeline.Status
		if path == "/api/cameras" {
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
		} else {
			var one pipeline.Status
			if err := json.Unmarshal(body, &one); err != nil {
				t.Fatal(err)
			}
			got = []pipeline.Status{one}
		}
		var names []string
		for _, p := range got[0].Profiles {
			names = append(names, p.Name+":"+string(p.State))
		}
		if got[0].Name != "door" || strings.Join(names, ",") != "thumb:streaming,sub:streaming" {
			t.Errorf("GET %s: %s has profiles %v, want thumb and sub, streaming", path, got[0].Name, names)
		}
		if !strings.Contains(string(body), `"profiles":[{"name":"thumb"`) {
			t.Errorf("GET %s: no profiles array in %s", path, body)
		}
	}
}

func TestNoCamera(t *testing.T) {
	srv := newServer(t, Config{})
	for _, path := range []string{"/video", "/snapshot", "/?action=stream"} {
		resp := do(t, srv, http.MethodGet, path, nil)
		if body := readAll(t, resp.Body); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, body %q; want 404", path, resp.StatusCode, body)
		}
	}
	resp := do(t, srv, http.MethodGet, "/api/cameras", nil)
	if body := strings.TrimSpace(string(readAll(t, resp.Body))); body != "[]" {
		t.Errorf("GET /api/cameras = %q, want []", body)
	}
}

// panicCamera panics in Status.
type panicCamera struct{ *fakeCamera }

func (panicCamera) Status() pipeline.Status { panic("boom") }

func TestRecoverPanics(t *testing.T) {
	l, hook := test.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	srv := httptestServer(t, NewRouter(Config{}, []Camera{panicCamera{newFakeCamera("door")}}, logrus.NewEntry(l)))

	resp := do(t, srv, http.MethodGet, "/api/cameras/door", nil)
	body := string(readAll(t, resp.Body))
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, `"error":"internal server error"`) {
		t.Errorf("status %d, body %q; want 500 JSON", resp.StatusCode, body)
	}
	waitFor(t, "the panic to be logged", func() bool {
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.ErrorLevel && e.Data["panic"] == "boom" && strings.Contains(e.Data["stack"].(string), "panicCamera") {
				return true
			}
		}
		return false
	})
	// The server still serves.
	resp = do(t, srv, http.MethodGet, "/healthz", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after a panic, /healthz status %d", resp.StatusCode)
	}
}

func TestAccessLog(t *testing.T) {
	l, hook := test.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	srv := httptestServer(t, NewRouter(Config{}, nil, logrus.NewEntry(l)))

	resp := do(t, srv, http.MethodGet, "/healthz?token=s3cret&x=1", nil)
	readAll(t, resp.Body)
	var entry *logrus.Entry
	waitFor(t, "the access log line", func() bool {
		for _, e := range hook.AllEntries() {
			if e.Message == "http request" {
				entry = e
				return true
			}
		}
		return false
	})
	want := map[string]any{"method": "GET", "url": "/healthz?token=xxxxx&x=1", "status": 200, "bytes": int64(2)}
	for k, v := range want {
		if entry.Data[k] != v {
			t.Errorf("%s = %#v, want %#v", k, entry.Data[k], v)
		}
	}
	if entry.Level != logrus.DebugLevel {
		t.Errorf("access log at %s, want debug", entry.Level)
	}
	if _, ok := entry.Data["duration"]; !ok {
		t.Error("access log has no duration")
	}
	for _, e := range hook.AllEntries() {
		if s, _ := e.String(); strings.Contains(s, "s3cret") {
			t.Errorf("token in log: %s", s)
		}
	}
}

func TestWantsHTML(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", false},
		{"text/html", true},
		{"TEXT/HTML", true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{"application/json, text/html;q=0.1", true},
		{"text/html;q=0", false},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		if got := wantsHTML(r); got != tt.want {
			t.Errorf("wantsHTML(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

func TestSetCamerasSwapsTheServedSet(t *testing.T) {
	a, b := newFakeCamera("a"), newFakeCamera("b")
	rt := NewRouter(Config{}, []Camera{a}, quietLog())
	srv := httptest.NewServer(rt)
	defer srv.Close()
	if resp := do(t, srv, http.MethodGet, "/api/cameras/b", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("b before reload: %d", resp.StatusCode)
	}
	rt.SetCameras([]Camera{b, a})
	if resp := do(t, srv, http.MethodGet, "/api/cameras/b", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("b after reload: %d", resp.StatusCode)
	}
	rt.SetCameras([]Camera{b})
	if resp := do(t, srv, http.MethodGet, "/api/cameras/a", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a after removal: %d", resp.StatusCode)
	}
}

// TestReadyz: /readyz follows Config.Ready, 503 with its reason.
func TestReadyz(t *testing.T) {
	var err error
	var mu sync.Mutex
	srv := newServer(t, Config{Ready: func() error { mu.Lock(); defer mu.Unlock(); return err }}, newFakeCamera("door"))
	resp := do(t, srv, http.MethodGet, "/readyz", nil)
	if resp.StatusCode != 200 {
		t.Errorf("ready: status %d", resp.StatusCode)
	}
	mu.Lock()
	err = errors.New("no origin answers")
	mu.Unlock()
	resp = do(t, srv, http.MethodGet, "/readyz", nil)
	if body := string(readAll(t, resp.Body)); resp.StatusCode != 503 || !strings.Contains(body, "not ready: no origin answers") {
		t.Errorf("not ready: %d %s", resp.StatusCode, body)
	}
}
