//go:build unix

package synthcam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// needFFmpeg skips the test when ffmpeg or ffprobe is missing, unless CI is
// set: there a missing ffmpeg is a broken machine.
func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found on PATH (CI is set): %v", bin, err)
			}
			t.Skipf("%s not found on PATH: %v", bin, err)
		}
	}
}

// startCam starts a small, fast camera closed at the end of the test.
func startCam(t *testing.T, cfg Config) *Camera {
	t.Helper()
	needFFmpeg(t)
	if cfg.Width == 0 {
		cfg.Width, cfg.Height = 160, 120
	}
	if cfg.FPS == 0 {
		cfg.FPS = 15
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	begin := time.Now()
	cam, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start (%s %dx%d@%d) took %v", cam.Config().Codec, cfg.Width, cfg.Height, cfg.FPS, time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := cam.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return cam
}

// readFrames decodes n frames from url with an ffmpeg reader and returns the
// md5 of each decoded frame.
func readFrames(t *testing.T, url string, n int, timeout time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", readerArgs(url, n)...)
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg reader: %v (ctx %v)\nstderr: %s", err, ctx.Err(), stderr.String())
	}
	var md5s []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		md5s = append(md5s, strings.TrimSpace(f[len(f)-1]))
	}
	if len(md5s) != n {
		t.Fatalf("ffmpeg reader decoded %d frames, want %d\nstdout: %s\nstderr: %s", len(md5s), n, stdout.String(), stderr.String())
	}
	return md5s
}

// readerArgs: an ffmpeg reader decoding n frames of url and printing the md5
// of each. A short probe, as the stream parameters are in the SDP.
func readerArgs(url string, n int) []string {
	return []string{"-hide_banner", "-nostdin", "-v", "error",
		"-rtsp_transport", "tcp", "-analyzeduration", "500000", "-probesize", "32768",
		"-i", url, "-frames:v", fmt.Sprint(n), "-f", "framemd5", "-"}
}

// probe returns "codec_name,width,height" of the video stream at url.
func probe(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp",
		"-analyzeduration", "500000", "-probesize", "32768",
		"-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height",
		"-of", "csv=p=0", url)
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ffprobe: %w: %s", err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

func distinct(ss []string) int {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return len(m)
}

// pidGone tells whether no process has the id any more (the publisher was
// killed and reaped).
func pidGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reader is an in-process gortsplib reader counting what it receives.
type reader struct {
	c       *gortsplib.Client
	packets atomic.Int64
	frames  atomic.Int64 // RTP packets with the marker bit: ends of frames
	done    chan error
}

func startReader(t *testing.T, url string) *reader {
	t.Helper()
	tcp := gortsplib.TransportTCP
	r := &reader{
		c:    &gortsplib.Client{Transport: &tcp, ReadTimeout: 30 * time.Second},
		done: make(chan error, 1),
	}
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.c.Start(u.Scheme, u.Host); err != nil {
		t.Fatalf("reader start: %v", err)
	}
	t.Cleanup(r.c.Close)
	desc, _, err := r.c.Describe(u)
	if err != nil {
		t.Fatalf("reader describe: %v", err)
	}
	if err := r.c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatalf("reader setup: %v", err)
	}
	r.c.OnPacketRTPAny(func(_ *description.Media, _ format.Format, pkt *rtp.Packet) {
		r.packets.Add(1)
		if pkt.Marker {
			r.frames.Add(1)
		}
	})
	if _, err := r.c.Play(nil); err != nil {
		t.Fatalf("reader play: %v", err)
	}
	go func() { r.done <- r.c.Wait() }()
	t.Cleanup(func() {
		r.c.Close()
		<-r.done
	})
	return r
}

func (r *reader) alive() bool {
	select {
	case err := <-r.done:
		r.done <- err
		return false
	default:
		return true
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Codec: "vp9"},
		{Width: 161, Height: 120},
		{Width: -2, Height: 120},
		{Codec: "mjpeg", Width: 164, Height: 120},
		{FPS: -1},
		{User: "u", AuthMethod: "ntlm"},
		{FFmpeg: "/nonexistent/ffmpeg"},
	} {
		cam, err := Start(context.Background(), cfg)
		if err == nil {
			cam.Close()
			t.Errorf("Start(%+v) succeeded, want an error", cfg)
		}
	}
}

func TestCodecs(t *testing.T) {
	for _, codec := range []string{"h264", "mjpeg", "hevc", "mpeg4"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			cam := startCam(t, Config{Codec: codec})
			want := "rtsp://" + cam.Addr() + "/stream"
			if cam.URL() != want {
				t.Errorf("URL() = %q, want %q", cam.URL(), want)
			}
			if host, _, _ := net.SplitHostPort(cam.Addr()); host != "127.0.0.1" || cam.Port() == 0 {
				t.Errorf("Addr() = %q, want 127.0.0.1 and a port", cam.Addr())
			}
			info, err := probe(cam.URL())
			if err != nil {
				t.Fatal(err)
			}
			if want := codec + ",160,120"; info != want {
				t.Errorf("ffprobe: %q, want %q", info, want)
			}
			md5s := readFrames(t, cam.URL(), 10, 20*time.Second)
			if distinct(md5s) < 5 {
				t.Errorf("only %d distinct frames out of 10: the pattern should move", distinct(md5s))
			}
			if cam.Packets() == 0 {
				t.Error("Packets() = 0")
			}

			pid := cam.PublisherPID()
			if pid == 0 || pidGone(pid) {
				t.Fatalf("PublisherPID() = %d, not a live process", pid)
			}
			if err := cam.Close(); err != nil {
				t.Fatal(err)
			}
			if !pidGone(pid) {
				t.Errorf("publisher %d still exists after Close", pid)
			}
			if cam.PublisherPID() != 0 {
				t.Errorf("PublisherPID() = %d after Close", cam.PublisherPID())
			}
			if _, err := net.DialTimeout("tcp", cam.Addr(), time.Second); err == nil {
				t.Error("dial succeeded after Close")
			}
			if err := cam.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			for name, err := range map[string]error{
				"Pause": cam.Pause(), "Resume": cam.Resume(), "Stop": cam.Stop(),
				"Restart": cam.Restart(), "Reboot": cam.Reboot(0),
			} {
				if !errors.Is(err, ErrClosed) {
					t.Errorf("%s after Close: %v, want ErrClosed", name, err)
				}
			}
		})
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	const fps = 15
	cam := startCam(t, Config{FPS: fps})
	r := startReader(t, cam.URL())
	waitFor(t, 5*time.Second, "packets at the reader", func() bool { return r.frames.Load() > 5 })
	if n := cam.Readers(); n != 1 {
		t.Errorf("Readers() = %d, want 1", n)
	}

	// An ffmpeg reader needing frames from both sides of the pause.
	ffDone := make(chan []string, 1)
	go func() {
		defer close(ffDone)
		ffDone <- readFramesNoFatal(cam.URL(), 2*fps, 30*time.Second)
	}()
	waitFor(t, 10*time.Second, "the ffmpeg reader to play", func() bool { return cam.Readers() == 2 })
	time.Sleep(500 * time.Millisecond)

	pid := cam.PublisherPID()
	if err := cam.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := cam.Pause(); err != nil || !cam.IsPaused() {
		t.Fatalf("second Pause: %v, IsPaused %v", err, cam.IsPaused())
	}
	time.Sleep(300 * time.Millisecond) // packets already in flight
	before, camBefore := r.packets.Load(), cam.Packets()
	time.Sleep(2500 * time.Millisecond)
	if got := r.packets.Load(); got != before {
		t.Errorf("reader got %d packets while paused", got-before)
	}
	if got := cam.Packets(); got != camBefore {
		t.Errorf("camera relayed %d packets while paused", got-camBefore)
	}
	if !r.alive() {
		t.Fatal("reader session dropped during the pause")
	}
	if cam.PublisherPID() != pid || pidGone(pid) {
		t.Fatal("publisher replaced during the pause")
	}

	if err := cam.Resume(); err != nil {
		t.Fatal(err)
	}
	framesAtResume := r.frames.Load()
	waitFor(t, 5*time.Second, "packets after Resume", func() bool { return r.packets.Load() > before })
	time.Sleep(time.Second)
	// The realtime filter resets after a long stop: no burst of missed frames.
	if burst := r.frames.Load() - framesAtResume; burst > 2*fps {
		t.Errorf("%d frames in the ~1 s after Resume at %d fps: a burst", burst, fps)
	}
	if !r.alive() {
		t.Fatal("reader session dropped after Resume")
	}

	select {
	case md5s := <-ffDone:
		if len(md5s) != 2*fps {
			t.Errorf("ffmpeg reader across the pause decoded %d frames, want %d", len(md5s), 2*fps)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ffmpeg reader across the pause did not finish")
	}
}

// readFramesNoFatal is readFrames for other goroutines: nil on failure.
func readFramesNoFatal(url string, n int, timeout time.Duration) []string {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", readerArgs(url, n)...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var md5s []string
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			md5s = append(md5s, line)
		}
	}
	return md5s
}

func TestReboot(t *testing.T) {
	t.Parallel()
	cam := startCam(t, Config{})
	addr, pid := cam.Addr(), cam.PublisherPID()
	r := startReader(t, cam.URL())
	waitFor(t, 5*time.Second, "packets at the reader", func() bool { return r.packets.Load() > 0 })

	const down = 1500 * time.Millisecond
	rebooted := make(chan error, 1)
	begin := time.Now()
	go func() { rebooted <- cam.Reboot(down) }()

	select {
	case err := <-r.done:
		r.done <- err
		t.Logf("reader dropped after %v: %v", time.Since(begin).Round(time.Millisecond), err)
	case <-time.After(5 * time.Second):
		t.Fatal("reader still connected after Reboot began")
	}
	if time.Since(begin) < down-300*time.Millisecond {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Error("dial succeeded while the camera was down")
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial while down: %v, want connection refused", err)
		}
	}

	select {
	case err := <-rebooted:
		if err != nil {
			t.Fatalf("Reboot: %v", err)
		}
	case <-time.After(down + 15*time.Second):
		t.Fatal("Reboot did not return")
	}
	if took := time.Since(begin); took < down {
		t.Errorf("Reboot took %v, less than its down time %v", took, down)
	}
	t.Logf("Reboot(%v) took %v", down, time.Since(begin).Round(time.Millisecond))
	if cam.Addr() != addr {
		t.Errorf("Addr() changed across Reboot: %s -> %s", addr, cam.Addr())
	}
	if !pidGone(pid) {
		t.Errorf("old publisher %d still exists after Reboot", pid)
	}
	if cam.PublisherPID() == 0 || cam.PublisherPID() == pid {
		t.Errorf("PublisherPID() = %d after Reboot (was %d)", cam.PublisherPID(), pid)
	}
	readFrames(t, cam.URL(), 5, 20*time.Second)
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	cam := startCam(t, Config{Codec: "mjpeg"})
	addr, pid := cam.Addr(), cam.PublisherPID()
	if err := cam.Stop(); err != nil {
		t.Fatal(err)
	}
	if cam.IsUp() || cam.PublisherPID() != 0 || !pidGone(pid) {
		t.Fatalf("after Stop: up %v, pid %d, old pid gone %v", cam.IsUp(), cam.PublisherPID(), pidGone(pid))
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Stop: %v, want connection refused", err)
	}
	if err := cam.Pause(); !errors.Is(err, ErrDown) {
		t.Errorf("Pause while down: %v, want ErrDown", err)
	}
	if err := cam.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := cam.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := cam.Restart(); err != nil {
		t.Errorf("Restart while up: %v", err)
	}
	if cam.Addr() != addr {
		t.Errorf("Addr() changed: %s -> %s", addr, cam.Addr())
	}
	readFrames(t, cam.URL(), 5, 20*time.Second)
}

func TestPublisherCrashRestarts(t *testing.T) {
	t.Parallel()
	cam := startCam(t, Config{})
	pid := cam.PublisherPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new publisher", func() bool {
		p := cam.PublisherPID()
		return p != 0 && p != pid
	})
	n := cam.Packets()
	waitFor(t, 10*time.Second, "packets from the new publisher", func() bool { return cam.Packets() > n })
	if got := cam.PublisherRestarts(); got != 1 {
		t.Errorf("PublisherRestarts() = %d, want 1", got)
	}
	readFrames(t, cam.URL(), 5, 20*time.Second)
}

func TestAuth(t *testing.T) {
	for _, method := range []string{"any", "basic", "digest"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			cam := startCam(t, Config{User: "admin", Pass: "s3cr:t@", AuthMethod: method})
			if !strings.HasPrefix(cam.URL(), "rtsp://admin:s3cr%3At%40@127.0.0.1:") {
				t.Errorf("URL() = %q", cam.URL())
			}
			if _, err := probe(cam.URL()); err != nil {
				t.Errorf("with credentials: %v", err)
			}
			bare := "rtsp://" + cam.Addr() + "/stream"
			if _, err := probe(bare); err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("without credentials: %v, want a 401", err)
			}
			wrong := "rtsp://admin:nope@" + cam.Addr() + "/stream"
			if _, err := probe(wrong); err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("with a wrong password: %v, want a 401", err)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	t.Parallel()
	describe := func(url string) error {
		u, err := base.ParseURL(url)
		if err != nil {
			return err
		}
		c := gortsplib.Client{}
		if err := c.Start(u.Scheme, u.Host); err != nil {
			return err
		}
		defer c.Close()
		_, _, err = c.Describe(u)
		return err
	}
	cam := startCam(t, Config{Path: "cam1/"})
	if !strings.HasSuffix(cam.URL(), "/cam1") {
		t.Errorf("URL() = %q, want the path /cam1", cam.URL())
	}
	if err := describe(cam.URL()); err != nil {
		t.Errorf("describe %s: %v", cam.URL(), err)
	}
	other := "rtsp://" + cam.Addr() + "/stream"
	if err := describe(other); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("describe %s: %v, want 404", other, err)
	}

	anyCam := startCam(t, Config{AnyPath: true})
	for _, p := range []string{"/stream", "/whatever/else", "/"} {
		if err := describe("rtsp://" + anyCam.Addr() + p); err != nil {
			t.Errorf("AnyPath: describe %s: %v", p, err)
		}
	}
}

func TestStartContext(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if cam, err := Start(ctx, Config{Width: 160, Height: 120}); !errors.Is(err, context.Canceled) {
		if cam != nil {
			cam.Close()
		}
		t.Fatalf("Start with a cancelled ctx: %v, want context.Canceled", err)
	}

	// ctx bounds only the start.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	cam, err := Start(ctx, Config{Width: 160, Height: 120})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	time.Sleep(200 * time.Millisecond)
	if !cam.IsUp() || cam.PublisherPID() == 0 {
		t.Fatal("camera went down when the Start ctx ended")
	}
}

func TestStartTimeout(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	// A "ffmpeg" that never publishes.
	dir := t.TempDir()
	fake := dir + "/ffmpeg"
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho fake ffmpeg failing >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	cam, err := Start(context.Background(), Config{FFmpeg: fake, StartTimeout: time.Second})
	if err == nil {
		cam.Close()
		t.Fatal("Start succeeded with a failing ffmpeg")
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("Start took %v to fail", took)
	}
	if !strings.Contains(err.Error(), "fake ffmpeg failing") {
		t.Errorf("error does not carry ffmpeg's stderr: %v", err)
	}
}
