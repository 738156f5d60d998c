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
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
)

// TestCameraProfileOutput: the built-in thumb is written by the camera's
// one ffmpeg on pipe:3 and read as a feed of its own, with its counters in
// the status.
func TestCameraProfileOutput(t *testing.T) {
	cam, pidfile, _ := fakeCamera(t, "frames=-1,fps=20", func(*CameraConfig) {})
	runCamera(t, cam)
	feed, ok := cam.Profile(ThumbProfile)
	if !ok {
		t.Fatal("no thumb profile")
	}
	if _, ok := cam.Profile("nope"); ok {
		t.Fatal("a profile that is not configured was found")
	}
	release := feed.Acquire()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var seq uint64
	for range 3 {
		f, err := feed.Next(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jpeg.Decode(bytes.NewReader(f.JPEG)); err != nil {
			t.Fatalf("thumb frame does not decode: %v", err)
		}
		main := cam.Latest()
		if main != nil && bytes.Equal(main.JPEG, f.JPEG) {
			t.Error("the thumb feed serves the main stream's frames")
		}
		main.Release()
		seq = f.Seq
		f.Release()
	}
	// A frame is counted just after it is published: wait for the count.
	eventually(t, 5*time.Second, "three thumb frames counted", func() bool {
		st := cam.Status()
		return len(st.Profiles) == 1 && st.Profiles[0].Frames >= 3
	})
	st := cam.Status()
	p := st.Profiles[0]
	if p.Name != ThumbProfile || p.Clients != 1 || p.Width != 320 || p.MaxFPS != 5 || !p.Running ||
		p.State != StateStreaming || p.URL != "" || p.LastFrameAt == nil {
		t.Errorf("thumb status: %+v", p)
	}
	if st.Clients != 0 {
		t.Errorf("main stream clients %d, want 0: the thumb viewer counts for the thumb only", st.Clients)
	}
	release()
	if n := len(pids(t, pidfile)); n != 1 {
		t.Errorf("%d ffmpeg runs, want one for the main stream and the thumb", n)
	}
}

// TestCameraSubstreamProfile: a profile with a URL of its own is read by an
// ffmpeg of its own, with that URL, and has its own state.
func TestCameraSubstreamProfile(t *testing.T) {
	argsfile := filepath.Join(t.TempDir(), "args")
	cam, _, _ := fakeCamera(t, "frames=-1,fps=20,argsfile="+argsfile, func(c *CameraConfig) {
		c.Profiles = []ProfileConfig{{Name: "sub", URL: "rtsp://viewer:" + secret + "@127.0.0.1:1/stream2", Width: 320}}
	})
	runCamera(t, cam)
	feed, ok := cam.Profile("sub")
	if !ok {
		t.Fatal("no sub profile")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f, err := feed.Next(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Release()
	eventually(t, 10*time.Second, "two ffmpeg runs", func() bool {
		b, _ := os.ReadFile(argsfile)
		return strings.Count(string(b), "\n") >= 2
	})
	b, _ := os.ReadFile(argsfile)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var main, sub string
	for _, l := range lines {
		if strings.Contains(l, "/stream2") {
			sub = l
		} else {
			main = l
		}
	}
	if sub == "" || main == "" || strings.Contains(main, "pipe:3") || !strings.Contains(sub, "scale=320:-2") {
		t.Errorf("ffmpeg runs:\n%s", b)
	}
	st := cam.Status()
	if len(st.Profiles) != 1 || st.Profiles[0].URL != "rtsp://viewer:xxxxx@127.0.0.1:1/stream2" || st.Profiles[0].Frames == 0 {
		t.Errorf("status profiles: %+v", st.Profiles)
	}
	if strings.Contains(st.Profiles[0].URL, secret) {
		t.Error("password in the status")
	}
}

// TestCameraReconfigureRemovesProfile: a removed profile ends its viewers'
// streams; the main viewer keeps its stream.
func TestCameraReconfigureRemovesProfile(t *testing.T) {
	cam, _, _ := fakeCamera(t, "frames=-1,fps=20", func(c *CameraConfig) {
		c.Profiles = append(DefaultProfiles(), ProfileConfig{Name: "sub", URL: "rtsp://127.0.0.1:1/stream2"})
	})
	runCamera(t, cam)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	thumb, _ := cam.Profile(ThumbProfile)
	sub, _ := cam.Profile("sub")
	for _, feed := range []Feed{thumb, sub, cam} {
		f, err := feed.Next(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Release()
	}
	cfg, _, _ := cam.config()
	cfg.Profiles = nil
	cam.Reconfigure(cfg)
	for name, feed := range map[string]Feed{"thumb": thumb, "sub": sub} {
		var err error
		for err == nil {
			var f *Frame
			f, err = feed.Next(ctx, ^uint64(0)-1)
			f.Release()
		}
		if !errors.Is(err, ErrHubClosed) {
			t.Errorf("%s viewer after the profile was removed: %v", name, err)
		}
	}
	if _, ok := cam.Profile(ThumbProfile); ok {
		t.Error("thumb still there")
	}
	f, err := cam.Next(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	seq := f.Seq
	f.Release()
	if f, err = cam.Next(ctx, seq); err != nil {
		t.Fatalf("main viewer after the reload: %v", err)
	}
	f.Release()
	if st := cam.Status(); len(st.Profiles) != 0 {
		t.Errorf("profiles after removal: %+v", st.Profiles)
	}
}

// TestCopyCameraTranscodesProfileWhileWatched: a codec-copy camera's ffmpeg
// writes no profile output (it would have to decode every frame); a
// transcoder fed from memory makes the thumb while it has a viewer, and
// stops idle_timeout after the last one.
func TestCopyCameraTranscodesProfileWhileWatched(t *testing.T) {
	runsfile := filepath.Join(t.TempDir(), "runs")
	cam, _, hook := fakeCamera(t, "frames=-1,fps=20,runsfile="+runsfile, func(c *CameraConfig) {
		c.Codec = CodecCopy
		c.IdleTimeout = 200 * time.Millisecond
	})
	runCamera(t, cam)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f, err := cam.Next(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Release()
	if camera, _ := fakeRuns(t, runsfile); len(camera) == 0 || strings.Contains(camera[0].args, "pipe:3") {
		t.Fatalf("a copy camera's ffmpeg writes a profile output: %+v", camera)
	}
	if st := cam.Status(); st.Profiles[0].Running || st.Profiles[0].State != StateIdle {
		t.Errorf("unwatched thumb of a copy camera: %+v", st.Profiles[0])
	}
	thumb, _ := cam.Profile(ThumbProfile)
	release := thumb.Acquire()
	f, err = thumb.Next(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Release()
	// The frame is counted just after it is published: wait for the count.
	eventually(t, 5*time.Second, "the watched thumb running and counted", func() bool {
		st := cam.Status()
		return st.Profiles[0].Running && st.Profiles[0].Frames > 0
	})
	camera, transcoder := fakeRuns(t, runsfile)
	if len(transcoder) != 1 || !strings.Contains(transcoder[0].args, "scale=320:-2") {
		t.Fatalf("transcoder runs %+v, want one with the thumb's scale (camera runs %+v); log:\n%s", transcoder, camera, logLines(hook))
	}
	release()
	eventually(t, 10*time.Second, "the transcoder gone after idle_timeout", func() bool {
		return !alive(transcoder[0].pid) && !cam.Status().Profiles[0].Running
	})
	// The camera's ffmpeg runs on: a machine slow enough to trip the stall
	// timeout may have restarted it, which is not this test's matter, but
	// the transcoder's end must not stop it.
	camera, _ = fakeRuns(t, runsfile)
	if last := camera[len(camera)-1]; !alive(last.pid) {
		t.Errorf("the camera's ffmpeg stopped with the transcoder (runs %+v); log:\n%s", camera, logLines(hook))
	}
}

// fakeRun is one run of the fake ffmpeg, from its runsfile.
type fakeRun struct {
	pid  int
	args string
}

// fakeRuns reads a runsfile, split into the camera's runs and the profile
// transcoders' (fed on stdin), each in start order.
func fakeRuns(t *testing.T, runsfile string) (camera, transcoder []fakeRun) {
	t.Helper()
	b, err := os.ReadFile(runsfile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		pid, args, ok := strings.Cut(strings.TrimSuffix(l, "\n"), "\t")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil {
			t.Fatalf("runsfile line %q", l)
		}
		r := fakeRun{pid: n, args: args}
		if strings.Contains(args, "-i pipe:0") {
			transcoder = append(transcoder, r)
		} else {
			camera = append(camera, r)
		}
	}
	return camera, transcoder
}

// logLines is the camera's log so far, for a failure's message.
func logLines(hook *logtest.Hook) string {
	var b strings.Builder
	for _, e := range hook.AllEntries() {
		line, _ := e.String()
		b.WriteString(line)
	}
	return b.String()
}
