package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/httpapi/browsertest"
)

// TestEverySourceKindAlike: one daemon with a camera of every kind (RTSP,
// HTTP MJPEG, a polled still image, a video file, and a webcam that is
// not plugged in). /api/cameras gives each the same fields and names its
// kind; snapshots, metrics and the page serve each the same way; the
// missing webcam says why in its state, in the page too.
func TestEverySourceKindAlike(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, Log: camLog(t)})
	sloppy := newSloppyCam(t, "", "")
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10",
		"-t", "3", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v %s", clip, err, out)
	}
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(`cameras:
  - name: rtsp
    url: %s
  - name: http
    url: %s/stream/clean
  - name: still
    url: %s/snapshot.jpg
    poll: 500ms
  - name: file
    url: file://%s
  - name: webcam
    url: /dev/video93
`, cam.URL(), sloppy.srv.URL, sloppy.srv.URL, clip)))
	kinds := map[string]string{"rtsp": "rtsp", "http": "http", "still": "http-poll", "file": "file", "webcam": "webcam"}
	ffmpegRuns := map[string]bool{"rtsp": true, "file": true} // http and still are read in Go

	var list []map[string]any
	eventually(t, 30*time.Second, "every camera but the webcam streaming", func() bool {
		_, b := d.get(t, "/api/cameras")
		list = nil
		if json.Unmarshal(b, &list) != nil || len(list) != len(kinds) {
			return false
		}
		for _, c := range list {
			if (c["state"] == "streaming") == (c["name"] == "webcam") {
				return false
			}
		}
		return true
	})
	keys := slices.Sorted(maps.Keys(list[0]))
	for _, c := range list {
		name := c["name"].(string)
		if got := slices.Sorted(maps.Keys(c)); !slices.Equal(got, keys) {
			t.Errorf("%s has the fields %v, %s has %v", name, got, list[0]["name"], keys)
		}
		if c["source"] != kinds[name] {
			t.Errorf("%s: source %v, want %s", name, c["source"], kinds[name])
		}
		if running := c["ffmpeg_running"] == true; running != ffmpegRuns[name] {
			t.Errorf("%s: ffmpeg_running %v, want %v", name, running, ffmpegRuns[name])
		}
		if p, _ := c["profiles"].([]any); len(p) != 1 {
			t.Errorf("%s: profiles %v, want the built-in thumb", name, c["profiles"])
		}
	}
	webcam := d.status(t, "webcam")
	if e, _ := webcam["last_error"].(string); !strings.Contains(e, "/dev/video93") {
		t.Errorf("missing webcam's last_error %q does not name its device", e)
	}

	for name := range kinds {
		resp, body := d.get(t, "/cameras/"+name+"/snapshot")
		if name == "webcam" {
			if resp.StatusCode != 503 || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
				t.Errorf("webcam snapshot: %d %s, want 503 JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			continue
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("%s snapshot: %d %s", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
			t.Errorf("%s snapshot does not decode: %v", name, err)
		}
	}

	_, metrics := d.get(t, "/metrics")
	for name := range kinds {
		state := "streaming"
		if name == "webcam" {
			state = "backoff"
		}
		want := fmt.Sprintf(`rtsp2mjpeg_camera_state{camera=%q,profile="main",state=%q} 1`, name, state)
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
		up := 0
		if ffmpegRuns[name] {
			up = 1
		}
		if want := fmt.Sprintf(`rtsp2mjpeg_ffmpeg_up{camera=%q,profile="main"} %d`, name, up); !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	if testing.Short() {
		return
	}
	// The page: every tile shows a picture (the webcam's: no signal) and
	// its state; the webcam's tile says why.
	wd := browsertest.Start(t, "--window-size=1280,900")
	wd.Navigate(t, d.base+"/")
	type tile struct {
		Name, State, Why string
		Width            int
	}
	var tiles []tile
	deadline := time.Now().Add(30 * time.Second)
	for {
		wd.Execute(t, `return Array.from(document.querySelectorAll('.tile')).map(function (t) {
			var img = t.querySelector('img');
			return {Name: t.dataset.cam, State: t.querySelector('.st').textContent,
				Why: (t.querySelector('.why') || {}).textContent || '', Width: img.complete ? img.naturalWidth : 0};
		})`, &tiles)
		ok := len(tiles) == len(kinds)
		for _, v := range tiles {
			want := "streaming"
			if v.Name == "webcam" {
				want = "backoff"
				ok = ok && strings.Contains(v.Why, "/dev/video93")
			}
			ok = ok && v.Width > 0 && v.State == want
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tiles: %+v", tiles)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("tiles: %+v", tiles)
	browsertest.SaveScreenshot(t, "sources.png", wd.Screenshot(t))
}

// TestCameraWithAudio: most IP cameras send a sound track too (G.711 by
// default). The daemon sets up the video track only, so the camera sends
// no audio to it, and serves the video alike at full rate and in standby.
func TestCameraWithAudio(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, Audio: "pcm_alaw", Log: camLog(t)})
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: full\n    url: %s\n  - name: standby\n    url: %s\n    when_idle: standby\n", cam.URL(), cam.URL())))
	eventually(t, 15*time.Second, "both cameras streaming", func() bool {
		return d.status(t, "full")["state"] == "streaming" && d.status(t, "standby")["decoding"] == "keyframes"
	})
	for _, name := range []string{"full", "standby"} {
		rate := watchRate(t, d.base+"/cameras/"+name+"/video", 3*time.Second)
		t.Logf("camera with G.711 audio, %s: %.1f fps to a viewer", name, rate)
		if rate < 8 {
			t.Errorf("camera with audio, %s: %.1f fps, want the camera's 10", name, rate)
		}
	}
	tracks := cam.ReaderTracks()
	t.Logf("the daemon's RTSP sessions set up %v tracks (the camera offers video and audio)", tracks)
	if len(tracks) != 2 || tracks[0] != 1 || tracks[1] != 1 {
		t.Errorf("the daemon's RTSP sessions set up %v tracks; want 2 sessions of the video track only", tracks)
	}
	if log := d.log.String(); strings.Contains(log, `"level":"warning"`) {
		t.Errorf("warnings for a camera with audio:\n%s", log)
	}
}
