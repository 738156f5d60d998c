package main

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

// cmdline returns the command line of a process, arguments joined by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// ffmpegFor returns the daemon's ffmpeg processes whose command line holds sub.
func (d *daemon) ffmpegFor(sub string) []int {
	var out []int
	for _, pid := range d.ffmpegPIDs() {
		if strings.Contains(cmdline(pid), sub) {
			out = append(out, pid)
		}
	}
	return out
}

// TestProfilesEndToEnd runs the daemon with real ffmpeg and the synthetic
// camera: the built-in thumb is one more output of the camera's one
// ffmpeg, a profile with its own url (the substream) has its own ffmpeg,
// and a reload that removes profiles ends their viewers' streams and
// nothing else.
func TestProfilesEndToEnd(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 640, Height: 360, FPS: 15, AnyPath: true, Log: camLog(t)})
	other := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, Log: camLog(t)})
	const subPass = "sub-s3cret-pw"
	sub := strings.Replace(cam.URL(), "rtsp://", "rtsp://viewer:"+subPass+"@", 1)
	sub = strings.Replace(sub, "/stream", "/substream", 1)
	path := writeConfig(t, "", fmt.Sprintf(`
cameras:
  - name: door
    url: %s
    profiles:
      low: {url: %q, width: 160}
  - name: yard
    url: %s
`, cam.URL(), sub, other.URL()))
	d := startDaemon(t, "--config", path)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// The thumb snapshot is a 320 px wide JPEG of the camera's 640x360.
	var body []byte
	eventually(t, 20*time.Second, "a thumb snapshot", func() bool {
		resp, b := d.get(t, "/cameras/door/snapshot?profile=thumb")
		body = b
		return resp.StatusCode == 200
	})
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("thumb snapshot does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 180 {
		t.Errorf("thumb snapshot is %v, want 320x180", b)
	}
	resp, b := d.get(t, "/cameras/door/snapshot?profile=nope")
	if resp.StatusCode != 404 || !strings.Contains(string(b), "nope") {
		t.Errorf("unknown profile: %d %s", resp.StatusCode, b)
	}

	// A main viewer and a thumb viewer of one camera: one ffmpeg writes both.
	vMain := watch(ctx, t, d.base+"/cameras/door/video")
	vThumb := watch(ctx, t, d.base+"/cameras/door/video?profile=thumb")
	vLow := watch(ctx, t, d.base+"/cameras/door/video?profile=low")
	for name, v := range map[string]*viewer{"main": vMain, "thumb": vThumb, "low": vLow} {
		p := v.nextLive(t, 20*time.Second)
		checkPart(t, p)
		img, err := jpeg.Decode(bytes.NewReader(p.body))
		if err != nil {
			t.Fatalf("%s part: %v", name, err)
		}
		want := map[string]int{"main": 640, "thumb": 320, "low": 160}[name]
		if img.Bounds().Dx() != want {
			t.Errorf("%s frames are %v wide, want %d", name, img.Bounds().Dx(), want)
		}
	}
	doorMain := d.ffmpegFor(cam.URL() + " ")
	doorSub := d.ffmpegFor("/substream")
	yard := d.ffmpegFor(other.URL())
	if len(doorMain) != 1 || !strings.Contains(cmdline(doorMain[0]), "pipe:3") {
		t.Errorf("door's main and thumb: want one ffmpeg with pipe:3, got %v", doorMain)
	}
	if len(doorSub) != 1 || strings.Contains(cmdline(doorSub[0]), "pipe:3") {
		t.Errorf("door's substream: want one ffmpeg of its own, got %v", doorSub)
	}
	if n := len(d.ffmpegPIDs()); n != 3 {
		t.Errorf("%d ffmpeg processes, want 3 (door, door's substream, yard)", n)
	}
	st := d.status(t, "door")
	profiles, _ := st["profiles"].([]any)
	if len(profiles) != 2 {
		t.Fatalf("door's profiles in the status: %v", st["profiles"])
	}
	if low := profiles[1].(map[string]any); low["name"] != "low" || !strings.Contains(low["url"].(string), "viewer:xxxxx@") {
		t.Errorf("low profile status: %v", low)
	}
	resp, b = d.get(t, "/metrics")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `profile="thumb"`) || !strings.Contains(string(b), `profile="low"`) {
		t.Errorf("metrics without profile labels: %d", resp.StatusCode)
	}

	// The reload removes door's profiles (thumb: false, no low).
	writeConfig(t, path, fmt.Sprintf(`
cameras:
  - name: door
    url: %s
    profiles:
      thumb: false
  - name: yard
    url: %s
`, cam.URL(), other.URL()))
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	for name, v := range map[string]*viewer{"thumb": vThumb, "low": vLow} {
		select {
		case err := <-v.err:
			t.Logf("%s viewer: stream ended (%v)", name, err)
		case <-time.After(10 * time.Second):
			t.Errorf("the %s stream did not end when its profile was removed", name)
		}
	}
	drain(vMain)
	vMain.nextLive(t, 10*time.Second) // the main viewer keeps its stream
	eventually(t, 10*time.Second, "the substream's ffmpeg gone", func() bool { return len(d.ffmpegFor("/substream")) == 0 })
	if got := d.ffmpegFor(other.URL()); len(got) != 1 || got[0] != yard[0] {
		t.Errorf("yard's ffmpeg %v -> %v: another camera was touched", yard, got)
	}
	if resp, err := http.Head(d.base + "/cameras/door/video?profile=thumb"); err != nil || resp.StatusCode != 404 {
		t.Errorf("removed thumb: %v %v", resp, err)
	}
	cancel()
	d.stop(t)
	if strings.Contains(d.log.String(), subPass) {
		t.Error("the substream's password is in the log")
	}
}

// TestCopyCameraThumbEndToEnd: an MJPEG camera in codec copy runs one
// ffmpeg that decodes nothing; its thumb is made by a transcoder fed from
// memory only while someone asks for it.
func TestCopyCameraThumbEndToEnd(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 640, Height: 360, FPS: 10, Codec: "mjpeg", Log: camLog(t)})
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: door\n    url: %s\n    codec: copy\n    idle_timeout: 1s\n", cam.URL())))
	eventually(t, 20*time.Second, "the camera streaming", func() bool { return d.status(t, "door")["state"] == "streaming" })
	if n := len(d.ffmpegPIDs()); n != 1 {
		t.Fatalf("%d ffmpeg processes before any thumb viewer, want 1", n)
	}
	start := time.Now()
	resp, body := d.get(t, "/cameras/door/snapshot?profile=thumb")
	if resp.StatusCode != 200 {
		t.Fatalf("thumb snapshot: %d %s", resp.StatusCode, body)
	}
	t.Logf("thumb snapshot of an unwatched copy camera in %v", time.Since(start).Round(time.Millisecond))
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil || img.Bounds().Dx() != 320 {
		t.Fatalf("thumb snapshot: %v, %v", err, img)
	}
	if got := d.ffmpegFor("pipe:0"); len(got) != 1 {
		t.Errorf("transcoders while the thumb is asked for: %v", got)
	}
	// The main stream is still the camera's own bytes: no pipe:3, no decoding.
	if main := d.ffmpegFor(cam.URL()); len(main) != 1 || strings.Contains(cmdline(main[0]), "pipe:3") {
		t.Errorf("the copy camera's ffmpeg: %v", main)
	}
	// The transcoder exits (and is reaped) idle_timeout after the snapshot;
	// the camera's own ffmpeg stays.
	main := d.ffmpegFor(cam.URL())
	eventually(t, 10*time.Second, "the transcoder gone after idle_timeout", func() bool {
		p := d.ffmpegPIDs()
		return len(p) == 1 && len(main) == 1 && p[0] == main[0]
	})
}
