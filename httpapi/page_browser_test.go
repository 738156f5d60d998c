package httpapi

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/httpapi/browsertest"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// TestPageInBrowser loads the page in headless Chromium (package
// browsertest) and checks what a person would see: three tiles, two live
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
	wd := browsertest.Start(t) // after the server: its cleanup, first, ends the streams
	t.Logf("%.1fs: browser started", time.Since(start).Seconds())

	wd.Navigate(t, srv.URL+"/")
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
		wd.Execute(t, tilesJS, &list)
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
				wd.Execute(t, "return document.URL + ' ' + document.readyState", &doc)
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
	wd.Execute(t, "return window.devicePixelRatio", &dpr)
	shot1 := wd.Screenshot(t)
	img1 := browsertest.DecodePNG(t, shot1)
	if img1.Bounds().Dx() < 640 {
		t.Fatalf("screenshot is %v", img1.Bounds())
	}
	var moved map[string]int
	for try := 0; try < 4 && len(moved) < 2; try++ {
		time.Sleep(600 * time.Millisecond)
		shot2 := wd.Screenshot(t)
		img2 := browsertest.DecodePNG(t, shot2)
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
			if n := browsertest.DifferingPixels(img1, img2, box); n >= 100 {
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
	wd.Execute(t, `document.querySelector('[data-cam="yard"] img').dispatchEvent(new Event('error')); return null`, nil)
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
	wd := browsertest.Start(t, "--blink-settings=scriptEnabled=false")
	t.Logf("%.1fs: browser started", time.Since(start).Seconds())
	wd.Navigate(t, srv.URL+"/")
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
		wd.Execute(t, js, &got)
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
