package httpapi

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"strings"
	"sync"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// Size of the "no signal" image: 16:9, small enough to encode in a few ms.
const (
	noSignalWidth  = 640
	noSignalHeight = 360
)

// noSignal renders and caches the "no signal" placeholder of one camera,
// so that its viewers share one image per period instead of encoding a
// JPEG each.
type noSignal struct {
	name  string
	every time.Duration // a cached image is reused for this long

	mu       sync.Mutex      // guards the fields below
	cached   *pipeline.Frame // nil until the first render
	lastSeq  uint64          // Seq of the camera frame cached was rendered for; 0: none
	rendered time.Time
}

func newNoSignal(name string, every time.Duration) *noSignal {
	return &noSignal{name: name, every: every}
}

// placeholders holds the "no signal" caches of one camera, one per feed
// (main stream, profiles): each says how long ago its own feed's newest
// frame came, and the viewers of two feeds do not re-render each other's.
type placeholders struct {
	name  string
	every time.Duration

	mu    sync.Mutex           // guards feeds
	feeds map[string]*noSignal // by profile name; made on first use
}

func newPlaceholders(name string, every time.Duration) *placeholders {
	return &placeholders{name: name, every: every, feeds: map[string]*noSignal{}}
}

// feed returns the cache of the feed called profile.
func (p *placeholders) feed(profile string) *noSignal {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.feeds[profile]
	if n == nil {
		n = newNoSignal(p.name, p.every)
		p.feeds[profile] = n
	}
	return n
}

// frame returns the placeholder part for a camera whose newest frame is
// last (nil: none yet), rendering it at most once per period.
func (n *noSignal) frame(last *pipeline.Frame, now time.Time) *pipeline.Frame {
	var seq uint64
	if last != nil {
		seq = last.Seq
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cached != nil && n.lastSeq == seq && now.Sub(n.rendered) < n.every {
		return n.cached
	}
	status := "NO FRAME YET"
	if last != nil {
		status = "LAST FRAME " + formatAge(now.Sub(last.At)) + " AGO"
	}
	n.cached = pipeline.NewNoSignalFrame(renderNoSignal(n.name, status), now)
	n.lastSeq = seq
	n.rendered = now
	return n.cached
}

// formatAge is d in whole units, as "12S", "3M 07S" or "2H 05M".
func formatAge(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%dS", s)
	case s < 3600:
		return fmt.Sprintf("%dM %02dS", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dH %02dM", s/3600, s/60%60)
	default:
		return fmt.Sprintf("%dD %02dH", s/86400, s/3600%24)
	}
}

// renderNoSignal draws a dark image with "NO SIGNAL", the camera name and
// status, and encodes it as JPEG.
func renderNoSignal(name, status string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, noSignalWidth, noSignalHeight))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{0x1c, 0x1c, 0x20, 0xff}), image.Point{}, draw.Src)
	// A red bar marks the image as not a camera picture at a glance.
	draw.Draw(img, image.Rect(0, 0, noSignalWidth, 12), image.NewUniform(color.RGBA{0xc0, 0x20, 0x20, 0xff}), image.Point{}, draw.Src)
	drawText(img, "NO SIGNAL", 80, 8, color.RGBA{0xff, 0x50, 0x50, 0xff})
	drawText(img, strings.ToUpper(name), 180, 5, color.RGBA{0xf0, 0xf0, 0xf0, 0xff})
	drawText(img, status, 260, 3, color.RGBA{0xa0, 0xa0, 0xa8, 0xff})
	var buf bytes.Buffer
	// Encoding into memory cannot fail for an RGBA image.
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 70})
	return buf.Bytes()
}

// drawText draws s centred horizontally with its top at y, with glyphs
// scaled up to scale pixels per font dot, smaller if s would not fit.
func drawText(img *image.RGBA, s string, y, scale int, c color.RGBA) {
	const advance = glyphWidth + 1 // one dot between glyphs
	n := len([]rune(s))
	if n == 0 {
		return
	}
	maxWidth := img.Bounds().Dx() - 32
	scale = max(1, min(scale, maxWidth/(n*advance)))
	x := (img.Bounds().Dx() - (n*advance-1)*scale) / 2
	x = max(x, 0)
	for _, r := range s {
		g, ok := font[r]
		if !ok {
			g = font['?']
		}
		for row, line := range g {
			for col, dot := range line {
				if dot != '#' {
					continue
				}
				px := x + col*scale
				py := y + row*scale
				draw.Draw(img, image.Rect(px, py, px+scale, py+scale), image.NewUniform(c), image.Point{}, draw.Src)
			}
		}
		x += advance * scale
	}
}

// A small 5x7 bitmap font, enough for camera names ([a-z0-9_-]+, drawn in
// capitals) and the status line, so the placeholder needs no font package.
const (
	glyphWidth  = 5
	glyphHeight = 7
)

var font = map[rune][glyphHeight]string{
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'_': {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
	':': {".....", "..#..", "..#..", ".....", "..#..", "..#..", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	'?': {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
}
