package main

import (
	"context"
	"fmt"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// wallCameras is how many cameras the wall phase shows: all read the same
// 720p testcam, each transcoded by its own ffmpeg with its thumb output.
const wallCameras = 4

// wallRes is what the page's wall of tiles costs the network, per tile,
// next to one camera's main stream measured in the same window.
type wallRes struct {
	cameras   int
	window    time.Duration
	tiles     []tileRate // per camera of the wall, by name
	mainBytes int64      // bytes of one main-stream viewer of the first camera
	mainParts int
	err       error
}

type tileRate struct {
	name  string
	bytes int64
	parts int
}

// wall runs the daemon with wallCameras cameras on url and reads, in one
// window, /wall/video (every camera's thumb over one connection, as the
// page does) and one camera's main stream.
func (b *bench) wall(url string) {
	r := &wallRes{cameras: wallCameras, window: b.o.window}
	b.res.wall = r
	var y strings.Builder
	y.WriteString("# written by scripts/benchtool\ncameras:\n")
	for i := range wallCameras {
		fmt.Fprintf(&y, "  - name: cam%d\n    url: %q\n", i+1, url)
	}
	cfgPath := filepath.Join(b.o.workdir, "wall.yml")
	if r.err = os.WriteFile(cfgPath, []byte(y.String()), 0o644); r.err != nil {
		return
	}
	b.logf("wall: %d cameras, /wall/video and one main stream for %v", wallCameras, b.o.window)
	d, err := b.startDaemon("daemon-wall", "--config", cfgPath)
	if err != nil {
		r.err = err
		return
	}
	defer d.stop()
	if _, r.err = b.waitHealthz(d, 20*time.Second); r.err != nil {
		return
	}
	for i := range wallCameras {
		if _, r.err = b.waitStatus(d, fmt.Sprintf("cam%d", i+1), 20*time.Second, func(s camStatus) bool { return s.Frames > 0 }); r.err != nil {
			return
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.o.window+10*time.Second)
	defer cancel()
	type count struct {
		per   map[string]*tileRate
		bytes int64
		parts int
		err   error
	}
	read := func(path string, done chan<- count) {
		c := count{per: map[string]*tileRate{}}
		var start time.Time
		c.err = readParts(ctx, "http://"+d.addr+path, b.o.window, func(h textproto.MIMEHeader, body []byte, at time.Time) {
			if start.IsZero() { // the newest frames held come at once: not counted
				start = at
			}
			if at.Sub(start) < 500*time.Millisecond || h.Get("X-No-Signal") == "1" {
				return
			}
			name := h.Get("X-Camera")
			t := c.per[name]
			if t == nil {
				t = &tileRate{name: name}
				c.per[name] = t
			}
			t.bytes += int64(len(body))
			t.parts++
			c.bytes += int64(len(body))
			c.parts++
		})
		done <- c
	}
	wallDone, mainDone := make(chan count, 1), make(chan count, 1)
	go read("/wall/video", wallDone)
	go read("/cameras/cam1/video", mainDone)
	w, m := <-wallDone, <-mainDone
	for _, c := range []count{w, m} {
		if c.err != nil && r.err == nil {
			r.err = c.err
		}
	}
	for _, t := range w.per {
		r.tiles = append(r.tiles, *t)
	}
	sort.Slice(r.tiles, func(i, j int) bool { return r.tiles[i].name < r.tiles[j].name })
	r.mainBytes, r.mainParts = m.bytes, m.parts
	b.logf("wall: %d tiles, %d bytes; main stream %d bytes", len(r.tiles), w.bytes, m.bytes)
}

// reportWall prints the wall's cost per tile.
func (b *bench) reportWall(p func(string, ...any)) {
	r := b.res.wall
	if r == nil {
		return
	}
	p("### The page's wall: network per tile (`/wall/video`, default profile thumb)")
	p("")
	if r.err != nil {
		p("error: %v", r.err)
		p("")
		return
	}
	secs := (r.window - 500*time.Millisecond).Seconds()
	p("| stream | frames/s | KB/s | Mbit/s |")
	p("|---|---|---|---|")
	var sum int64
	for _, t := range r.tiles {
		sum += t.bytes
		p("| wall tile %s (thumb) | %.1f | %.1f | %.2f |", t.name, float64(t.parts)/secs, float64(t.bytes)/secs/1024, float64(t.bytes)*8/secs/1e6)
	}
	if n := len(r.tiles); n > 0 {
		p("| **wall, mean per tile** | | %.1f | **%.2f** |", float64(sum)/float64(n)/secs/1024, float64(sum)/float64(n)*8/secs/1e6)
	}
	p("| cam1 main stream (`/cameras/cam1/video`), same window | %.1f | %.1f | %.2f |", float64(r.mainParts)/secs, float64(r.mainBytes)/secs/1024, float64(r.mainBytes)*8/secs/1e6)
	p("")
	p("%d cameras read the same %dp%d testcam; one connection carries every tile. Target: at most 1 Mbit/s per tile on average.", r.cameras, b.o.height, b.o.fps)
	p("")
}
