package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// relayRes is what one relay hop costs: box B reading box A's
// /cameras/x/video (codec copy, no ffmpeg) for one viewer.
type relayRes struct {
	frames   int             // frames of B's viewer matched, byte for byte, to A's viewer's
	arrival  []time.Duration // B's viewer's arrival of a frame - A's viewer's arrival of it
	stamp    []time.Duration // B's X-Timestamp - A's X-Timestamp of a frame (ms resolution)
	bSelf    float64         // CPU s/s of box B
	bKids    float64         // CPU s/s of B's children (none: no ffmpeg)
	fps      float64
	mismatch int // B's frames that A's viewer never saw
	err      error
}

// relay runs box A on the camera url and box B relaying A's camera, reads
// both with one viewer each for o.window and pairs their frames by content.
func (b *bench) relay(url string) {
	r := &relayRes{}
	b.res.relay = r
	write := func(name, y string) (string, error) {
		p := filepath.Join(b.o.workdir, name)
		return p, os.WriteFile(p, []byte(y), 0o644)
	}
	pa, err := write("relay-a.yml", fmt.Sprintf("# written by scripts/benchtool\nprofiles:\n  thumb: false\ncameras:\n  - name: x\n    url: %q\n", url))
	if err != nil {
		r.err = err
		return
	}
	a, err := b.startDaemon("daemon-relay-a", "--config", pa)
	if err != nil {
		r.err = err
		return
	}
	defer a.stop()
	if _, r.err = b.waitHealthz(a, 20*time.Second); r.err != nil {
		return
	}
	pb, err := write("relay-b.yml", fmt.Sprintf("# written by scripts/benchtool\nprofiles:\n  thumb: false\ncameras:\n  - name: x\n    url: %q\n", "http://"+a.addr+"/cameras/x/video"))
	if err != nil {
		r.err = err
		return
	}
	bb, err := b.startDaemon("daemon-relay-b", "--config", pb)
	if err != nil {
		r.err = err
		return
	}
	defer bb.stop()
	if _, r.err = b.waitHealthz(bb, 20*time.Second); r.err != nil {
		return
	}
	if _, r.err = b.waitStatus(bb, "x", 20*time.Second, func(s camStatus) bool { return s.Frames > 0 }); r.err != nil {
		return
	}
	b.logf("relay: box A on the camera, box B reading A's /cameras/x/video; one viewer each for %v", b.o.window)

	type seen struct{ at, stamp time.Time }
	var mu sync.Mutex
	fromA := map[[32]byte]seen{}
	type got struct {
		h         [32]byte
		at, stamp time.Time
	}
	var fromB []got
	ctx, cancel := context.WithTimeout(b.ctx, b.o.window+5*time.Second)
	defer cancel()
	read := func(addr string, each func(h [32]byte, at, stamp time.Time)) error {
		return readParts(ctx, "http://"+addr+"/cameras/x/video", b.o.window, func(h textproto.MIMEHeader, body []byte, at time.Time) {
			if h.Get("X-No-Signal") == "1" {
				return
			}
			ts, _ := strconv.ParseFloat(h.Get("X-Timestamp"), 64)
			each(sha256.Sum256(body), at, time.UnixMilli(int64(ts*1000)))
		})
	}
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		errA = read(a.addr, func(h [32]byte, at, stamp time.Time) {
			mu.Lock()
			fromA[h] = seen{at, stamp}
			mu.Unlock()
		})
	})
	wg.Go(func() {
		errB = read(bb.addr, func(h [32]byte, at, stamp time.Time) { fromB = append(fromB, got{h, at, stamp}) })
	})
	l := b.window(bb, nil, b.o.window, "x", a.p.pid())
	wg.Wait()
	r.bSelf, r.bKids, r.fps = l.daemon.self, l.daemon.kids, l.camFPS
	for _, e := range []error{errA, errB, l.err} {
		if e != nil && r.err == nil && ctx.Err() == nil {
			r.err = e
		}
	}
	for _, g := range fromB[min(2, len(fromB)):] { // the first parts are the newest held, not live
		s, ok := fromA[g.h]
		if !ok {
			r.mismatch++
			continue
		}
		r.frames++
		r.arrival = append(r.arrival, g.at.Sub(s.at))
		r.stamp = append(r.stamp, g.stamp.Sub(s.stamp))
	}
	slices.Sort(r.arrival)
	slices.Sort(r.stamp)
	b.logf("relay: %d frames matched, %d not seen at A; box B %.4f CPU s/s", r.frames, r.mismatch, r.bSelf)
}

// reportRelay prints the cost of one relay hop.
func (b *bench) reportRelay(p func(string, ...any)) {
	r := b.res.relay
	if r == nil {
		return
	}
	p("### One relay hop (box B reads box A's `/cameras/x/video`, codec copy, no ffmpeg)")
	p("")
	if r.err != nil {
		p("error: %v", r.err)
		p("")
	}
	pct := func(d []time.Duration, q float64) string {
		if len(d) == 0 {
			return "—"
		}
		return d[min(len(d)-1, int(q*float64(len(d))))].Round(10 * time.Microsecond).String()
	}
	perFrame := "—"
	if r.fps > 0 {
		perFrame = fmt.Sprintf("%.0f µs", r.bSelf/r.fps*1e6)
	}
	p("| figure | p50 | p99 |")
	p("|---|---|---|")
	p("| delay: a frame's arrival at B's viewer − its arrival at A's viewer | %s | %s |", pct(r.arrival, 0.5), pct(r.arrival, 0.99))
	p("| delay: B's X-Timestamp − A's X-Timestamp (ms resolution) | %s | %s |", pct(r.stamp, 0.5), pct(r.stamp, 0.99))
	p("")
	p("%d of B's frames byte-identical to A's (%d not seen at A's viewer). Box B: %.4f CPU s/s (%s per frame at %.1f fps), its children %.4f (no ffmpeg).",
		r.frames, r.mismatch, r.bSelf, perFrame, r.fps, r.bKids)
	p("")
}
