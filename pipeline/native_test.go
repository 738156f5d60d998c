package pipeline

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestHTTPNotMJPEGFallsBackToFFmpeg: an http:// camera that does not send
// multipart MJPEG is handed to ffmpeg (here the fake one), once.
func TestHTTPNotMJPEGFallsBackToFFmpeg(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/x-flv")
		_, _ = w.Write([]byte("FLV"))
	}))
	defer srv.Close()
	cam, pidfile, hook := fakeCamera(t, "frames=-1,fps=20", func(c *CameraConfig) { c.URL = srv.URL + "/live.flv" })
	runCamera(t, cam)
	eventually(t, 10*time.Second, "frames through ffmpeg", func() bool { return cam.Status().Frames > 0 })
	if n := len(pids(t, pidfile)); n != 1 {
		t.Errorf("%d ffmpeg runs, want 1", n)
	}
	found := false
	for _, e := range hook.AllEntries() {
		if strings.Contains(e.Message, "ffmpeg reads this camera") {
			found = true
		}
	}
	if !found {
		t.Error("no log line saying ffmpeg reads the camera")
	}
}

func TestStallAfter(t *testing.T) {
	for _, c := range []struct{ stall, interval, want time.Duration }{
		{5 * time.Second, 0, 5 * time.Second},
		{5 * time.Second, 67 * time.Millisecond, 5 * time.Second},
		{2 * time.Second, 4 * time.Second, 12 * time.Second},
		{5 * time.Second, time.Hour, 30 * time.Minute},
		{5 * time.Second, 1 << 62, 30 * time.Minute}, // no overflow
	} {
		if got := stallAfter(c.stall, c.interval); got != c.want {
			t.Errorf("stallAfter(%v, %v) = %v, want %v", c.stall, c.interval, got, c.want)
		}
	}
}

func TestDigestAuth(t *testing.T) {
	u, _ := url.Parse("http://viewer:pw@cam/video.cgi?res=hi")
	got := digestAuth([]string{`Basic realm="x"`, `Digest realm="cam", nonce="abc", qop="auth,auth-int", opaque="op"`}, u)
	for _, want := range []string{`username="viewer"`, `realm="cam"`, `nonce="abc"`, `uri="/video.cgi?res=hi"`, `qop=auth`, `nc=00000001`, `opaque="op"`, `response="`} {
		if !strings.Contains(got, want) {
			t.Errorf("digest answer %q lacks %s", got, want)
		}
	}
	if digestAuth([]string{`Digest realm="cam", nonce="abc", algorithm=SHA-256`}, u) != "" {
		t.Error("answered a SHA-256 challenge with MD5")
	}
	if strings.Contains(got, "pw") {
		t.Error("the password is in the Authorization header")
	}
}
