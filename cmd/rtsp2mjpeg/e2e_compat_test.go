package main

// Viewer compatibility (issue 5, item 6): the daemon's stream and snapshots
// read by real clients this project did not write: ffmpeg's mpjpeg demuxer,
// OpenCV's VideoCapture, headless Chromium and curl.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

// openCVPython returns a python3 that imports cv2 (Debian's python3-opencv
// is for /usr/bin/python3, which may not be the first python3 on PATH).
func openCVPython(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if err := exec.Command(p, "-c", "import cv2").Run(); err == nil {
			return p
		}
		tried = append(tried, p)
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no python3 with cv2 (tried %v); CI must install it: apt-get install python3-opencv", tried)
	}
	t.Skipf("no python3 with cv2 (tried %v): apt-get install python3-opencv", tried)
	return ""
}

// runClient runs a client with a deadline and returns its combined output and
// exit code (-1 when it could not run or was killed at the deadline).
func runClient(t *testing.T, timeout time.Duration, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v: %s", name, timeout, out)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), 0
}

func decodeFile(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// colours counts the distinct colours of img in r, sampled on a grid.
func colours(img image.Image, r image.Rectangle) int {
	seen := map[[3]uint32]bool{}
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y += 4 {
		for x := r.Min.X; x < r.Max.X; x += 4 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			seen[[3]uint32{cr >> 11, cg >> 11, cb >> 11}] = true
		}
	}
	return len(seen)
}

func TestViewerCompatibility(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, Log: camLog(t)})
	cfg := writeConfig(t, "", fmt.Sprintf(`snapshot_timeout: 2s
cameras:
  - name: cam
    url: %s
  - name: dead
    url: %s
`, cam.URL(), deadURL(t, "pw")))
	d := startDaemon(t, "--config", cfg)
	eventually(t, 15*time.Second, "the camera streaming", func() bool { return d.status(t, "cam")["state"] == "streaming" })
	video := d.base + "/cameras/cam/video"

	t.Run("ffmpeg mpjpeg", func(t *testing.T) {
		dir := t.TempDir()
		out, code := runClient(t, 30*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
			"-f", "mpjpeg", "-i", video, "-frames:v", "10", "-f", "image2", filepath.Join(dir, "f%02d.jpg"))
		if code != 0 {
			t.Fatalf("ffmpeg -f mpjpeg exit %d: %s", code, out)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		for _, f := range files {
			if b := decodeFile(t, f).Bounds(); b.Dx() != 320 || b.Dy() != 240 {
				t.Errorf("%s: %v", f, b)
			}
		}
		t.Logf("ffmpeg -f mpjpeg: exit 0, %d frames decoded and re-encoded, all 320x240", len(files))
		if len(files) != 10 {
			t.Errorf("%d frames, want 10", len(files))
		}
	})

	t.Run("OpenCV", func(t *testing.T) {
		py := openCVPython(t)
		const script = `
import sys, time, cv2
cap = cv2.VideoCapture(sys.argv[1])
if not cap.isOpened():
    sys.exit("VideoCapture did not open " + sys.argv[1])
frames, start, means = 0, time.time(), []
while frames < 10:
    ok, img = cap.read()
    if not ok:
        sys.exit("read failed after %d frames" % frames)
    frames += 1
    means.append(float(img.mean()))
h, w = img.shape[:2]
print(cv2.__version__, frames, w, h, "%.2f" % (time.time() - start), "%.1f" % min(means), "%.1f" % max(means))
`
		// /video: the old service's path, which OpenCV scripts use.
		out, code := runClient(t, 60*time.Second, py, "-c", script, d.base+"/video")
		if code != 0 {
			t.Fatalf("OpenCV: exit %d: %s", code, out)
		}
		out = strings.TrimSpace(out)
		f := strings.Fields(out[strings.LastIndexByte(out, '\n')+1:])
		if len(f) != 7 || f[1] != "10" || f[2] != "320" || f[3] != "240" {
			t.Fatalf("OpenCV read %q", out)
		}
		t.Logf("OpenCV %s VideoCapture: %s frames of %sx%s in %ss, mean pixel %s..%s", f[0], f[1], f[2], f[3], f[4], f[5], f[6])
		if lo, _ := strconv.ParseFloat(f[5], 64); lo < 10 {
			t.Errorf("OpenCV read a dark frame (mean %s)", f[5])
		}
	})

	t.Run("Chromium", func(t *testing.T) {
		chromium := needTool(t, "chromium", "apt-get install chromium")
		dir := t.TempDir()
		screenshot := func(name, url string) image.Image {
			t.Helper()
			shot := filepath.Join(dir, name+".png")
			// --timeout takes the screenshot after 3 s of a load that
			// never ends. --disable-dev-shm-usage as in browsertest:
			// Debian's launcher adds it only when its /dev/shm check
			// works, and on these machines findmnt prints two lines.
			run := func() (string, int) {
				return runClient(t, 60*time.Second, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
					"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
					"--disable-dev-shm-usage", "--user-data-dir="+chromiumProfile(t), "--window-size=640,480", "--timeout=3000",
					"--screenshot="+shot, url)
			}
			out, code := run()
			if code == -1 {
				// Killed by a signal: Chromium crashed (seen once in CI,
				// at its first start on a fresh machine, before it read
				// the page). A second crash fails the test.
				t.Logf("chromium crashed, trying once more: %s", out)
				out, code = run()
			}
			if code != 0 {
				t.Fatalf("chromium exit %d: %s", code, out)
			}
			img, err := png.Decode(bytes.NewReader(mustRead(t, shot)))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			return img
		}
		// The stream as the document: Chromium shows it in an <img> of
		// its own image document.
		img := screenshot("document", video)
		n := colours(img, img.Bounds())
		t.Logf("headless Chromium, the stream's URL: screenshot %v, %d colours", img.Bounds().Size(), n)
		if n < 50 {
			t.Errorf("the screenshot is blank (%d colours): the stream did not show", n)
		}
		// An <img> in a page, as dashboards use it: the picture fills its
		// box, and the page around it stays black.
		page := filepath.Join(dir, "page.html")
		// The mjpg-streamer URL, which many dashboards hard-code.
		must(t, os.WriteFile(page, []byte(`<!doctype html><body style="margin:0;background:#000">`+
			`<img src="`+d.base+`/?action=stream" width=320 height=240></body>`), 0o644))
		img = screenshot("page", "file://"+page)
		in, out := colours(img, image.Rect(0, 0, 320, 240)), colours(img, image.Rect(330, 0, 640, 480))
		t.Logf("headless Chromium, an <img> in a page: %d colours in the picture's box, %d outside", in, out)
		if in < 50 || out != 1 {
			t.Errorf("the <img> does not show the stream: %d colours in its box, %d outside", in, out)
		}
	})

	t.Run("curl", func(t *testing.T) {
		curl := needTool(t, "curl", "apt-get install curl")
		file := filepath.Join(t.TempDir(), "snap.jpg")
		out, code := runClient(t, 30*time.Second, curl, "-fsS", "-m", "20", "-o", file, d.base+"/cameras/cam/snapshot")
		if code != 0 {
			t.Fatalf("curl -f snapshot: exit %d: %s", code, out)
		}
		img, err := jpeg.Decode(bytes.NewReader(mustRead(t, file)))
		if err != nil {
			t.Fatalf("curl's snapshot: %v", err)
		}
		start := time.Now()
		out, code = runClient(t, 30*time.Second, curl, "-fsS", "-m", "20", "-o", os.DevNull, d.base+"/cameras/dead/snapshot")
		t.Logf("curl -f: exit 0 with a %v JPEG; exit %d for the dead camera after %v: %s",
			img.Bounds().Size(), code, time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(out))
		if code != 22 {
			t.Errorf("curl -f for a camera with no fresh frame: exit %d, want 22", code)
		}
	})
	d.stop(t)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}

// chromiumProfile is a Chromium profile directory removed after the test,
// retrying a while: Chromium's crash handler may still write there for a
// moment after the browser exits, which would fail t.TempDir's cleanup.
func chromiumProfile(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rtsp2mjpeg-chromium-")
	must(t, err)
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for os.RemoveAll(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}
