package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// siteCPU is one CPU case of the site: the daemon and its ffmpeg children,
// measured together over one window.
type siteCPU struct {
	label     string
	threads   int     // decoder_threads; 0 is ffmpeg's choice
	self      float64 // CPU s/s of the daemon itself
	kids      float64 // of its ffmpeg children
	ffmpegs   int     // ffmpeg children at the end of the window
	skipFrame int     // of them, decoding keyframes only (-skip_frame nokey)
	viewers   viewStats
	testcam   float64 // the synthetic camera (its publisher ffmpeg included)
	machine   float64 // the whole machine's busy CPU s/s
	others    float64 // what other programs took meanwhile
	err       error
}

func (c siteCPU) total() float64 { return c.self + c.kids }

// cpuWindow measures the daemon d (and the viewers vs, if any) over dur.
func (b *bench) cpuWindow(label string, threads int, d *daemon, cams []string, vs []*viewer, dur time.Duration) siteCPU {
	r := siteCPU{label: label, threads: threads}
	b.logf("%s, decoder_threads %d: %v window", label, threads, dur)
	r0 := b.restarts(d, cams)
	start := beginWindow(vs)
	snaps := sleepSnaps(b.sleep, dur, func() []int { return b.roots() })
	r.viewers = endWindow(vs, start)
	a, z := snaps[0], snaps[len(snaps)-1]
	u := medianUse(snaps, d.p.pid())
	r.self, r.kids = u.self, u.kids
	r.testcam = b.othersCPU(a, z, "testcam")
	r.machine = a.machine(z)
	r.others = max(0, r.machine-r.total()-r.testcam-a.use(z, b.self).self)
	for kid := range childrenOf(d.p.pid()) {
		args := cmdline(kid)
		if len(args) == 0 || !strings.HasSuffix(args[0], "ffmpeg") {
			continue
		}
		r.ffmpegs++
		if slices.Contains(args, "-skip_frame") {
			r.skipFrame++
		}
	}
	r1 := b.restarts(d, cams)
	switch {
	case !d.p.alive():
		r.err = fmt.Errorf("daemon exited: %s", d.p.tail(10))
	case b.ctx.Err() != nil:
		r.err = b.ctx.Err()
	case r0 >= 0 && r1 > r0:
		r.err = fmt.Errorf("ffmpeg restarted %d times in the window", r1-r0)
	case u.kidsChanged && len(vs) == 0:
		r.err = fmt.Errorf("an ffmpeg started or ended in the window")
	case r.viewers.failed > 0:
		r.err = fmt.Errorf("%d viewers' streams ended: %v", r.viewers.failed, r.viewers.firstErr)
	}
	b.logf("%s, decoder_threads %d: daemon %.3f + ffmpeg %.3f = %.3f CPU s/s (%d ffmpeg, %d keyframes only), others %.2f",
		label, threads, r.self, r.kids, r.total(), r.ffmpegs, r.skipFrame, r.others)
	return r
}

// quietCPU is cpuWindow measured once more when other programs took more
// than quietOthers during the window; the quieter of the two is kept.
func (b *bench) quietCPU(label string, threads int, d *daemon, cams []string, vs []*viewer, dur time.Duration) siteCPU {
	c := b.cpuWindow(label, threads, d, cams, vs, dur)
	if c.err != nil || c.others <= quietOthers || b.ctx.Err() != nil {
		return c
	}
	b.logf("%s: other programs took %.2f CPU s/s during the window: measuring again", label, c.others)
	b.res.retried++
	if c2 := b.cpuWindow(label, threads, d, cams, vs, dur); c2.err == nil && c2.others < c.others {
		return c2
	}
	return c
}
