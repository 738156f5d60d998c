package httpapi

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// newProfileCamera returns a camera named name with a thumb profile, its
// main stream holding frame 1 and its thumb frame 101.
func newProfileCamera(name string) (*fakeCamera, *fakeFeed) {
	cam := newFakeCamera(name)
	thumb := cam.addProfile(pipeline.ThumbProfile)
	cam.Publish(payload(1, 300), time.Now())
	thumb.Publish(payload(101, 100), time.Now())
	return cam, thumb
}

func TestProfileStream(t *testing.T) {
	tests := []struct {
		path      string
		want      int  // payload of the first part
		wantThumb bool // the thumb feed is acquired, not the main one
	}{
		{"/cameras/door/video", 1, false},
		{"/cameras/door/video?profile=main", 1, false},
		{"/cameras/door/video?profile=", 1, false},
		{"/cameras/door/video?profile=thumb", 101, true},
		{"/cameras/door/video?profile=thumb&fps=5", 101, true},
		{"/video?profile=thumb", 101, true},
		{"/?action=stream&profile=thumb", 101, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			cam, thumb := newProfileCamera("door")
			srv := newServer(t, Config{}, cam, newFakeCamera("yard"))
			resp, mr := openStream(t, srv, tt.path)
			for k, v := range map[string]string{
				"Cache-Control":     "no-cache, no-store, must-revalidate",
				"Pragma":            "no-cache",
				"X-Accel-Buffering": "no",
			} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if p := nextPart(t, mr); payloadIndex(p.body) != tt.want || p.noSignal() {
				t.Fatalf("first part %q (no-signal %v), want frame %d", p.body[:12], p.noSignal(), tt.want)
			}
			feed, other := cam.fakeFeed, thumb
			if tt.wantThumb {
				feed, other = thumb, cam.fakeFeed
			}
			waitFor(t, "the stream to acquire its feed", func() bool { return feed.holding() == 1 })
			if _, n := other.counts(); n != 0 {
				t.Errorf("the other feed was acquired %d times", n)
			}
			// New frames of the feed come; those of the other do not.
			other.Publish(payload(500, 100), time.Now())
			feed.Publish(payload(tt.want+1, 100), time.Now())
			if p := nextPart(t, mr); payloadIndex(p.body) != tt.want+1 {
				t.Fatalf("second part %q, want frame %d", p.body[:12], tt.want+1)
			}
			resp.Body.Close()
			waitFor(t, "the stream to release its feed", func() bool { return feed.holding() == 0 })
		})
	}
}

func TestProfileUnknown(t *testing.T) {
	cam, _ := newProfileCamera("door")
	srv := newServer(t, Config{}, cam)
	for _, path := range []string{
		"/cameras/door/video?profile=hd",
		"/cameras/door/snapshot?profile=hd",
		"/video?profile=hd",
		"/snapshot?profile=hd",
		"/?action=stream&profile=hd",
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+" "+path, func(t *testing.T) {
				resp := do(t, srv, method, path, nil)
				body := readAll(t, resp.Body)
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("status %d, want 404; body %q", resp.StatusCode, body)
				}
				if got := resp.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type = %q", got)
				}
				if method == http.MethodGet {
					var e errorBody
					if err := json.Unmarshal(body, &e); err != nil || e.Error != `unknown profile "hd" of camera "door"` {
						t.Errorf("body %q (%v)", body, err)
					}
				}
			})
		}
	}
	// A camera without profiles knows only main.
	srv = newServer(t, Config{}, newFakeCamera("yard"))
	if resp := do(t, srv, http.MethodGet, "/cameras/yard/snapshot?profile=thumb", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("thumb of a camera without profiles: status %d", resp.StatusCode)
	}
	if _, n := cam.counts(); n != 0 {
		t.Errorf("the camera was acquired %d times by requests for an unknown profile", n)
	}
}

func TestProfileStreamHead(t *testing.T) {
	cam, thumb := newProfileCamera("door")
	srv := newServer(t, Config{}, cam)
	resp := do(t, srv, http.MethodHead, "/cameras/door/video?profile=thumb", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "multipart/x-mixed-replace; boundary=frame" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, n := thumb.counts(); n != 0 {
		t.Errorf("HEAD acquired the profile %d times", n)
	}
}

func TestProfileStreamNoSignal(t *testing.T) {
	cam, thumb := newProfileCamera("door")
	srv := newServer(t, Config{NoSignalEvery: 100 * time.Millisecond}, cam)
	// The main stream goes on while the profile sends nothing.
	pub := startPublisher(cam, 2, 100, 20*time.Millisecond)
	defer pub.stop()
	_, mr := openStream(t, srv, "/cameras/door/video?profile=thumb")
	if p := nextPart(t, mr); payloadIndex(p.body) != 101 || p.noSignal() {
		t.Fatalf("first part %q (no-signal %v), want thumb frame 101", p.body[:12], p.noSignal())
	}
	for i := range 2 {
		p := nextPart(t, mr)
		if !p.noSignal() {
			t.Fatalf("part %d after the profile stopped: %q, want a no-signal part", i, p.body[:12])
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(p.body)); err != nil {
			t.Fatalf("placeholder is not a JPEG: %v", err)
		}
	}
	thumb.Publish(payload(102, 100), time.Now())
	for i := 0; ; i++ {
		p := nextPart(t, mr)
		if !p.noSignal() {
			if payloadIndex(p.body) != 102 {
				t.Fatalf("after the outage got %q, want thumb frame 102", p.body[:12])
			}
			break
		}
		if i > 3 {
			t.Fatal("still no-signal parts after a thumb frame was published")
		}
	}
}

func TestProfileStreamEndsWhenRemoved(t *testing.T) {
	cam, thumb := newProfileCamera("door")
	srv := newServer(t, Config{}, cam)
	resp, mr := openStream(t, srv, "/cameras/door/video?profile=thumb")
	nextPart(t, mr)
	thumb.Close()
	readAll(t, resp.Body) // the response ends
	waitFor(t, "the profile to be released", func() bool { return thumb.holding() == 0 })
}

func TestProfileViewerCaps(t *testing.T) {
	cam, thumb := newProfileCamera("door")
	srv := newServer(t, Config{MaxViewers: 10, MaxViewersPerCamera: 2}, cam)
	r1 := do(t, srv, http.MethodGet, "/cameras/door/video", nil)
	r2 := do(t, srv, http.MethodGet, "/cameras/door/video?profile=thumb", nil)
	if r1.StatusCode != 200 || r2.StatusCode != 200 {
		t.Fatalf("first two viewers: %d %d", r1.StatusCode, r2.StatusCode)
	}
	// A profile's viewers count toward the camera's cap.
	r3 := do(t, srv, http.MethodGet, "/cameras/door/video?profile=thumb", nil)
	if body := readAll(t, r3.Body); r3.StatusCode != 503 || !strings.Contains(string(body), "too many viewers of camera") || r3.Header.Get("Retry-After") == "" {
		t.Fatalf("third viewer: %d %s", r3.StatusCode, body)
	}
	waitFor(t, "one holder of the profile", func() bool { return thumb.holding() == 1 })
}

func TestProfileSnapshot(t *testing.T) {
	cam, thumb := newProfileCamera("door")
	srv := newServer(t, Config{SnapshotTimeout: 100 * time.Millisecond}, cam)
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/cameras/door/snapshot?profile=thumb", 101},
		{"/snapshot?profile=thumb", 101},
		{"/?action=snapshot&profile=thumb", 101},
		{"/cameras/door/snapshot?profile=main", 1},
	} {
		resp := do(t, srv, http.MethodGet, tt.path, nil)
		body := readAll(t, resp.Body)
		if resp.StatusCode != http.StatusOK || payloadIndex(body) != tt.want {
			t.Errorf("GET %s: status %d, body %q; want frame %d", tt.path, resp.StatusCode, body[:min(12, len(body))], tt.want)
		}
		if got := resp.Header.Get("Content-Type"); got != "image/jpeg" {
			t.Errorf("GET %s: Content-Type %q", tt.path, got)
		}
	}
	if _, n := thumb.counts(); n != 3 {
		t.Errorf("thumb acquired %d times, want 3", n)
	}

	// max_age applies to the profile's frame: an old one is not served.
	thumb.Publish(payload(102, 100), time.Now().Add(-time.Minute))
	cam.Publish(payload(2, 100), time.Now()) // the main stream is fresh
	start := time.Now()
	resp := do(t, srv, http.MethodGet, "/cameras/door/snapshot?profile=thumb", nil)
	body := readAll(t, resp.Body)
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("answered before the snapshot timeout")
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After: 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	want := map[string]string{
		"error":   `no fresh frame from camera "door" (profile "thumb") within 100ms`,
		"camera":  "door",
		"profile": "thumb",
		"state":   "streaming",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}

	// A fresh profile frame while the snapshot waits answers it.
	srv = newServer(t, Config{}, cam) // the default snapshot timeout
	done := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/cameras/door/snapshot?profile=thumb&max_age=0", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			done <- nil
			return
		}
		done <- resp
	}()
	waitFor(t, "the snapshot to acquire the profile", func() bool { return thumb.holding() == 1 })
	thumb.Publish(payload(103, 100), time.Now())
	select {
	case resp := <-done:
		if resp == nil {
			t.Fatal("request failed")
		}
		defer resp.Body.Close()
		if b := readAll(t, resp.Body); resp.StatusCode != 200 || payloadIndex(b) != 103 {
			t.Fatalf("status %d, body %q; want thumb frame 103", resp.StatusCode, b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5s")
	}
}
