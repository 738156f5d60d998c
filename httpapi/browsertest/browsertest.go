// Package browsertest drives a headless Chromium from Go tests over the W3C
// WebDriver protocol, through chromedriver (plain JSON over HTTP, no client
// library), and compares screenshots. The httpapi page tests and the end to
// end tests of the daemon use it.
//
// Start skips the test when chromium or chromedriver is missing from PATH,
// unless the environment variable CI is set (CI installs them: a skip there
// would hide the browser tests); scripts/setup.sh --browser installs them.
package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeout bounds the whole life of chromedriver and Chromium started by
// Start.
const Timeout = 2 * time.Minute

// CommandTimeout bounds one WebDriver command (but the first, which starts
// Chromium and gets a minute).
const CommandTimeout = 20 * time.Second

// Driver is a WebDriver session with chromedriver, which drives one
// headless Chromium.
type Driver struct {
	base    string // http://127.0.0.1:port/session/id
	client  *http.Client
	timeout time.Duration // per command
}

// Start starts chromedriver and a headless Chromium session with a
// 1280x800 window at device scale 1; args are more Chromium switches (a
// later --window-size wins over the default). Both are ended (the session
// closed, then the process group killed) when the test ends. Call Start
// after starting the servers the browser talks to: cleanups run last first,
// so the browser goes before the servers, whose streams would otherwise
// keep their Close waiting.
func Start(t testing.TB, args ...string) *Driver {
	t.Helper()
	chromium, err1 := exec.LookPath("chromium")
	driver, err2 := exec.LookPath("chromedriver")
	if err := errors.Join(err1, err2); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the browser test needs chromium and chromedriver (apt-get install chromium chromium-driver): %v", err)
		}
		t.Skipf("no browser (apt-get install chromium chromium-driver): %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	cmd := exec.CommandContext(ctx, driver, "--port=0", "--log-level=WARNING")
	// Its own process group, with Chromium in it: killing the group ends
	// every process this test started, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var logs LockedBuffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromedriver: %v", err)
	}
	waited := make(chan struct{})
	portc := make(chan string, 1)
	go func() {
		defer close(waited)
		// "ChromeDriver was started successfully on port 45449."
		re := regexp.MustCompile(`started successfully on port (\d+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = logs.Write(append(sc.Bytes(), '\n'))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case portc <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	d := &Driver{client: &http.Client{Transport: &http.Transport{}}, timeout: CommandTimeout}
	t.Cleanup(func() {
		start := time.Now()
		defer func() { t.Logf("browser closed in %.1fs", time.Since(start).Seconds()) }()
		if d.base != "" {
			_ = d.Call(http.MethodDelete, "", nil, nil) // quits Chromium
		}
		d.client.CloseIdleConnections()
		cancel() // kills the process group, if anything is left of it
		<-waited
		if t.Failed() {
			t.Logf("chromedriver output:\n%s", logs.String())
		}
	})

	var port string
	select {
	case port = <-portc:
	case <-waited:
		t.Fatalf("chromedriver exited at start:\n%s", logs.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("chromedriver did not start within 15s:\n%s", logs.String())
	}

	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		// An <img> MJPEG stream never ends, so do not wait for the load event.
		"pageLoadStrategy": "eager",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args": append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
				"--no-first-run", "--disable-background-networking", "--disable-component-update",
				"--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + ProfileDir(t),
				"--window-size=1280,800", "--force-device-scale-factor=1"}, args...),
		},
	}}}
	var session struct {
		SessionID string `json:"sessionId"`
	}
	d.base = "http://127.0.0.1:" + port + "/session"
	d.timeout = time.Minute // Chromium's start
	err = d.Call(http.MethodPost, "", caps, &session)
	d.timeout = CommandTimeout
	if err != nil {
		d.base = ""
		t.Fatalf("new WebDriver session: %v", err)
	}
	d.base += "/" + session.SessionID
	return d
}

// Call sends one WebDriver command (path relative to the session, "" for
// the session itself) and decodes its "value" into out, unless out is nil.
func (d *Driver) Call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	var r struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %.500s", method, path, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Value, out); err != nil {
		return fmt.Errorf("%s %s: decode %.200s: %w", method, path, r.Value, err)
	}
	return nil
}

// Navigate opens url and returns once the document is parsed (the page's
// scripts ran; images and streams may still load).
func (d *Driver) Navigate(t testing.TB, url string) {
	t.Helper()
	if err := d.Call(http.MethodPost, "/url", map[string]string{"url": url}, nil); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// Back goes back in the browser's history, as its Back button does.
func (d *Driver) Back(t testing.TB) {
	t.Helper()
	if err := d.Call(http.MethodPost, "/back", map[string]any{}, nil); err != nil {
		t.Fatalf("back: %v", err)
	}
}

// Execute runs script (the body of a function: it returns its result) in
// the page with args as its arguments, and decodes what it returns into
// out, unless out is nil.
func (d *Driver) Execute(t testing.TB, script string, out any, args ...any) {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	in := map[string]any{"script": script, "args": args}
	if err := d.Call(http.MethodPost, "/execute/sync", in, out); err != nil {
		t.Fatalf("execute script: %v", err)
	}
}

// ExecuteAsync runs script in the page with args as its arguments and a
// callback as the last one, and decodes what the script passes to the
// callback into out. It fails the test if the callback is not called within
// the command timeout (CommandTimeout).
func (d *Driver) ExecuteAsync(t testing.TB, script string, out any, args ...any) {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	in := map[string]any{"script": script, "args": args}
	// The script timeout of the session (30 s by default) is longer than
	// the command's: the command's ends the wait first, with a clear error.
	if err := d.Call(http.MethodPost, "/execute/async", in, out); err != nil {
		t.Fatalf("execute async script: %v", err)
	}
}

// Click clicks, as a mouse would, the centre of the first element that
// matches the CSS selector.
func (d *Driver) Click(t testing.TB, selector string) {
	t.Helper()
	var el map[string]string
	in := map[string]string{"using": "css selector", "value": selector}
	if err := d.Call(http.MethodPost, "/element", in, &el); err != nil {
		t.Fatalf("find %s: %v", selector, err)
	}
	// The W3C name of a web element reference.
	id := el["element-6066-11e4-a52e-4f735466cecf"]
	if id == "" {
		t.Fatalf("find %s: no element reference in %v", selector, el)
	}
	if err := d.Call(http.MethodPost, "/element/"+id+"/click", map[string]any{}, nil); err != nil {
		t.Fatalf("click %s: %v", selector, err)
	}
}

// Window returns the handle of the current window (tab).
func (d *Driver) Window(t testing.TB) string {
	t.Helper()
	var h string
	if err := d.Call(http.MethodGet, "/window", nil, &h); err != nil {
		t.Fatalf("window handle: %v", err)
	}
	return h
}

// NewTab opens a blank tab, switches to it (it comes to the front) and
// returns its handle.
func (d *Driver) NewTab(t testing.TB) string {
	t.Helper()
	var w struct {
		Handle string `json:"handle"`
	}
	if err := d.Call(http.MethodPost, "/window/new", map[string]string{"type": "tab"}, &w); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	d.SwitchTo(t, w.Handle)
	return w.Handle
}

// SwitchTo makes the window (tab) with handle h the current one.
func (d *Driver) SwitchTo(t testing.TB, h string) {
	t.Helper()
	if err := d.Call(http.MethodPost, "/window", map[string]string{"handle": h}, nil); err != nil {
		t.Fatalf("switch to window %s: %v", h, err)
	}
}

// CloseWindow closes the current window (tab); switch to another after.
func (d *Driver) CloseWindow(t testing.TB) {
	t.Helper()
	if err := d.Call(http.MethodDelete, "/window", nil, nil); err != nil {
		t.Fatalf("close window: %v", err)
	}
}

// SetWindowSize resizes the browser window to w x h CSS pixels.
func (d *Driver) SetWindowSize(t testing.TB, w, h int) {
	t.Helper()
	if err := d.Call(http.MethodPost, "/window/rect", map[string]int{"width": w, "height": h}, nil); err != nil {
		t.Fatalf("resize window to %dx%d: %v", w, h, err)
	}
}

// CDP sends a Chrome DevTools Protocol command to the page (chromedriver's
// goog/cdp/execute) and decodes its result into out, unless out is nil.
func (d *Driver) CDP(t testing.TB, cmd string, params map[string]any, out any) {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	if err := d.Call(http.MethodPost, "/goog/cdp/execute", map[string]any{"cmd": cmd, "params": params}, out); err != nil {
		t.Fatalf("CDP %s: %v", cmd, err)
	}
}

// Screenshot returns a PNG of the viewport.
func (d *Driver) Screenshot(t testing.TB) []byte {
	t.Helper()
	var b64 string
	if err := d.Call(http.MethodGet, "/screenshot", nil, &b64); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return b
}

// SaveScreenshot writes png as name in the directory named by the
// environment variable RTSP2MJPEG_SCREENSHOTS, for a person to look at; it
// does nothing when the variable is empty.
func SaveScreenshot(t testing.TB, name string, png []byte) {
	t.Helper()
	dir := os.Getenv("RTSP2MJPEG_SCREENSHOTS")
	if dir == "" {
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// DecodePNG decodes a screenshot, failing the test if it is not a PNG.
func DecodePNG(t testing.TB, b []byte) image.Image {
	t.Helper()
	if len(b) == 0 {
		t.Fatal("empty screenshot")
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	return img
}

// DifferingPixels counts the pixels of box that differ noticeably (more
// than 1/16 of the range summed over red, green and blue) between a and b.
func DifferingPixels(a, b image.Image, box image.Rectangle) int {
	box = box.Intersect(a.Bounds()).Intersect(b.Bounds())
	n := 0
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if absDiff(r1, r2)+absDiff(g1, g2)+absDiff(b1, b2) > 3*0x1000 {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// LockedBuffer is a bytes.Buffer safe for concurrent use.
type LockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ProfileDir is a Chromium profile directory removed after the test.
// Chromium's crash handler, which outlives the browser by a moment, may
// still write there, which would fail t.TempDir's cleanup: retry a while.
func ProfileDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rtsp2mjpeg-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for os.RemoveAll(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}
