package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func TestPageHTML(t *testing.T) {
	html := http.Header{"Accept": {"text/html"}}
	door := newStatusCamera("door", pipeline.StateStreaming)
	door.update(func(st *pipeline.Status) { st.FPS = 7.25 })
	door.Publish(payload(1, 10), time.Now())
	odd := newStatusCamera(`x"<y>`, pipeline.StateFailed)
	odd.update(func(st *pipeline.Status) { st.LastError = "<script>alert(1)</script>" })
	srv := newServer(t, Config{}, door, newStatusCamera("yard", pipeline.StateBackoff), odd)

	tests := []struct {
		name     string
		path     string
		contains []string
		absent   []string
	}{
		{"tiles", "/", []string{
			`<figure class="tile" data-cam="door">`,
			// Without scripts, each tile is its camera's stream; with them,
			// <noscript> is inert and the script streams the wall.
			`<noscript><img src="/cameras/door/video" alt="camera door"></noscript>`,
			`<a class="pic" href="/cameras/door/video"`,
			`"/wall/video?cameras="`,
			`<div id="full" hidden>`,
			`href="/cameras/door/snapshot"`,
			`<span class="st streaming">streaming</span><span class="fps">7.2 fps</span>`,
			`<figure class="tile down" data-cam="yard">`,
			`<span class="why">backoff</span><span class="since">no frame yet</span>`,
			`<noscript>`,
		}, []string{"video?token", "snapshot?token"}},
		{"escaped", "/", []string{
			`data-cam="x&#34;&lt;y&gt;"`,
			`<span class="name">x&#34;&lt;y&gt;</span>`,
			`src="/cameras/x%22%3cy%3e/video"`,
			`failed: &lt;script&gt;alert(1)&lt;/script&gt;`,
		}, []string{"<y>", "<script>alert"}},
		{"token", "/?token=a%26b%20c", []string{
			`<img src="/cameras/door/video?token=a%26b%20c"`,
			`href="/cameras/door/snapshot?token=a%26b%20c"`,
			`href="/api/cameras?token=a%26b%20c"`,
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, srv, http.MethodGet, tt.path, html)
			body := string(readAll(t, resp.Body))
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("page does not contain %q", s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(body, s) {
					t.Errorf("page contains %q", s)
				}
			}
			if len(body) > 20<<10 {
				t.Errorf("page has %d bytes for 3 cameras, want < 20 KiB", len(body))
			}
		})
	}
}

// TestPageHTMLSize checks what a camera adds to the page: an NVR's 32
// cameras make a page that loads at once.
func TestPageHTMLSize(t *testing.T) {
	size := func(n int) int {
		cams := make([]Camera, n)
		for i := range cams {
			cams[i] = newStatusCamera(fmt.Sprintf("camera-%02d", i), pipeline.StateStreaming)
		}
		srv := newServer(t, Config{}, cams...)
		resp := do(t, srv, http.MethodGet, "/?token=0123456789abcdef", http.Header{"Accept": {"text/html"}})
		return len(readAll(t, resp.Body))
	}
	one, many := size(1), size(32)
	per := (many - one) / 31
	t.Logf("page: %d bytes for 1 camera, %d for 32 (%d per camera)", one, many, per)
	if per > 1<<10 {
		t.Errorf("a camera adds %d bytes to the page, want < 1 KiB", per)
	}
}
