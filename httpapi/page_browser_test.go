package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/httpapi/browsertest"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// The browser tests load the page in headless Chromium (package
// browsertest) and check what a person would see, and what the page asks
// of the server.

// tileView is a tile as the page shows it.
type tileView struct {
	Name, State, FPS, Placeholder, Src string
	Down, PlaceholderShown             bool
	Width                              int     // natural width of the picture; 0: none
	X, Y, W, H                         float64 // the picture's box, CSS pixels
	Frames, Bytes                      int     // what the wall brought it (window.rtsp2mjpegWall)
}

const tilesJS = `var w = window.rtsp2mjpegWall || {cameras: {}};
return Array.from(document.querySelectorAll('.tile')).map(function (t) {
	var img = t.querySelector('.pic img'), ph = t.querySelector('.ph'), s = w.cameras[t.dataset.cam] || {};
	var r = img ? img.getBoundingClientRect() : {x: 0, y: 0, width: 0, height: 0};
	return {Name: t.dataset.cam, State: t.querySelector('.st').textContent,
		FPS: t.querySelector('.fps').textContent, Placeholder: ph.innerText, Src: img ? img.src : '',
		Down: t.classList.contains('down'), PlaceholderShown: getComputedStyle(ph).display !== 'none',
		Width: img && img.complete ? img.naturalWidth : 0, X: r.x, Y: r.y, W: r.width, H: r.height,
		Frames: s.frames || 0, Bytes: s.bytes || 0};
})`

// tiles returns the tiles of the page by camera name.
func tiles(t *testing.T, wd *browsertest.Driver) map[string]tileView {
	t.Helper()
	var list []tileView
	wd.Execute(t, tilesJS, &list)
	m := make(map[string]tileView, len(list))
	for _, v := range list {
		m[v.Name] = v
	}
	return m
}

// live reports whether a tile shows a camera's 320 px frames, no placeholder.
func live(v tileView) bool { return v.Width == 320 && !v.Down && !v.PlaceholderShown }

// waitUntil polls cond every 100 ms until it holds, and fails the test
// with cond's description of the last state after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		ok, state := cond()
		if ok {
			t.Logf("%.1fs: %s", time.Since(start).Seconds(), what)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; %s", timeout, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pageTimeout bounds each wait for the page: a loaded CI machine is slow.
const pageTimeout = 20 * time.Second

// TestPageInBrowser checks what a person sees of three cameras: three
// tiles, two live pictures that move, one "camera down" placeholder, the
// refresh from /api/cameras, a camera coming back, and the retry after the
// wall's connection fails.
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
	defer pub.stop()
	srv := newBrowserServer(t, Config{NoSignalEvery: 500 * time.Millisecond}, door, yard, attic)
	wd := browsertest.Start(t) // after the server: its cleanup, first, ends the streams
	t.Logf("%.1fs: browser started", time.Since(start).Seconds())
	wd.Navigate(t, srv.URL+"/")
	t.Logf("%.1fs: page loaded", time.Since(start).Seconds())

	// Until the page holds three tiles as expected, or fail with what it held.
	var m map[string]tileView
	waitPage := func(what string, ok func(map[string]tileView) bool) {
		t.Helper()
		waitUntil(t, pageTimeout, what, func() (bool, string) {
			m = tiles(t, wd)
			var ws wallState
			wd.Execute(t, wallStateJS, &ws)
			return len(m) == 3 && ok(m), fmt.Sprintf("tiles: %+v; wall: %+v; wall requests:%s", m, ws, srv.wallLog())
		})
	}

	// The status refresh: a changed fps shows without reloading the page.
	// attic's "no signal" pictures come through the wall too, under its
	// placeholder.
	door.update(func(st *pipeline.Status) { st.FPS = 9.5 })
	waitPage("two live pictures, one placeholder, fps refreshed", func(m map[string]tileView) bool {
		return live(m["door"]) && live(m["yard"]) && m["attic"].PlaceholderShown && m["door"].FPS == "9.5 fps" &&
			m["attic"].Width > 0
	})
	for _, s := range []string{"camera down", "backoff", "connection refused", "no frame yet"} {
		if !strings.Contains(m["attic"].Placeholder, s) {
			t.Errorf("attic placeholder %q does not say %q", m["attic"].Placeholder, s)
		}
	}
	if m["attic"].State != "backoff" || m["door"].State != "streaming" {
		t.Errorf("states: attic %q, door %q", m["attic"].State, m["door"].State)
	}
	t.Logf("attic's no-signal picture is %d px wide", m["attic"].Width)

	// Two moments: the live pictures move, so their pixels change.
	moved := movingTiles(t, wd, m, []string{"door", "yard"}, "page")
	if len(moved) < 2 {
		t.Errorf("pixels that differ between the screenshots per live tile: %v, want a moving picture in door and yard", moved)
	}

	// The camera comes back: the placeholder goes and its frames show.
	attic.setState(pipeline.StateStreaming)
	pub.add(attic)
	waitPage("attic back", func(m map[string]tileView) bool { return live(m["attic"]) })

	// The wall's connection ends and the server refuses new ones for a
	// while: every tile says so, the page retries, and recovers.
	srv.breakWall(true)
	waitPage("tiles say retrying", func(m map[string]tileView) bool {
		for _, v := range m {
			if !v.PlaceholderShown || !strings.Contains(v.Placeholder, "no picture, retrying") {
				return false
			}
		}
		return srv.refusedWalls() >= 2 // the page retried
	})
	frames := m["yard"].Frames
	srv.breakWall(false)
	waitPage("pictures back", func(m map[string]tileView) bool {
		return live(m["door"]) && live(m["yard"]) && live(m["attic"]) && m["yard"].Frames > frames
	})
	t.Logf("wall requests:%s", srv.wallLog())

	// The page's parser of the wall stream, given the chunks cut anywhere.
	var bad []string
	wd.Execute(t, parserJS, &bad)
	if len(bad) > 0 {
		t.Errorf("the page's multipart parser: %q", bad)
	}

	// With scripts on, the <noscript> streams open no connection.
	if n := srv.requestsLike("/cameras/"); n != 0 {
		t.Errorf("%d requests to /cameras/..., want none: the page streams through the wall", n)
	}
	if open, peak := srv.conns(); peak > 3 {
		t.Errorf("up to %d connections at once (%d open now), want at most 3", peak, open)
	}
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}

// parserJS feeds the page's multipart parser a stream cut in two at every
// place, and in pieces of 1, 7 and 500 bytes, and returns what went wrong.
// Header names come in any case and order; a body holds what looks like a
// header end and a boundary; an empty part is skipped.
const parserJS = `var parse = window.rtsp2mjpegWall.parser, fails = [];
function part(headers, body) { return headers.join('\r\n') + '\r\n\r\n' + body + '\r\n--frame\r\n'; }
var big = '\xff\xd8' + 'x'.repeat(3000) + '\xff\xd9', tricky = '\xff\xd8\r\n\r\n--frame\r\nX-Camera: no\r\n\r\n\xff\xd9';
var stream = '--frame\r\n' +
	part(['Content-Type: image/jpeg', 'Content-Length: ' + tricky.length, 'X-Camera: door', 'X-Profile: main', 'X-Timestamp: 1700000000.125'], tricky) +
	part(['x-camera:yard', 'CONTENT-LENGTH: 3', 'X-No-Signal: 1', 'content-type: image/jpeg'], 'two') +
	part(['Content-Length: 0', 'X-Camera: empty'], '') +
	part(['X-Camera: attic', 'Content-Length:  ' + big.length + ' '], big);
var bytes = Uint8Array.from(stream, function (ch) { return ch.charCodeAt(0); });
var want = 'door:' + tricky.length + ':main:|yard:3::1|attic:' + big.length + '::';
function run(cuts) {
	var got = [], push = parse(function (h, pieces, n) {
		var b = new Uint8Array(n), o = 0;
		pieces.forEach(function (p) { b.set(p, o); o += p.length; });
		var s = String.fromCharCode.apply(null, b);
		if (s !== {door: tricky, yard: 'two', attic: big}[h['x-camera']]) got.push('body of ' + h['x-camera']);
		got.push([h['x-camera'], n, h['x-profile'] || '', h['x-no-signal'] || ''].join(':'));
	});
	for (var i = 0, k = 0; k <= cuts.length; k++) {
		var j = k < cuts.length ? cuts[k] : bytes.length;
		push(bytes.slice(i, j));
		i = j;
	}
	if (got.join('|') !== want) fails.push('cut at ' + cuts.slice(0, 5) + (cuts.length > 5 ? '...' : '') + ': ' + got.join('|'));
}
for (var at = 0; at <= bytes.length; at++) run([at]);
[1, 7, 500].forEach(function (size) {
	var cuts = [];
	for (var at = size; at < bytes.length; at += size) cuts.push(at);
	run(cuts);
});
try { parse(function () {})(Uint8Array.from('--frame\r\nX-Camera: a\r\n\r\nabc', function (ch) { return ch.charCodeAt(0); })); fails.push('no Content-Length: no error'); } catch (e) {}
return fails.slice(0, 10);`

// TestPageWallInBrowser checks a wall of 16 cameras: every tile live over
// one connection, the other URLs answering meanwhile, the full view of one
// camera, fewer cameras asked for when fewer are on screen, and nothing
// streamed while the tab is hidden.
func TestPageWallInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	start := time.Now()
	var cams []*statusCamera
	var names []string
	for i := 1; i <= 16; i++ {
		c := newStatusCamera(fmt.Sprintf("cam%02d", i), pipeline.StateStreaming)
		c.update(func(st *pipeline.Status) { st.FPS = 10 })
		cams = append(cams, c)
		names = append(names, c.Name())
	}
	pub := startMovingPublisher(cams...)
	defer pub.stop()
	asCameras := make([]Camera, len(cams))
	for i, c := range cams {
		asCameras[i] = c
	}
	srv := newBrowserServer(t, Config{}, asCameras...)
	wd := browsertest.Start(t)
	wd.Navigate(t, srv.URL+"/")
	t.Logf("%.1fs: page loaded", time.Since(start).Seconds())

	var ws wallState
	wall := func() wallState {
		wd.Execute(t, wallStateJS, &ws)
		return ws
	}
	var m map[string]tileView
	waitUntil(t, pageTimeout, "16 live tiles, all on screen, one wall", func() (bool, string) {
		m = tiles(t, wd)
		n := 0
		for _, v := range m {
			if live(v) && v.Frames > 0 {
				n++
			}
		}
		ws = wall()
		return n == 16 && len(ws.List) == 16 && srv.inFlight("/wall/video") == 1,
			fmt.Sprintf("%d live tiles, wall %+v, %d walls under way", n, ws, srv.inFlight("/wall/video"))
	})
	var size [3]int
	wd.Execute(t, "return [innerWidth, innerHeight, document.documentElement.scrollHeight]", &size)
	if size[2] > size[1] {
		t.Errorf("a 1280x800 window (a %dx%d viewport) scrolls to show 16 tiles: the page is %d px high", size[0], size[1], size[2])
	}
	if moved := movingTiles(t, wd, m, names, "wall"); len(moved) < 16 {
		t.Errorf("pixels that differ between the screenshots per tile: %v, want a moving picture in all 16", moved)
	}

	// 10 s of the wall, while the page's other URLs answer: its own status
	// poll, status, metrics and a snapshot.
	cams[4].update(func(st *pipeline.Status) { st.FPS = 7.5 })
	before := tiles(t, wd)
	t0 := time.Now()
	var fetched struct {
		Results []string
		Error   string
	}
	wd.ExecuteAsync(t, `var done = arguments[arguments.length - 1], out = [];
		function get(url, what) {
			var t0 = performance.now();
			return fetch(url, {cache: 'no-store', signal: AbortSignal.timeout(5000)}).then(function (r) {
				return r.blob().then(function (b) {
					out.push(url + ': ' + r.status + ' ' + b.type + ' ' + b.size + ' bytes in ' + Math.round(performance.now() - t0) + ' ms');
				});
			});
		}
		// One after the other: the page's connections, not the test's, are counted.
		get('/api/cameras').then(function () { return get('/metrics'); })
			.then(function () { return get('/cameras/cam05/snapshot'); })
			.then(function () { done({Results: out}); }, function (e) { done({Results: out, Error: String(e)}); });`, &fetched)
	t.Logf("fetched while the wall is open: %q", fetched.Results)
	if fetched.Error != "" || len(fetched.Results) != 3 {
		t.Errorf("fetches while the wall is open: %q, error %s", fetched.Results, fetched.Error)
	}
	for _, r := range fetched.Results {
		if !strings.Contains(r, ": 200 ") {
			t.Errorf("fetch while the wall is open: %s", r)
		}
	}
	for time.Since(t0) < 10*time.Second { // a measure over a fixed time, not a wait for a condition
		time.Sleep(500 * time.Millisecond)
		if open, _ := srv.conns(); open > 3 {
			t.Errorf("%.1fs: %d connections open", time.Since(t0).Seconds(), open)
		}
	}
	after := tiles(t, wd)
	d := time.Since(t0).Seconds()
	if after["cam05"].FPS != "7.5 fps" {
		t.Errorf("cam05 shows %q after 10 s, want the status poll's 7.5 fps", after["cam05"].FPS)
	}
	var perTile []string
	for _, n := range names {
		frames, bytes := after[n].Frames-before[n].Frames, after[n].Bytes-before[n].Bytes
		perTile = append(perTile, fmt.Sprintf("%s %d frames %d KB", n, frames, bytes>>10))
		if frames < 10 {
			t.Errorf("%s: %d frames in %.1fs, want a live picture", n, frames, d)
		}
	}
	ws = wall()
	t.Logf("over %.1fs, per tile: %s; the page read %d bytes in all", d, strings.Join(perTile, ", "), ws.Bytes)
	if open, peak := srv.conns(); peak > 3 {
		t.Errorf("up to %d connections at once (%d open now), want at most 3", peak, open)
	}

	// A click opens the camera full size over its own stream, and pauses
	// the wall; Back returns to the wall and ends that stream.
	wd.Click(t, `.tile[data-cam="cam06"] .pic`)
	waitUntil(t, pageTimeout, "cam06 full size, wall paused", func() (bool, string) {
		ws = wall()
		return ws.Hash == "#camera=cam06" && ws.Full == "cam06" && ws.FullWidth == 320 && len(ws.List) == 0 &&
				srv.inFlight("/cameras/cam06/video") == 1 && srv.inFlight("/wall/video") == 0,
			fmt.Sprintf("page %+v, server: %d cam06 streams, %d walls", ws, srv.inFlight("/cameras/cam06/video"), srv.inFlight("/wall/video"))
	})
	browsertest.SaveScreenshot(t, "full.png", wd.Screenshot(t))
	wd.Back(t)
	backToWall := func(what string) {
		t.Helper()
		frames := tiles(t, wd)["cam06"].Frames
		waitUntil(t, pageTimeout, what, func() (bool, string) {
			ws = wall()
			return ws.Hash == "" && ws.Full == "" && len(ws.List) == 16 && tiles(t, wd)["cam06"].Frames > frames &&
					srv.inFlight("/cameras/cam06/video") == 0 && srv.inFlight("/wall/video") == 1,
				fmt.Sprintf("page %+v, server: %d cam06 streams, %d walls", ws, srv.inFlight("/cameras/cam06/video"), srv.inFlight("/wall/video"))
		})
	}
	backToWall("Back: the wall again, cam06's stream ended")
	// Escape closes it too, and so does it a full view opened by a link.
	wd.Click(t, `.tile[data-cam="cam06"] .pic`)
	waitUntil(t, pageTimeout, "cam06 full size again", func() (bool, string) {
		ws = wall()
		return ws.Full == "cam06" && srv.inFlight("/cameras/cam06/video") == 1, fmt.Sprintf("page %+v", ws)
	})
	wd.Execute(t, `document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})); return null`, nil)
	backToWall("Escape: the wall again")
	wd.Navigate(t, srv.URL+"/#camera=cam06")
	waitUntil(t, pageTimeout, "a link to #camera=cam06 opens it", func() (bool, string) {
		ws = wall()
		return ws.Full == "cam06" && ws.FullWidth == 320 && srv.inFlight("/wall/video") == 0, fmt.Sprintf("page %+v", ws)
	})
	wd.Execute(t, `document.querySelector('#full .close').click(); return null`, nil)
	backToWall("close: the wall again")
	if open, peak := srv.conns(); peak > 3 {
		t.Errorf("up to %d connections at once (%d open now), want at most 3", peak, open)
	}

	// Half the tiles out of view: the wall asks for those on screen only.
	onScreen := func() []string {
		var list []string
		wd.Execute(t, `return Array.from(document.querySelectorAll('.tile')).filter(function (t) {
			var r = t.querySelector('.pic').getBoundingClientRect();
			return r.bottom > 0 && r.top < window.innerHeight && r.right > 0 && r.left < window.innerWidth;
		}).map(function (t) { return t.dataset.cam; })`, &list)
		return list
	}
	wallOf := func(list []string) (bool, string) {
		ws = wall()
		return slices.Equal(ws.List, list) && srv.lastWall() == strings.Join(list, ",") && srv.inFlight("/wall/video") == 1,
			fmt.Sprintf("on screen %v, page %+v, last wall request %q, %d walls under way", list, ws, srv.lastWall(), srv.inFlight("/wall/video"))
	}
	wd.SetWindowSize(t, 1280, 420)
	var top []string
	waitUntil(t, pageTimeout, "a smaller window: fewer cameras", func() (bool, string) {
		top = onScreen()
		ok, state := wallOf(top)
		return ok && len(top) < 16, state
	})
	wd.Execute(t, `window.scrollTo(0, document.documentElement.scrollHeight); return null`, nil)
	waitUntil(t, pageTimeout, "scrolled to the bottom: the cameras there", func() (bool, string) {
		list := onScreen()
		ok, state := wallOf(list)
		return ok && slices.Contains(list, "cam16") && !slices.Contains(list, "cam01"), state
	})
	t.Logf("cameras on screen at the top: %v, at the bottom: %v", top, ws.List)
	wd.SetWindowSize(t, 1280, 800)
	waitUntil(t, pageTimeout, "the window back to 1280x800: 16 cameras", func() (bool, string) {
		ws = wall()
		return len(ws.List) == 16 && srv.inFlight("/wall/video") == 1, fmt.Sprintf("page %+v", ws)
	})

	// A hidden tab streams nothing: another tab comes to the front.
	page := wd.Window(t)
	wd.NewTab(t)
	waitUntil(t, pageTimeout, "the page's tab in the background: no wall", func() (bool, string) {
		return srv.inFlight("/wall/video") == 0, fmt.Sprintf("%d walls under way", srv.inFlight("/wall/video"))
	})
	wd.CloseWindow(t)
	wd.SwitchTo(t, page)
	waitUntil(t, pageTimeout, "the page's tab in front again: the wall", func() (bool, string) {
		ws = wall()
		return len(ws.List) == 16 && srv.inFlight("/wall/video") == 1, fmt.Sprintf("page %+v", ws)
	})
	open, peak := srv.conns()
	if peak > 3 {
		t.Errorf("up to %d connections at once (%d open now), want at most 3", peak, open)
	}
	t.Logf("connections: at most %d at once, %d open now; wall requests:%s", peak, open, srv.wallLog())
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}

// wallState is the page's wall as its script sees it.
type wallState struct {
	List      []string // cameras of the wall stream open; none: no stream
	Connects  int
	Bytes     int
	Hash      string
	Full      string // camera shown full size
	FullWidth int    // natural width of its picture
	Hidden    bool   // document.hidden
	Error     string // why the last wall stream failed
}

const wallStateJS = `var w = window.rtsp2mjpegWall, f = document.getElementById('full'), img = f.querySelector('img');
return {List: w.list, Connects: w.connects, Bytes: w.bytes, Error: w.error, Hash: location.hash, Hidden: document.hidden,
	Full: f.hidden ? '' : f.querySelector('.name').textContent, FullWidth: img.complete ? img.naturalWidth : 0};`

// movingTiles takes screenshots of the page at two moments and returns,
// for each of the named tiles whose picture changed, how many pixels did.
// The frames repeat every 2 s: should the second screenshot fall on the
// same frame as the first, another is taken. The screenshots are saved as
// name1.png and name2.png (browsertest.SaveScreenshot).
func movingTiles(t *testing.T, wd *browsertest.Driver, m map[string]tileView, names []string, name string) map[string]int {
	t.Helper()
	var dpr float64
	wd.Execute(t, "return window.devicePixelRatio", &dpr)
	shot1 := wd.Screenshot(t)
	img1 := browsertest.DecodePNG(t, shot1)
	if img1.Bounds().Dx() < 640 {
		t.Fatalf("screenshot is %v", img1.Bounds())
	}
	var moved map[string]int
	for try := 0; try < 4 && len(moved) < len(names); try++ {
		time.Sleep(600 * time.Millisecond) // the frames change every 100 ms
		shot2 := wd.Screenshot(t)
		img2 := browsertest.DecodePNG(t, shot2)
		if img2.Bounds() != img1.Bounds() {
			t.Fatalf("screenshots are %v and %v", img1.Bounds(), img2.Bounds())
		}
		browsertest.SaveScreenshot(t, name+"1.png", shot1)
		browsertest.SaveScreenshot(t, name+"2.png", shot2)
		moved = map[string]int{}
		for _, name := range names {
			v := m[name]
			box := image.Rect(int(v.X*dpr), int(v.Y*dpr), int((v.X+v.W)*dpr), int((v.Y+v.H)*dpr))
			if n := browsertest.DifferingPixels(img1, img2, box); n >= 100 {
				moved[name] = n
			}
		}
	}
	return moved
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
	srv := newBrowserServer(t, Config{NoSignalEvery: 500 * time.Millisecond}, door, attic)
	start := time.Now()
	wd := browsertest.Start(t, "--blink-settings=scriptEnabled=false")
	t.Logf("%.1fs: browser started", time.Since(start).Seconds())
	wd.Navigate(t, srv.URL+"/")
	t.Logf("%.1fs: page loaded", time.Since(start).Seconds())

	const js = `return Array.from(document.querySelectorAll('.tile')).map(function (t) {
		var img = t.querySelector('img');
		return [t.dataset.cam, img && img.complete ? img.naturalWidth : 0, getComputedStyle(t.querySelector('.ph')).display];
	}).join(' ') + ' |' + document.getElementById('msg').textContent`
	// door: the camera's 320 px frames; attic: the 640 px "no signal" ones.
	const want = "door,320,none attic,640,none |"
	var got string
	waitUntil(t, pageTimeout, "pictures shown", func() (bool, string) {
		wd.Execute(t, js, &got)
		return got == want, fmt.Sprintf("page without JavaScript: %q, want %q", got, want)
	})
	if n := srv.requestsLike("/wall/"); n != 0 {
		t.Errorf("%d wall requests with scripts off", n)
	}
}

// browserServer is an httptest server of a router that watches what the
// browser does: the connections open, the requests made and under way;
// and can break the wall stream.
type browserServer struct {
	*httptest.Server
	ln *countingListener

	mu       sync.Mutex // guards the fields below
	seen     map[string]int
	inflight map[string]int // requests under way, by path
	walls    []wallRequest
	broken   bool                       // refuse the wall with 503
	cancels  map[int]context.CancelFunc // end the walls under way, by their index in walls
}

// wallRequest is one request of /wall/video.
type wallRequest struct {
	at      time.Time
	cameras string
	refused bool
}

func newBrowserServer(t *testing.T, cfg Config, cams ...Camera) *browserServer {
	t.Helper()
	s := &browserServer{seen: map[string]int{}, inflight: map[string]int{}, cancels: map[int]context.CancelFunc{}}
	router := NewRouter(cfg, cams, quietLog())
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(router, w, r)
	}))
	s.ln = &countingListener{Listener: s.Server.Listener}
	s.Server.Listener = s.ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *browserServer) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	s.mu.Lock()
	s.seen[p]++
	s.inflight[p]++
	i := -1
	refuse := false
	if p == "/wall/video" {
		i = len(s.walls)
		refuse = s.broken
		s.walls = append(s.walls, wallRequest{at: time.Now(), cameras: r.URL.Query().Get("cameras"), refused: refuse})
		if !refuse {
			ctx, cancel := context.WithCancel(r.Context())
			s.cancels[i] = cancel
			r = r.WithContext(ctx)
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.inflight[p]--
		if cancel := s.cancels[i]; cancel != nil {
			cancel()
			delete(s.cancels, i)
		}
	}()
	if refuse {
		http.Error(w, "broken by the test", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// breakWall ends the walls under way and refuses new ones, or lets them be.
func (s *browserServer) breakWall(broken bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken = broken
	if broken {
		for _, cancel := range s.cancels {
			cancel()
		}
	}
}

func (s *browserServer) inFlight(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight[path]
}

// requestsLike counts the requests made of paths that start with prefix.
func (s *browserServer) requestsLike(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, k := range s.seen {
		if strings.HasPrefix(p, prefix) {
			n += k
		}
	}
	return n
}

func (s *browserServer) refusedWalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, w := range s.walls {
		if w.refused {
			n++
		}
	}
	return n
}

// lastWall returns the cameras of the last wall request.
func (s *browserServer) lastWall() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.walls) == 0 {
		return ""
	}
	return s.walls[len(s.walls)-1].cameras
}

// wallLog describes the wall requests: when, how many cameras, refused.
func (s *browserServer) wallLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for i, w := range s.walls {
		if i > 0 {
			fmt.Fprintf(&b, " +%.1fs", w.at.Sub(s.walls[i-1].at).Seconds())
		}
		fmt.Fprintf(&b, " %d cameras", strings.Count(w.cameras, ",")+1)
		if w.refused {
			b.WriteString(" (refused)")
		}
	}
	return b.String()
}

// conns returns the connections open now and the most open at once.
func (s *browserServer) conns() (open, peak int) {
	s.ln.mu.Lock()
	defer s.ln.mu.Unlock()
	return s.ln.open, s.ln.peak
}

// countingListener counts the connections it accepted that are not closed
// yet, streams (which the handlers take over) included, which
// http.Server's ConnState no longer follows once hijacked.
type countingListener struct {
	net.Listener
	mu   sync.Mutex // guards open and peak
	open int
	peak int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.peak = max(l.peak, l.open)
	l.mu.Unlock()
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
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
				c.Publish(frames[k%3][(i+k)%20], time.Now())
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

// TestPageBigTilesShowMainStream: with one camera on a large window, its
// tile is far wider than a thumb, so the page streams the main stream (a
// 320 px thumb blown up to 1264 px is a blur); in a small window, the
// thumb.
func TestPageBigTilesShowMainStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	door := newStatusCamera("door", pipeline.StateStreaming)
	thumb := door.addProfile(pipeline.ThumbProfile)
	frame := movingBar(0, 0)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // both feeds publish, 10 fps, until the test ends
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			door.Publish(frame, time.Now())
			thumb.Publish(frame, time.Now())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); <-done }()
	srv := newServer(t, Config{}, door)
	wd := browsertest.Start(t)
	wd.Navigate(t, srv.URL+"/")
	profile := func(want string, holding func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		var got string
		for {
			wd.Execute(t, `var w = window.rtsp2mjpegWall; return w && w.list.length ? w.profile : "";`, &got)
			if got == want && holding() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("wall profile %q, want %q (main holders %d, thumb holders %d)", got, want, door.holding(), thumb.holding())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	profile("main", func() bool { return door.holding() == 1 && thumb.holding() == 0 })
	wd.SetWindowSize(t, 500, 700) // a phone: the tile is a few hundred pixels wide
	profile("thumb", func() bool { return door.holding() == 0 && thumb.holding() == 1 })
}
