package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image/jpeg"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func writeConfig(t *testing.T, path, text string) string {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "cameras.yml")
	}
	must(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// deadURL is an RTSP URL on a loopback port where nothing listens.
func deadURL(t *testing.T, pass string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return fmt.Sprintf("rtsp://admin:%s@%s/stream", pass, addr)
}

// rateOf counts live frames a viewer gets over d after its first one.
func rateOf(t *testing.T, v *viewer, d time.Duration) float64 {
	t.Helper()
	first := v.nextLive(t, 15*time.Second)
	n := 0
	for {
		p := v.next(t, 5*time.Second)
		if p.at.Sub(first.at) > d {
			return float64(n) / d.Seconds()
		}
		if !p.noSignal {
			checkPart(t, p)
			n++
		}
	}
}

// watchRate starts a viewer of url, waits up to 10 s for its first live
// frame and returns its live frame rate over d. The viewer stays until the
// test ends, so what is checked next is checked while it watches.
func watchRate(t *testing.T, url string, d time.Duration) float64 {
	t.Helper()
	v := watch(t.Context(), t, url)
	v.nextLive(t, 10*time.Second)
	return rateOf(t, v, d)
}

func TestConfigThreeCamerasAreIndependent(t *testing.T) {
	h264 := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, Log: camLog(t)})
	mjpg := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, Codec: "mjpeg", Log: camLog(t)})
	const deadPass = "n0b0dy-h0me"
	cfg := writeConfig(t, "", fmt.Sprintf(`
defaults:
  stall_timeout: 3s
cameras:
  - name: h264
    url: %s
  - name: mjpeg
    url: %s
    codec: copy
  - name: dead
    url: %s
`, h264.URL(), mjpg.URL(), deadURL(t, deadPass)))
	d := startDaemon(t, "--config", cfg)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var wg sync.WaitGroup
	for _, c := range []struct {
		name string
		fps  float64
	}{{"h264", 15}, {"mjpeg", 10}} {
		v := watch(ctx, t, d.base+"/cameras/"+c.name+"/video")
		wg.Go(func() {
			rate := rateOf(t, v, 3*time.Second)
			t.Logf("%s: %.1f fps", c.name, rate)
			if rate < 0.9*c.fps {
				t.Errorf("%s: %.1f fps, want >= %.1f", c.name, rate, 0.9*c.fps)
			}
		})
	}
	wg.Wait()
	eventually(t, 10*time.Second, "the dead camera in backoff", func() bool {
		st := d.status(t, "dead")
		return st["state"] == "backoff" && st["last_error"] != ""
	})
	st := d.status(t, "dead")
	if !strings.Contains(st["url"].(string), "admin:xxxxx@") {
		t.Errorf("dead camera url %q", st["url"])
	}
	t.Logf("dead camera: %v", st["last_error"])
	if s := d.status(t, "mjpeg"); s["codec"] != "copy" {
		t.Errorf("mjpeg camera codec %v", s["codec"])
	}
	if n := len(d.ffmpegPIDs()); n < 2 || n > 3 {
		t.Errorf("%d ffmpeg processes, want one per camera", n)
	}
	resp, body := d.get(t, "/snapshot") // the first camera of the file
	if resp.StatusCode != 200 {
		t.Errorf("/snapshot: %d %s", resp.StatusCode, body)
	}
	resp, body = d.get(t, "/cameras/dead/snapshot")
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"state"`) {
		t.Errorf("dead snapshot: %d %s", resp.StatusCode, body)
	}
	cancel()
	d.stop(t)
	if strings.Contains(d.log.String(), deadPass) {
		t.Error("password in the log")
	}
}

// With codec copy the daemon serves the camera's own JPEG bytes: the same
// frames as a reader that copies the RTSP stream itself.
func TestCodecCopyPassesCameraBytes(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, Codec: "mjpeg", Log: camLog(t)})
	cfg := writeConfig(t, "", fmt.Sprintf("cameras:\n  - name: cam\n    url: %s\n    codec: copy\n", cam.URL()))
	d := startDaemon(t, "--config", cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	v := watch(ctx, t, d.base+"/video")
	v.nextLive(t, 15*time.Second)

	// A reference reader: ffmpeg copying the same stream, split the same way.
	ref := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-rtsp_transport", "tcp", "-i", cam.URL(), "-an", "-c:v", "copy", "-f", "image2pipe", "-t", "4", "pipe:1")
	out, err := ref.StdoutPipe()
	must(t, err)
	must(t, ref.Start())
	seen := map[[32]byte]bool{}
	sp := pipeline.NewSplitter(out, 0)
	var served [][]byte
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		p := v.next(t, 5*time.Second)
		if !p.noSignal {
			served = append(served, p.body)
		}
	}
	for {
		f, err := sp.Next()
		if err != nil {
			break
		}
		seen[sha256.Sum256(f)] = true
	}
	_ = ref.Wait()
	matched := 0
	for _, b := range served {
		if seen[sha256.Sum256(b)] {
			matched++
		}
	}
	t.Logf("%d of %d served frames are byte-identical to the camera's (%d reference frames)", matched, len(served), len(seen))
	if len(seen) == 0 || matched < len(served)/2 {
		t.Errorf("only %d of %d served frames match the camera's bytes", matched, len(served))
	}
}

func TestOnDemandCameraRunsFFmpegOnlyWhenAsked(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, GOP: 5, Log: camLog(t)})
	cfg := writeConfig(t, "", fmt.Sprintf("cameras:\n  - name: lazy\n    url: %s\n    on_demand: true\n    idle_timeout: 2s\n", cam.URL()))
	d := startDaemon(t, "--config", cfg)
	if st := d.status(t, "lazy"); st["state"] != "idle" {
		t.Errorf("state before any request: %v", st["state"])
	}
	if pids := d.ffmpegPIDs(); len(pids) != 0 {
		t.Fatalf("ffmpeg running before any request: %v", pids)
	}
	start := time.Now()
	resp, body := d.get(t, "/cameras/lazy/snapshot")
	if resp.StatusCode != 200 {
		t.Fatalf("first snapshot of an idle camera: %d %s", resp.StatusCode, body)
	}
	if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
		t.Fatalf("first snapshot: %v", err)
	}
	t.Logf("first snapshot of the idle camera in %v", time.Since(start).Round(time.Millisecond))
	pids := d.ffmpegPIDs()
	if len(pids) != 1 {
		t.Fatalf("ffmpeg while serving: %v", pids)
	}
	took := eventually(t, 10*time.Second, "ffmpeg gone after idle_timeout", func() bool { return !processExists(pids[0]) })
	t.Logf("ffmpeg stopped %v after the last request (idle_timeout 2s)", took.Round(100*time.Millisecond))
	if st := d.status(t, "lazy"); st["state"] != "idle" || st["restarts"].(float64) != 0 {
		t.Errorf("after idle: %v", st)
	}
}

func TestSIGHUPReloadKeepsViewersOfUnchangedCameras(t *testing.T) {
	a := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, Log: camLog(t)})
	b := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, Log: camLog(t)})
	path := writeConfig(t, "", fmt.Sprintf("cameras:\n  - name: a\n    url: %s\n  - name: b\n    url: %s\n", a.URL(), b.URL()))
	d := startDaemon(t, "--config", path)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	va := watch(ctx, t, d.base+"/cameras/a/video")
	vb := watch(ctx, t, d.base+"/cameras/b/video")
	va.nextLive(t, 15*time.Second)
	vb.nextLive(t, 15*time.Second)
	pidsBefore := d.ffmpegPIDs()

	// a unchanged, b removed, c added (the same camera as b under a new name).
	writeConfig(t, path, fmt.Sprintf("cameras:\n  - name: a\n    url: %s\n  - name: c\n    url: %s\n", a.URL(), b.URL()))
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	eventually(t, 10*time.Second, "camera c served", func() bool {
		resp, _ := d.get(t, "/api/cameras/c")
		return resp.StatusCode == 200
	})
	if resp, _ := d.get(t, "/api/cameras/b"); resp.StatusCode != 404 {
		t.Errorf("removed camera b: %d", resp.StatusCode)
	}
	// The viewer of b sees its stream end; the viewer of a goes on.
	select {
	case err := <-vb.err:
		t.Logf("viewer of the removed camera: stream ended (%v)", err)
	case <-time.After(10 * time.Second):
		t.Error("the stream of a removed camera did not end")
	}
	drain(va)
	for range 15 {
		if p := va.next(t, 5*time.Second); p.noSignal {
			t.Fatal("viewer of the unchanged camera got a no-signal part")
		}
	}
	after := d.ffmpegPIDs()
	if !containsInt(after, pidsBefore[0]) && !containsInt(after, pidsBefore[1]) {
		t.Errorf("no ffmpeg survived the reload: before %v, after %v", pidsBefore, after)
	}
	// A broken file is refused and the running config stays.
	writeConfig(t, path, "cameras:\n  - name: a\n    url: ftp://nope\n")
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	eventually(t, 10*time.Second, "the reload error in the log", func() bool {
		return strings.Contains(d.log.String(), "config reload failed")
	})
	if resp, _ := d.get(t, "/api/cameras/c"); resp.StatusCode != 200 {
		t.Error("a failed reload removed a camera")
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestAuthEndToEnd(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, Log: camLog(t)})
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "nvr-pass"), []byte("Adm1n-Pa55\n"), 0o600))
	cfg := writeConfig(t, filepath.Join(dir, "cameras.yml"), fmt.Sprintf(`
auth:
  username: admin
  password_file: nvr-pass
  tokens: [${DASH_TOKEN}]
cameras:
  - name: door
    url: %s
`, cam.URL()))
	const token = "dash-T0ken-42"
	d := startDaemonEnv(t, []string{"DASH_TOKEN=" + token}, "--config", cfg)
	get := func(path string, set func(*http.Request)) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, d.base+path, nil)
		if set != nil {
			set(req)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", path)
		}
		return resp.StatusCode
	}
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	if c := get("/healthz", nil); c != 200 {
		t.Errorf("/healthz: %d, want 200 without credentials", c)
	}
	for _, path := range []string{"/", "/api/cameras", "/metrics", "/snapshot", "/cameras/door/video"} {
		if c := get(path, nil); c != 401 {
			t.Errorf("%s without credentials: %d, want 401", path, c)
		}
	}
	if c := get("/api/cameras", basic("admin", "wrong")); c != 401 {
		t.Errorf("wrong password: %d", c)
	}
	if c := get("/api/cameras", basic("admin", "Adm1n-Pa55")); c != 200 {
		t.Errorf("good password: %d", c)
	}
	if c := get("/api/cameras", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }); c != 200 {
		t.Errorf("bearer token: %d", c)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v := watch(ctx, t, d.base+"/cameras/door/video?token="+token) // an <img> in a dashboard
	checkPart(t, v.nextLive(t, 15*time.Second))
	cancel()
	d.stop(t)
	for _, secret := range []string{token, "Adm1n-Pa55"} {
		if strings.Contains(d.log.String(), secret) {
			t.Errorf("secret %q in the log", secret)
		}
	}
}
