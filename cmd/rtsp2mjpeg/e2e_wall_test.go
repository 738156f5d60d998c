package main

import (
	"bufio"
	"fmt"
	"image"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/httpapi/browsertest"
)

// establishedTo counts the TCP connections established to port on this
// machine (IPv4 and IPv6), from /proc/net/tcp*.
func establishedTo(t *testing.T, port int) int {
	t.Helper()
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "01" { // 01: ESTABLISHED
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":") // local address
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				n++
			}
		}
	}
	return n
}

// TestWallInBrowser opens the page of a daemon with 16 cameras (32 with
// RTSP2MJPEG_LONG_TESTS=1), all reading one synthetic camera through real
// ffmpeg, in headless Chromium: every tile shows a moving picture over a
// bounded number of connections, and the rest of the server answers the
// same browser while the wall is open.
func TestWallInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser and 16 cameras")
	}
	n := 16
	if longTests() {
		n = 32
	}
	cam := startCamera(t, synthcam.Config{Width: 640, Height: 360, FPS: 10, Log: camLog(t)})
	var y strings.Builder
	y.WriteString("cameras:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - name: cam%02d\n    url: %s\n", i+1, cam.URL())
	}
	d := startDaemon(t, "--config", writeConfig(t, "", y.String()))
	eventually(t, 60*time.Second, "every camera streaming with its thumb", func() bool {
		resp, b := d.get(t, "/api/cameras")
		return resp.StatusCode == 200 && strings.Count(string(b), `"state":"streaming"`) == 2*n // camera and thumb
	})
	http.DefaultClient.CloseIdleConnections() // only the browser's connections from now on
	port, _ := strconv.Atoi(d.base[strings.LastIndexByte(d.base, ':')+1:])

	wd := browsertest.Start(t, "--window-size=1600,1200")
	start := time.Now()
	wd.Navigate(t, d.base+"/")

	// Every tile shows a 320 px thumb: the wall's pictures.
	const tilesJS = `return Array.from(document.querySelectorAll('.tile')).map(function (t) {
		var img = t.querySelector('img'), r = img.getBoundingClientRect();
		return {name: t.dataset.cam, width: img.complete ? img.naturalWidth : 0, x: r.x, y: r.y, w: r.width, h: r.height};
	})`
	type tileView struct {
		Name       string
		Width      int
		X, Y, W, H float64
	}
	var tiles []tileView
	deadline := time.Now().Add(60 * time.Second)
	for {
		wd.Execute(t, tilesJS, &tiles)
		shown := 0
		for _, v := range tiles {
			if v.Width == 320 {
				shown++
			}
		}
		if len(tiles) == n && shown == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tiles with a thumb: %d of %d (%+v)", shown, n, tiles)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%.1fs: %d tiles show their thumb", time.Since(start).Seconds(), n)

	// Two moments: every picture moves.
	if n == 16 { // 32 tiles do not all fit on the screen: the others were checked above
		shot1 := browsertest.DecodePNG(t, wd.Screenshot(t))
		moved := map[string]bool{}
		for try := 0; try < 5 && len(moved) < n; try++ {
			time.Sleep(700 * time.Millisecond) // let the pictures move between the two screenshots
			png2 := wd.Screenshot(t)
			shot2 := browsertest.DecodePNG(t, png2)
			browsertest.SaveScreenshot(t, "wall.png", png2)
			for _, v := range tiles {
				box := image.Rect(int(v.X), int(v.Y), int(v.X+v.W), int(v.Y+v.H))
				if browsertest.DifferingPixels(shot1, shot2, box) >= 100 {
					moved[v.Name] = true
				}
			}
		}
		if len(moved) < n {
			t.Errorf("%d of %d tiles moved between two screenshots: %v", len(moved), n, moved)
		}
	}

	// The rest of the server answers the same browser while the wall is open.
	var answers map[string]any
	wd.ExecuteAsync(t, `var done = arguments[arguments.length - 1];
		function get(u) {
			var t0 = performance.now();
			return fetch(u, {cache: 'no-store'}).then(function (r) { return r.arrayBuffer().then(function (b) {
				return r.status + ' ' + b.byteLength + 'B ' + Math.round(performance.now() - t0) + 'ms'; }); });
		}
		function stream(u) { // the first bytes of a full stream, then let it go
			var t0 = performance.now(), ac = new AbortController();
			return fetch(u, {signal: ac.signal}).then(function (r) { return r.body.getReader().read().then(function (c) {
				ac.abort(); return r.status + ' ' + c.value.length + 'B ' + Math.round(performance.now() - t0) + 'ms'; }); });
		}
		Promise.all([get('/api/cameras'), get('/metrics'), get('/cameras/cam01/snapshot'), stream('/cameras/cam02/video')])
			.then(function (a) { done({status: a[0], metrics: a[1], snapshot: a[2], stream: a[3]}); },
				function (e) { done({error: String(e)}); });`, &answers)
	t.Logf("while the wall is open: %v", answers)
	for _, k := range []string{"status", "metrics", "snapshot", "stream"} {
		if s, _ := answers[k].(string); !strings.HasPrefix(s, "200 ") {
			t.Errorf("%s while the wall is open: %v", k, answers)
		}
	}

	// Bounded connections: the wall, the status poll, and what the page
	// fetched just now (closed or idle).
	if c := establishedTo(t, port); c > 2*4 { // both ends are counted: 4 connections
		t.Errorf("%d established TCP ends to the daemon's port, want at most 8 (4 connections)", c)
	} else {
		t.Logf("%d connections from the browser to the daemon", c/2)
	}

	// What the browser received over 10 s, per tile.
	const statsJS = `var w = window.rtsp2mjpegWall || {cameras: {}}; var out = {};
		Object.keys(w.cameras).forEach(function (k) { out[k] = w.cameras[k].bytes; }); return out;`
	var before, after map[string]float64
	wd.Execute(t, statsJS, &before)
	t0 := time.Now()
	time.Sleep(10 * time.Second) // the measurement window itself
	wd.Execute(t, statsJS, &after)
	secs := time.Since(t0).Seconds()
	var sum float64
	var per []string
	for name, b := range after {
		rate := (b - before[name]) * 8 / secs / 1e6
		sum += rate
		per = append(per, fmt.Sprintf("%s %.2f", name, rate))
	}
	if len(after) != n {
		t.Errorf("the wall counted %d cameras, want %d", len(after), n)
	}
	mean := sum / float64(max(len(after), 1))
	t.Logf("bytes received over %.1fs per tile, Mbit/s: mean %.3f; %s", secs, mean, strings.Join(per, ", "))
	if mean > 1 {
		t.Errorf("the wall costs %.2f Mbit/s per tile on average, want at most 1", mean)
	}
	d.stop(t)
}
