package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	cam := newFakeCamera("door")
	cam.Publish(payload(1, 100), time.Now())
	basic := func(u, p string) http.Header {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	tests := []struct {
		name   string
		auth   *Auth
		path   string
		header http.Header
		want   int
		chall  string // expected in WWW-Authenticate on 401
	}{
		{"no auth configured", nil, "/api/cameras", nil, 200, ""},
		{"healthz stays open", &Auth{Username: "admin", Password: "pw"}, "/healthz", nil, 200, ""},
		{"readyz stays open", &Auth{Username: "admin", Password: "pw"}, "/readyz", nil, 200, ""},
		{"missing basic", &Auth{Username: "admin", Password: "pw"}, "/api/cameras", nil, 401, "Basic"},
		{"wrong password", &Auth{Username: "admin", Password: "pw"}, "/snapshot", basic("admin", "nope"), 401, "Basic"},
		{"wrong user", &Auth{Username: "admin", Password: "pw"}, "/snapshot", basic("root", "pw"), 401, "Basic"},
		{"good basic", &Auth{Username: "admin", Password: "pw"}, "/snapshot", basic("admin", "pw"), 200, ""},
		{"metrics closed", &Auth{Username: "admin", Password: "pw"}, "/metrics", nil, 401, "Basic"},
		{"page closed", &Auth{Username: "admin", Password: "pw"}, "/", nil, 401, "Basic"},
		{"token in query", &Auth{Tokens: []string{"t0k3n"}}, "/snapshot?token=t0k3n", nil, 200, ""},
		{"bearer token", &Auth{Tokens: []string{"a", "t0k3n"}}, "/api/cameras", bearer("t0k3n"), 200, ""},
		{"wrong token", &Auth{Tokens: []string{"t0k3n"}}, "/snapshot?token=t0k3", nil, 401, "Bearer"},
		{"basic given, only tokens set", &Auth{Tokens: []string{"t0k3n"}}, "/snapshot", basic("admin", "t0k3n"), 401, "Bearer"},
		{"both: token works", &Auth{Username: "admin", Password: "pw", Tokens: []string{"t0k3n"}}, "/snapshot?token=t0k3n", nil, 200, ""},
		{"both: challenge names both", &Auth{Username: "admin", Password: "pw", Tokens: []string{"t0k3n"}}, "/snapshot", nil, 401, "Basic realm=\"rtsp2mjpeg\", charset=\"UTF-8\", Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, Config{Auth: tt.auth}, cam)
			resp := do(t, srv, http.MethodGet, tt.path, tt.header)
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s: %d %s, want %d", tt.path, resp.StatusCode, body, tt.want)
			}
			if tt.want == 401 {
				if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, tt.chall) {
					t.Errorf("WWW-Authenticate %q, want %q", got, tt.chall)
				}
				if !strings.Contains(string(body), `"error"`) {
					t.Errorf("401 body %q is not the JSON error", body)
				}
			}
		})
	}
}

func TestViewerCaps(t *testing.T) {
	a, b := newFakeCamera("a"), newFakeCamera("b")
	a.Publish(payload(1, 100), time.Now())
	srv := newServer(t, Config{MaxViewers: 3, MaxViewersPerCamera: 2}, a, b)
	open := func(path string) *http.Response {
		return do(t, srv, http.MethodGet, path, nil)
	}
	r1, r2 := open("/cameras/a/video"), open("/cameras/a/video")
	if r1.StatusCode != 200 || r2.StatusCode != 200 {
		t.Fatalf("first two viewers: %d %d", r1.StatusCode, r2.StatusCode)
	}
	r3 := open("/cameras/a/video")
	if body := readAll(t, r3.Body); r3.StatusCode != 503 || !strings.Contains(string(body), "too many viewers of camera") || r3.Header.Get("Retry-After") == "" {
		t.Fatalf("third viewer of a: %d %s", r3.StatusCode, body)
	}
	if r := open("/cameras/b/video"); r.StatusCode != 200 {
		t.Fatalf("viewer of b: %d", r.StatusCode)
	}
	r5 := open("/cameras/b/video")
	if body := readAll(t, r5.Body); r5.StatusCode != 503 || !strings.Contains(string(body), "at most 3 streams") {
		t.Fatalf("fourth viewer: %d %s", r5.StatusCode, body)
	}
	if r := open("/cameras/a/snapshot"); r.StatusCode == 503 && strings.Contains(string(readAll(t, r.Body)), "too many") {
		t.Fatal("snapshots must not count as viewers")
	}
	r1.Body.Close()
	waitFor(t, "a place freed by a viewer leaving", func() bool {
		r := open("/cameras/a/video")
		defer r.Body.Close()
		return r.StatusCode == 200
	})
}
