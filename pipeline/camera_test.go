package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

const secret = "hunter2"

// fakeCamera returns a camera whose ffmpeg is the test binary in mode, and
// the file where each fake ffmpeg writes its pid.
func fakeCamera(t *testing.T, mode string, mod func(*CameraConfig)) (*Camera, string, *logtest.Hook) {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pids")
	t.Setenv(fakeFFmpegEnv, mode+",pidfile="+pidfile)
	cfg := DefaultCameraConfig("cam", "rtsp://viewer:"+secret+"@127.0.0.1:1/stream")
	cfg.FFmpeg = os.Args[0]
	mod(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	return NewCamera(cfg, logrus.NewEntry(logger)), pidfile, hook
}

// runCamera runs cam until the test ends and checks Run returns.
func runCamera(t *testing.T, cam *Camera) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cam.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitDelay + 3*time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return cancel
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pids(t *testing.T, pidfile string) []int {
	t.Helper()
	b, err := os.ReadFile(pidfile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, l := range strings.Fields(string(b)) {
		p, _ := strconv.Atoi(l)
		out = append(out, p)
	}
	return out
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func assertNoSecretLogged(t *testing.T, hook *logtest.Hook) {
	t.Helper()
	for _, e := range hook.AllEntries() {
		line, _ := e.String()
		if strings.Contains(line, secret) {
			t.Errorf("password in log: %s", line)
		}
	}
}

func TestCameraRestartsAfterExitWithMaskedError(t *testing.T) {
	cam, pidfile, hook := fakeCamera(t, "frames=3,exit=1,stderr=rtsp://viewer:"+secret+"@127.0.0.1:1/stream: 401 Unauthorized", func(*CameraConfig) {})
	runCamera(t, cam)
	eventually(t, 10*time.Second, "two restarts", func() bool { return cam.Status().Restarts >= 2 })
	st := cam.Status()
	if st.Frames < 6 {
		t.Errorf("frames = %d, want >= 6 from two runs", st.Frames)
	}
	if !strings.Contains(st.LastError, "exit status 1") || !strings.Contains(st.LastError, "401 Unauthorized") {
		t.Errorf("last_error = %q, want the exit status and stderr tail", st.LastError)
	}
	if strings.Contains(st.LastError+st.URL, secret) {
		t.Errorf("password in status: %+v", st)
	}
	if st.URL != "rtsp://viewer:xxxxx@127.0.0.1:1/stream" {
		t.Errorf("url = %q", st.URL)
	}
	f := cam.Latest()
	if _, err := jpeg.Decode(bytes.NewReader(f.JPEG)); err != nil {
		t.Errorf("latest frame does not decode: %v", err)
	}
	if len(pids(t, pidfile)) < 2 {
		t.Errorf("ffmpeg started %d times", len(pids(t, pidfile)))
	}
	assertNoSecretLogged(t, hook)
}

func TestCameraKillsStalledFFmpeg(t *testing.T) {
	cam, pidfile, hook := fakeCamera(t, "frames=3,hang", func(c *CameraConfig) { c.StallTimeout = 300 * time.Millisecond })
	runCamera(t, cam)
	eventually(t, 10*time.Second, "a restart after the stall", func() bool { return cam.Status().Restarts >= 1 })
	if st := cam.Status(); !strings.Contains(st.LastError, "stall_timeout") {
		t.Errorf("last_error = %q, want the stall", st.LastError)
	}
	first := pids(t, pidfile)[0]
	eventually(t, 5*time.Second, "the stalled ffmpeg to be gone", func() bool { return !alive(first) })
	eventually(t, 10*time.Second, "a second ffmpeg", func() bool { return len(pids(t, pidfile)) >= 2 })
	assertNoSecretLogged(t, hook)
}

func TestCameraRestartsWithoutFirstFrame(t *testing.T) {
	cam, _, _ := fakeCamera(t, "frames=0,hang", func(c *CameraConfig) { c.StartTimeout = 300 * time.Millisecond })
	runCamera(t, cam)
	eventually(t, 10*time.Second, "a restart", func() bool { return cam.Status().Restarts >= 1 })
	if st := cam.Status(); !strings.Contains(st.LastError, "start_timeout") || st.Frames != 0 {
		t.Errorf("status = %+v, want a start_timeout error and no frame", st)
	}
}

func TestCameraOnDemandStartsAndStops(t *testing.T) {
	cam, pidfile, _ := fakeCamera(t, "frames=-1", func(c *CameraConfig) {
		c.OnDemand = true
		c.IdleTimeout = 200 * time.Millisecond
	})
	runCamera(t, cam)
	if st := cam.Status(); st.State != StateIdle {
		t.Fatalf("state = %s, want idle", st.State)
	}
	release := cam.Acquire()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := cam.Next(ctx, 0); err != nil {
		release()
		t.Fatalf("no frame after Acquire: %v", err)
	}
	if got := cam.Status().Clients; got != 1 {
		t.Errorf("clients = %d, want 1", got)
	}
	ps := pids(t, pidfile)
	if len(ps) != 1 || !alive(ps[0]) {
		t.Fatalf("want one live ffmpeg, pids %v", ps)
	}
	release()
	release() // idempotent
	eventually(t, 5*time.Second, "idle after idle_timeout", func() bool { return cam.Status().State == StateIdle })
	eventually(t, 5*time.Second, "ffmpeg gone", func() bool { return !alive(ps[0]) })
	if st := cam.Status(); st.Restarts != 0 || st.Clients != 0 {
		t.Errorf("idle stop counted as a failure: %+v", st)
	}
}

func TestCameraStopKillsFFmpegThatIgnoresSIGTERM(t *testing.T) {
	cam, pidfile, _ := fakeCamera(t, "frames=-1,ignoreterm", func(*CameraConfig) {})
	cancel := runCamera(t, cam)
	eventually(t, 10*time.Second, "frames", func() bool { return cam.Status().Frames > 0 })
	pid := pids(t, pidfile)[0]
	cancel()
	eventually(t, waitDelay+3*time.Second, "ffmpeg killed", func() bool { return !alive(pid) })
}

func TestCameraProbesLongerWhenShortProbeFails(t *testing.T) {
	argsfile := filepath.Join(t.TempDir(), "args")
	cam, _, _ := fakeCamera(t, "frames=0,exit=1,argsfile="+argsfile+
		",stderr=Could not find codec parameters for stream 0 (Video: h264): unspecified size", func(*CameraConfig) {})
	runCamera(t, cam)
	var runs []string
	eventually(t, 10*time.Second, "two runs", func() bool {
		b, _ := os.ReadFile(argsfile)
		runs = strings.Split(strings.TrimSpace(string(b)), "\n")
		return len(runs) >= 2
	})
	if !strings.Contains(runs[0], "-analyzeduration 0") {
		t.Errorf("first run: %s", runs[0])
	}
	if !strings.Contains(runs[1], "-analyzeduration 1000000") {
		t.Errorf("second run did not probe longer: %s", runs[1])
	}
}

func TestCameraReconfigureKeepsViewers(t *testing.T) {
	argsfile := filepath.Join(t.TempDir(), "args")
	cam, _, _ := fakeCamera(t, "frames=-1,argsfile="+argsfile, func(*CameraConfig) {})
	runCamera(t, cam)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f, err := cam.Next(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, _ := cam.config()
	cfg.Width = 480
	cam.Reconfigure(cfg)
	eventually(t, 10*time.Second, "ffmpeg restarted with the new width", func() bool {
		b, _ := os.ReadFile(argsfile)
		return strings.Contains(string(b), "scale=480:-2")
	})
	// The same viewer keeps getting frames from the same camera.
	for range 3 {
		if f, err = cam.Next(ctx, f.Seq); err != nil {
			t.Fatalf("viewer lost after reconfigure: %v", err)
		}
	}
	if st := cam.Status(); st.Restarts != 0 {
		t.Errorf("a reload counted as a failure: %+v", st)
	}
}

func TestCameraCloseEndsViewers(t *testing.T) {
	cam, _, _ := fakeCamera(t, "frames=0,hang", func(*CameraConfig) {})
	errc := make(chan error, 1)
	go func() {
		_, err := cam.Next(t.Context(), 0)
		errc <- err
	}()
	cam.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrHubClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still waiting after Close")
	}
}

// TestOnDemandReloadWhileIdle: an on-demand camera reconfigured while it
// waits for a viewer starts with the new config.
func TestOnDemandReloadWhileIdle(t *testing.T) {
	argsfile := filepath.Join(t.TempDir(), "args")
	cam, _, _ := fakeCamera(t, "frames=-1,argsfile="+argsfile, func(c *CameraConfig) {
		c.OnDemand = true
		c.IdleTimeout = 50 * time.Millisecond
	})
	runCamera(t, cam)
	// One viewer and its leaving: then the camera is idle in its wait for
	// the next viewer (the state is set there, under the camera's lock).
	release := cam.Acquire()
	eventually(t, 10*time.Second, "streaming", func() bool { return cam.Status().State == StateStreaming })
	release()
	eventually(t, 10*time.Second, "the camera idle again", func() bool { return cam.Status().State == StateIdle })
	cfg, _, _ := cam.config()
	cfg.Width = 160
	cam.Reconfigure(cfg)
	release = cam.Acquire()
	defer release()
	eventually(t, 10*time.Second, "a second run", func() bool {
		b, _ := os.ReadFile(argsfile)
		return strings.Count(string(b), "\n") >= 2
	})
	b, _ := os.ReadFile(argsfile)
	if runs := strings.Split(strings.TrimSpace(string(b)), "\n"); !strings.Contains(runs[1], "scale=160:-2") {
		t.Errorf("the first run after the reload used the old config: %s", runs[1])
	}
}

// TestReconfigureEndsBackoff: a camera backing off after failures tries a
// changed config at once, not when the old config's backoff ends (a relay
// whose origin moved would otherwise wait up to 30 s).
func TestReconfigureEndsBackoff(t *testing.T) {
	argsfile := filepath.Join(t.TempDir(), "args")
	cam, _, _ := fakeCamera(t, "frames=0,exit=1,argsfile="+argsfile, func(*CameraConfig) {})
	runCamera(t, cam)
	eventually(t, 15*time.Second, "four failures (the next wait about 4 s)", func() bool { return cam.Status().Restarts >= 4 })
	cfg, _, _ := cam.config()
	cfg.Width = 480
	changed := time.Now()
	cam.Reconfigure(cfg)
	eventually(t, 10*time.Second, "ffmpeg started with the new width", func() bool {
		b, _ := os.ReadFile(argsfile)
		return strings.Contains(string(b), "scale=480:-2")
	})
	if d := time.Since(changed); d > 2*time.Second {
		t.Errorf("the new config ran %v after the change, want at once (the backoff was about 4 s)", d.Round(time.Millisecond))
	}
}
