package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// TestPageInBrowser loads the page in headless Chromium, driven over the
// W3C WebDriver protocol by chromedriver (plain JSON over HTTP, no client
// library), and checks what a person would see: three tiles, two live
// pictures that move, one "camera down" placeholder, the refresh from
// /api/cameras, a camera coming back, and the retry after an image error.
func TestPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	start := time.Now()
	door := newStatusCamera("door", pipeline.StateStreaming)
	yard := newStatusCamera("yard", pipeline.StateStreaming)
	attic := newStatusCamera("attic", pipeline.StateBackoff)
	for _, c := range []*statusCamera{door, yard} {
		c.update(func(st *pipeline.Status) { st.FPS = 10 })
	}
	attic.update(func(st *pipeline.Status) {
		st.Restarts = 4
		st.LastError = "dial tcp 192.0.2.7:554: connect: connection refused"
	})
	pub := startMovingPublisher(door, yard)
	t.Logf("%.1fs: frames made", time.Since(start).Seconds())
	defer pub.stop()
	srv := newServer(t, Config{}, door, yard, attic)
	wd := startBrowser(t) // after the server: its cleanup, first, ends the streams
	t.Logf("%.1fs: browser started", time.Since(start).Seconds())

	wd.navigate(t, srv.URL+"/")
	t.Logf("%.1fs: page loaded", time.Since(start).Seconds())
	// A tile as the page's script sees it.
	type tileView struct {
		Name, State, FPS, Placeholder, Src string
		Down, PlaceholderShown             bool
		Width                              int     // natural width of the picture; 0: none
		X, Y, W, H                         float64 // the picture's box, CSS pixels
	}
	const tilesJS = `return Array.from(document.querySelectorAll('.tile')).map(function (t) {
		var img = t.querySelector('img'), ph = t.querySelector('.ph'), r = img.getBoundingClientRect();
		return {Name: t.dataset.cam, State: t.querySelector('.st').textContent,
			FPS: t.querySelector('.fps').textContent, Placeholder: ph.innerText, Src: img.src,
			Down: t.classList.contains('down'), PlaceholderShown: getComputedStyle(ph).display !== 'none',
			Width: img.complete ? img.naturalWidth : 0, X: r.x, Y: r.y, W: r.width, H: r.height};
	})`
	tiles := func() map[string]tileView {
		var list []tileView
		wd.execute(t, tilesJS, &list)
		m := make(map[string]tileView, len(list))
		for _, v := range list {
			m[v.Name] = v
		}
		return m
	}
	// Until the page holds three tiles as expected, or fail with what it held.
	waitPage := func(what string, ok func(map[string]tileView) bool) map[string]tileView {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second) // a loaded CI machine is slow
		for {
			m := tiles()
			if len(m) == 3 && ok(m) {
				t.Logf("%.1fs: %s", time.Since(start).Seconds(), what)
				return m
			}
			if time.Now().After(deadline) {
				var doc string
				wd.execute(t, "return document.URL + ' ' + document.readyState", &doc)
				t.Fatalf("page %s: timed out waiting for %s; tiles: %+v", doc, what, m)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	live := func(v tileView) bool { return v.Width == 320 && !v.Down && !v.PlaceholderShown }

	// The status refresh: a changed fps shows without reloading the page.
	door.update(func(st *pipeline.Status) { st.FPS = 9.5 })
	m := waitPage("two live pictures, one placeholder, fps refreshed", func(m map[string]tileView) bool {
		return live(m["door"]) && live(m["yard"]) && m["attic"].PlaceholderShown && m["door"].FPS == "9.5 fps"
	})
	for _, s := range []string{"camera down", "backoff", "connection refused", "no frame yet"} {
		if !strings.Contains(m["attic"].Placeholder, s) {
			t.Errorf("attic placeholder %q does not say %q", m["attic"].Placeholder, s)
		}
	}
	if m["attic"].State != "backoff" || m["door"].State != "streaming" {
		t.Errorf("states: attic %q, door %q", m["attic"].State, m["door"].State)
	}

	// Two moments: the live pictures move, so their pixels change. The
	// frames repeat every 2 s: should the second screenshot fall on the
	// same frame as the first, another is taken.
	var dpr float64
	wd.execute(t, "return window.devicePixelRatio", &dpr)
	shot1 := wd.screenshot(t)
	img1 := decodePNG(t, shot1)
	if img1.Bounds().Dx() < 640 {
		t.Fatalf("screenshot is %v", img1.Bounds())
	}
	var moved map[string]int
	for try := 0; try < 4 && len(moved) < 2; try++ {
		time.Sleep(600 * time.Millisecond)
		shot2 := wd.screenshot(t)
		img2 := decodePNG(t, shot2)
		if img2.Bounds() != img1.Bounds() {
			t.Fatalf("screenshots are %v and %v", img1.Bounds(), img2.Bounds())
		}
		if dir := os.Getenv("RTSP2MJPEG_SCREENSHOTS"); dir != "" { // to look at them
			_ = os.WriteFile(filepath.Join(dir, "page1.png"), shot1, 0o644)
			_ = os.WriteFile(filepath.Join(dir, "page2.png"), shot2, 0o644)
		}
		moved = map[string]int{}
		for _, name := range []string{"door", "yard"} {
			v := m[name]
			box := image.Rect(int(v.X*dpr), int(v.Y*dpr), int((v.X+v.W)*dpr), int((v.Y+v.H)*dpr))
			if n := differingPixels(img1, img2, box); n >= 100 {
				moved[name] = n
			}
		}
	}
	if len(moved) < 2 {
		t.Errorf("pixels that differ between the screenshots per live tile: %v, want a moving picture in door and yard", moved)
	}

	// The camera comes back: the placeholder goes and the picture is
	// reloaded.
	attic.setState(pipeline.StateStreaming)
	pub.add(attic)
	waitPage("attic back", func(m map[string]tileView) bool {
		return live(m["attic"]) && strings.Contains(m["attic"].Src, "r=")
	})

	// An image error (the connection failed): the placeholder says so, and
	// the picture is retried until it loads.
	wd.execute(t, `document.querySelector('[data-cam="yard"] img').dispatchEvent(new Event('error')); return null`, nil)
	m = tiles()
	if !m["yard"].PlaceholderShown || !strings.Contains(m["yard"].Placeholder, "retrying") {
		t.Errorf("after an image error, yard: %+v", m["yard"])
	}
	waitPage("yard retried", func(m map[string]tileView) bool {
		return live(m["yard"]) && strings.Contains(m["yard"].Src, "r=")
	})
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}

// TestPageInBrowserWithoutJavaScript checks the page with scripts off:
// live pictures, no placeholder (it could not be refreshed), and a camera
// that is down shows the stream's own "no signal" picture.
func TestPageInBrowserWithoutJavaScript(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	door := newStatusCamera("door", pipeline.StateStreaming)
	attic := newStatusCamera("attic", pipeline.StateBackoff)
	pub := startMovingPublisher(door)
	defer pub.stop()
	srv := newServer(t, Config{NoSignalEvery: 500 * time.Millisecond}, door, attic)
	start := time.Now()
	wd := startBrowser(t, "--blink-settings=scriptEnabled=false")
	t.Logf("%.1fs: browser started", time.Since(start).Seconds())
	wd.navigate(t, srv.URL+"/")
	t.Logf("%.1fs: page loaded", time.Since(start).Seconds())

	const js = `return Array.from(document.querySelectorAll('.tile')).map(function (t) {
		var img = t.querySelector('img');
		return [t.dataset.cam, img.complete ? img.naturalWidth : 0, getComputedStyle(t.querySelector('.ph')).display];
	}).join(' ') + ' |' + document.getElementById('msg').textContent`
	// door: the camera's 320 px frames; attic: the 640 px "no signal" ones.
	const want = "door,320,none attic,640,none |"
	var got string
	deadline := time.Now().Add(20 * time.Second)
	for got != want {
		if time.Now().After(deadline) {
			t.Fatalf("page without JavaScript: %q, want %q", got, want)
		}
		time.Sleep(100 * time.Millisecond)
		wd.execute(t, js, &got)
	}
	t.Logf("%.1fs: pictures shown", time.Since(start).Seconds())
}

// movingPublisher publishes, at about 10 fps, a bar moving over a
// background of each camera's own colour.
type movingPublisher struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // guards cams
	cams   []*statusCamera
}

func startMovingPublisher(cams ...*statusCamera) *movingPublisher {
	// Made once: encoding JPEGs in the loop is slow under -race.
	var frames [3][20][]byte
	for k := range frames {
		for i := range frames[k] {
			frames[k][i] = movingBar(i, k)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &movingPublisher{cancel: cancel, done: make(chan struct{}), cams: cams}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			p.mu.Lock()
			cams := p.cams
			p.mu.Unlock()
			for k, c := range cams {
				c.Publish(frames[k%3][i%20], time.Now())
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// add publishes c's frames too from now on.
func (p *movingPublisher) add(c *statusCamera) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cams = append(p.cams[:len(p.cams):len(p.cams)], c)
}

func (p *movingPublisher) stop() {
	p.cancel()
	<-p.done
}

// movingBar is frame i of camera k: 320x180, a white bar 16 px wide at a
// place that changes every frame.
func movingBar(i, k int) []byte {
	const w, h = 320, 180
	bg := []color.RGBA{{20, 60, 160, 255}, {20, 130, 60, 255}, {140, 70, 20, 255}}[k%3]
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	x0 := i * 16 % w
	draw.Draw(img, image.Rect(x0, 0, x0+16, h), image.NewUniform(color.RGBA{240, 240, 240, 255}), image.Point{}, draw.Src)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func decodePNG(t *testing.T, b []byte) image.Image {
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

// differingPixels counts the pixels of box that differ between a and b.
func differingPixels(a, b image.Image, box image.Rectangle) int {
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

// webDriver is a WebDriver session with chromedriver.
type webDriver struct {
	base    string // http://127.0.0.1:port/session/id
	client  *http.Client
	timeout time.Duration // per command
}

// browserTimeout bounds the whole life of chromedriver and Chromium.
const browserTimeout = 2 * time.Minute

// startBrowser starts chromedriver and a headless Chromium session, both
// ended (the session closed, then the process group killed) when the test
// ends. It skips the test when Chromium or chromedriver is missing, unless
// CI is set.
func startBrowser(t *testing.T, args ...string) *webDriver {
	t.Helper()
	chromium, err1 := exec.LookPath("chromium")
	driver, err2 := exec.LookPath("chromedriver")
	if err := errors.Join(err1, err2); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the browser test needs chromium and chromedriver (apt-get install chromium chromium-driver): %v", err)
		}
		t.Skipf("no browser (apt-get install chromium chromium-driver): %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	cmd := exec.CommandContext(ctx, driver, "--port=0", "--log-level=WARNING")
	// Its own process group, with Chromium in it: killing the group ends
	// every process this test started, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var logs lockedBuffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
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
				portc <- m[1]
			}
		}
		_ = cmd.Wait()
	}()
	wd := &webDriver{client: &http.Client{Transport: &http.Transport{}}, timeout: 20 * time.Second}
	t.Cleanup(func() {
		start := time.Now()
		defer func() { t.Logf("browser closed in %.1fs", time.Since(start).Seconds()) }()
		if wd.base != "" {
			_ = wd.call(http.MethodDelete, "", nil, nil) // quits Chromium
		}
		wd.client.CloseIdleConnections()
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
				"--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + profileDir(t),
				"--window-size=1280,800", "--force-device-scale-factor=1"}, args...),
		},
	}}}
	var session struct {
		SessionID string `json:"sessionId"`
	}
	wd.base = "http://127.0.0.1:" + port + "/session"
	wd.timeout = time.Minute // Chromium's start
	err = wd.call(http.MethodPost, "", caps, &session)
	wd.timeout = 20 * time.Second
	if err != nil {
		wd.base = ""
		t.Fatalf("new WebDriver session: %v", err)
	}
	wd.base += "/" + session.SessionID
	return wd
}

// call sends one WebDriver command and decodes its "value" into out.
func (d *webDriver) call(method, path string, in, out any) error {
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

func (d *webDriver) navigate(t *testing.T, url string) {
	t.Helper()
	if err := d.call(http.MethodPost, "/url", map[string]string{"url": url}, nil); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// execute runs script in the page and decodes what it returns into out.
func (d *webDriver) execute(t *testing.T, script string, out any) {
	t.Helper()
	in := map[string]any{"script": script, "args": []any{}}
	if err := d.call(http.MethodPost, "/execute/sync", in, out); err != nil {
		t.Fatalf("execute script: %v", err)
	}
}

// screenshot returns a PNG of the viewport.
func (d *webDriver) screenshot(t *testing.T) []byte {
	t.Helper()
	var b64 string
	if err := d.call(http.MethodGet, "/screenshot", nil, &b64); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return b
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// profileDir is a Chromium profile directory removed after the test.
// Chromium's crash handler, which outlives the browser by a moment, may
// still write there, which would fail t.TempDir's cleanup: retry a while.
func profileDir(t *testing.T) string {
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
