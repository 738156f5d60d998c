package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/scripts/procfs"
)

// The end-to-end tests run the daemon as a separate process (the test binary
// itself, re-executed with daemonEnv set, as os/exec's own tests do), real
// ffmpeg, and a synthcam RTSP camera on 127.0.0.1. Nothing is mocked.
const daemonEnv = "RTSP2MJPEG_TEST_AS_DAEMON"

func TestMain(m *testing.M) {
	if os.Getenv(daemonEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// needFFmpeg skips where ffmpeg is missing, except in CI, which installs it.
func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ffmpeg is not installed; CI must install it (scripts/setup.sh)")
		}
		t.Skip("ffmpeg not installed")
	}
}

func startCamera(t *testing.T, cfg synthcam.Config) *synthcam.Camera {
	t.Helper()
	needFFmpeg(t)
	cam, err := synthcam.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("synthetic camera: %v", err)
	}
	t.Cleanup(func() { _ = cam.Close() })
	return cam
}

// syncBuffer collects the daemon's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    *syncBuffer
	base   string // http://127.0.0.1:port
	done   chan struct{}
	waited error
}

// startDaemon runs rtsp2mjpeg with args on a free loopback port and waits
// until it serves.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, nil, args...)
}

// startDaemonEnv is startDaemon with extra environment variables.
func startDaemonEnv(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	d := launchEnv(t, env, append([]string{"--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"}, args...)...)
	deadline := time.Now().Add(15 * time.Second)
	for d.base == "" {
		for _, e := range d.entries() {
			if e["msg"] == "serving" {
				d.base = "http://" + e["listen"].(string)
			}
		}
		select {
		case <-d.done:
			t.Fatalf("daemon exited at start: %v\n%s", d.waited, d.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start serving\n%s", d.log)
		}
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.stop(t)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log)
		}
	})
	return d
}

// launch starts the daemon process without waiting for it.
func launch(t *testing.T, args ...string) *daemon {
	t.Helper()
	return launchEnv(t, nil, args...)
}

// launchEnv is launch with extra environment variables.
func launchEnv(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), daemonEnv+"=1"), env...)
	d := &daemon{t: t, cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = d.log
	cmd.Stdout = d.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.waited = cmd.Wait()
		close(d.done)
	}()
	return d
}

// exitCode waits for the daemon to exit on its own and returns its code.
func (d *daemon) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Fatalf("daemon still running after %v\n%s", within, d.log)
		return -1
	}
}

// stop sends SIGTERM and checks the daemon exits 0 within 5 s and leaves no
// ffmpeg behind.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	children := d.ffmpegPIDs()
	start := time.Now()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	t.Logf("daemon stopped in %v", time.Since(start).Round(time.Millisecond))
	for _, pid := range children {
		if processExists(pid) {
			t.Errorf("ffmpeg %d still running after the daemon exited", pid)
		}
	}
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// ffmpegPIDs lists the daemon's ffmpeg children from the process table.
func (d *daemon) ffmpegPIDs() []int {
	return childPIDs(d.cmd.Process.Pid, "ffmpeg")
}

func childPIDs(parent int, comm string) []int {
	var out []int
	for _, s := range procfs.Children(parent) {
		if s.Comm == comm {
			out = append(out, s.PID)
		}
	}
	return out
}

// entries parses the daemon's JSON log lines.
func (d *daemon) entries() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(d.log.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e map[string]any
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

func (d *daemon) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(d.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp, b
}

func (d *daemon) status(t *testing.T, name string) map[string]any {
	t.Helper()
	resp, b := d.get(t, "/api/cameras/"+name)
	if resp.StatusCode != 200 {
		t.Fatalf("status %s: %d %s", name, resp.StatusCode, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// part is one part of an MJPEG stream as a viewer received it.
type part struct {
	at       time.Time // when the viewer had all of it
	header   map[string]string
	body     []byte
	noSignal bool
}

// viewer reads an MJPEG stream on one connection into a channel until ctx
// ends or the stream fails.
type viewer struct {
	parts chan part
	err   chan error
}

func watch(ctx context.Context, t *testing.T, url string) *viewer {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 200 || err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] != "frame" {
		resp.Body.Close()
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	v := &viewer{parts: make(chan part, 4096), err: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		mr := multipart.NewReader(resp.Body, "frame")
		for {
			p, err := mr.NextPart()
			if err != nil {
				v.err <- err
				close(v.parts)
				return
			}
			body, err := io.ReadAll(p)
			if err != nil {
				v.err <- err
				close(v.parts)
				return
			}
			h := map[string]string{}
			for k := range p.Header {
				h[k] = p.Header.Get(k)
			}
			select {
			case v.parts <- part{at: time.Now(), header: h, body: body, noSignal: h["X-No-Signal"] == "1"}:
			default: // the test is not reading: drop, like a slow viewer
			}
		}
	}()
	return v
}

// next returns the next part, failing the test after d.
func (v *viewer) next(t *testing.T, d time.Duration) part {
	t.Helper()
	select {
	case p, ok := <-v.parts:
		if !ok {
			t.Fatalf("stream ended: %v", <-v.err)
		}
		return p
	case <-time.After(d):
		t.Fatalf("no part within %v", d)
	}
	return part{}
}

// nextLive skips no-signal parts until a camera frame arrives within d.
func (v *viewer) nextLive(t *testing.T, d time.Duration) part {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no live frame within %v", d)
		}
		if p := v.next(t, left); !p.noSignal {
			return p
		}
	}
}

// checkPart asserts what every part of the wire format carries.
func checkPart(t *testing.T, p part) {
	t.Helper()
	if p.header["Content-Type"] != "image/jpeg" {
		t.Errorf("part Content-Type = %q", p.header["Content-Type"])
	}
	if n, err := strconv.Atoi(p.header["Content-Length"]); err != nil || n != len(p.body) {
		t.Errorf("part Content-Length %q, body %d bytes", p.header["Content-Length"], len(p.body))
	}
	if _, err := strconv.ParseFloat(p.header["X-Timestamp"], 64); err != nil {
		t.Errorf("part X-Timestamp %q", p.header["X-Timestamp"])
	}
	if _, err := jpeg.Decode(bytes.NewReader(p.body)); err != nil {
		t.Errorf("part does not decode as JPEG: %v", err)
	}
}

func partTime(t *testing.T, p part) time.Time {
	t.Helper()
	f, err := strconv.ParseFloat(p.header["X-Timestamp"], 64)
	if err != nil {
		t.Fatalf("X-Timestamp %q", p.header["X-Timestamp"])
	}
	return time.UnixMilli(int64(f * 1000))
}

func camLog(t *testing.T) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(os.Stderr)
	}
	return logrus.NewEntry(l).WithField("test", t.Name())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = fmt.Sprintf

// needTool returns the path of an external program, skipping the test where
// it is missing, except in CI, which must install it (how: install).
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; CI must install it (%s)", name, install)
		}
		t.Skipf("%s not installed (%s)", name, install)
	}
	return p
}

// longTests tells whether the full-length fault tests were asked for.
func longTests() bool { return os.Getenv("RTSP2MJPEG_LONG_TESTS") == "1" }

// procStatus reads a numeric field of /proc/PID/status (VmRSS in kB,
// Threads), or -1 when the process or the field is gone.
func procStatus(pid int, key string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// rssKB is the daemon's resident memory in kB.
func (d *daemon) rssKB() int { return procStatus(d.cmd.Process.Pid, "VmRSS") }

// threads is the daemon's number of OS threads.
func (d *daemon) threads() int { return procStatus(d.cmd.Process.Pid, "Threads") }

// openFDs counts the daemon's open file descriptors.
func (d *daemon) openFDs() int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// metric returns the value of an unlabelled metric of /metrics, or -1.
func (d *daemon) metric(t *testing.T, name string) float64 {
	t.Helper()
	_, b := d.get(t, "/metrics")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return f
			}
		}
	}
	return -1
}

// running tells whether pid is a live process: not gone and not a zombie
// waiting for its new parent to reap it.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}
