package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func TestSnapshotFresh(t *testing.T) {
	for _, path := range []string{
		"/snapshot",
		"/?action=snapshot",
		"/cameras/door/snapshot",
		"/cameras/door/snapshot?max_age=1h",
		"/cameras/door/snapshot?max_age=60",
		"/cameras/door/snapshot?max_age=2.5",
	} {
		t.Run(path, func(t *testing.T) {
			cam := newFakeCamera("door")
			srv := newServer(t, Config{}, cam, newFakeCamera("yard"))
			at := time.Now().Add(-500 * time.Millisecond)
			cam.Publish(payload(7, 3000), at)

			resp := do(t, srv, http.MethodGet, path, nil)
			body := readAll(t, resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if !bytes.Equal(body, payload(7, 3000)) {
				t.Errorf("body is not the frame's JPEG")
			}
			want := map[string]string{
				"Content-Type":   "image/jpeg",
				"Content-Length": strconv.Itoa(len(payload(7, 3000))),
				"Cache-Control":  "no-store",
				"Last-Modified":  at.UTC().Format(http.TimeFormat),
				"X-Timestamp":    string(pipeline.AppendTimestamp(nil, at)),
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			waitFor(t, "the camera to be released", func() bool { return cam.holding() == 0 })
			if _, n := cam.counts(); n != 1 {
				t.Errorf("camera acquired %d times, want 1", n)
			}
		})
	}
}

func TestSnapshotNoFreshFrame(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		frame time.Duration // age of the newest frame; 0: none
	}{
		{"older than default max_age", "/cameras/door/snapshot", 10 * time.Second},
		{"older than max_age", "/cameras/door/snapshot?max_age=500ms", time.Second},
		{"max_age zero", "/cameras/door/snapshot?max_age=0", time.Millisecond},
		{"no frame yet", "/cameras/door/snapshot", 0},
		{"first camera", "/snapshot", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cam := newFakeCamera("door")
			cam.setState(pipeline.StateStalled)
			srv := newServer(t, Config{SnapshotTimeout: 100 * time.Millisecond}, cam)
			if tt.frame > 0 {
				cam.Publish(payload(1, 100), time.Now().Add(-tt.frame))
			}
			start := time.Now()
			resp := do(t, srv, http.MethodGet, tt.path, nil)
			body := readAll(t, resp.Body)
			if waited := time.Since(start); waited < 100*time.Millisecond {
				t.Errorf("answered after %s, before the snapshot timeout", waited)
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503: %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Retry-After"); got != "2" {
				t.Errorf("Retry-After = %q, want 2", got)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			var got map[string]string
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			want := map[string]string{
				"error":  `no fresh frame from camera "door" within 100ms`,
				"camera": "door",
				"state":  "stalled",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			waitFor(t, "the camera to be released", func() bool { return cam.holding() == 0 })
		})
	}
}

func TestSnapshotWaitsForNextFrame(t *testing.T) {
	for _, old := range []bool{true, false} {
		t.Run("old frame "+strconv.FormatBool(old), func(t *testing.T) {
			cam := newFakeCamera("door")
			srv := newServer(t, Config{}, cam)
			if old {
				cam.Publish(payload(1, 100), time.Now().Add(-time.Minute))
			}
			type result struct {
				code int
				body []byte
			}
			got := make(chan result, 1)
			go func() {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/cameras/door/snapshot", nil)
				resp, err := srv.Client().Do(req)
				if err != nil {
					got <- result{}
					return
				}
				defer resp.Body.Close()
				var b bytes.Buffer
				_, _ = b.ReadFrom(resp.Body)
				got <- result{resp.StatusCode, b.Bytes()}
			}()
			// The snapshot acquires the camera (an on-demand one starts), and
			// the camera's first frame answers it.
			waitFor(t, "the snapshot to acquire the camera", func() bool { return cam.holding() == 1 })
			cam.Publish(payload(2, 100), time.Now())
			select {
			case r := <-got:
				if r.code != http.StatusOK || payloadIndex(r.body) != 2 {
					t.Fatalf("status %d, body %q; want 200 with frame 2", r.code, r.body)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no answer within 5s")
			}
		})
	}
}

func TestSnapshotHead(t *testing.T) {
	cam := newFakeCamera("door")
	srv := newServer(t, Config{}, cam)
	at := time.Now()
	cam.Publish(payload(1, 1234), at)
	for _, path := range []string{"/snapshot", "/cameras/door/snapshot", "/?action=snapshot"} {
		t.Run(path, func(t *testing.T) {
			resp := do(t, srv, http.MethodHead, path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			want := map[string]string{
				"Content-Type":   "image/jpeg",
				"Content-Length": "1234",
				"Cache-Control":  "no-store",
				"X-Timestamp":    string(pipeline.AppendTimestamp(nil, at)),
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if body := readAll(t, resp.Body); len(body) != 0 {
				t.Errorf("HEAD body has %d bytes", len(body))
			}
		})
	}
}

func TestParseMaxAge(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"2s", 2 * time.Second, false},
		{"500ms", 500 * time.Millisecond, false},
		{"1m30s", 90 * time.Second, false},
		{"2", 2 * time.Second, false},
		{"0.25", 250 * time.Millisecond, false},
		{"0", 0, false},
		{"abc", 0, true},
		{"", 0, true},
		{"-1s", 0, true},
		{"-3", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"1e300", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMaxAge(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseMaxAge(%q) = %s, %v; want %s, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
