package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// noLive stands for "no live frame within the watch" in sorted durations.
const noLive = time.Duration(1 << 62)

// arrivalStats are the figures of the arrivals of one decoder_threads.
type arrivalStats struct {
	n, failed   int
	first       []time.Duration // sorted
	firstAge    []time.Duration // sorted
	live        []time.Duration // sorted; noLive: none within the watch
	stamped     []time.Duration // sorted; noLive: none within the watch
	back        int             // arrivals whose pictures went back in time
	maxBack     time.Duration
	replayed    []int // per arrival, sorted
	maxStampErr time.Duration
	unknown     int
	frames      int
	firstErr    error
}

func statsOf(rs []arrivalRes) arrivalStats {
	var st arrivalStats
	orNone := func(d time.Duration) time.Duration {
		if d < 0 {
			return noLive
		}
		return d
	}
	for _, r := range rs {
		if r.err != nil || r.frames == 0 {
			st.failed++
			if st.firstErr == nil {
				st.firstErr = r.err
			}
			continue
		}
		st.n++
		st.first = append(st.first, r.first)
		st.firstAge = append(st.firstAge, r.firstAge)
		st.live = append(st.live, orNone(r.live))
		st.stamped = append(st.stamped, orNone(r.stamped))
		if r.back > 0 {
			st.back++
			st.maxBack = max(st.maxBack, r.back)
		}
		st.replayed = append(st.replayed, r.replayed)
		st.maxStampErr = max(st.maxStampErr, r.stampErr)
		st.unknown += r.unknown
		st.frames += r.frames
	}
	for _, s := range [][]time.Duration{st.first, st.firstAge, st.live, st.stamped} {
		slices.Sort(s)
	}
	slices.Sort(st.replayed)
	return st
}

// msOr formats d, or "> watch" for noLive.
func msOr(d time.Duration, watch time.Duration) string {
	if d >= noLive {
		return "> " + ms(watch)
	}
	return ms(d)
}

func held(ok bool) string {
	if ok {
		return "held"
	}
	return "**not held**"
}

// target is one of issue 12's targets, for one decoder_threads.
type target struct {
	name, measured string
	ok, known      bool
}

func (s *site) cpuCase(prefix string, threads int) *siteCPU {
	for i := range s.res.cpu {
		c := &s.res.cpu[i]
		if strings.HasPrefix(c.label, prefix) && c.threads == threads && c.err == nil {
			return c
		}
	}
	return nil
}

func (s *site) targets() []target {
	var ts []target
	a := s.cpuCase("(a)", 0)
	for _, t := range s.so.threads {
		tag := fmt.Sprintf(" (decoder_threads %d)", t)
		tg := target{name: "(b) ≤ 25% of (a)" + tag}
		if b := s.cpuCase("(b)", t); a != nil && b != nil && a.total() > 0 {
			x := b.total() / a.total()
			tg.measured, tg.ok, tg.known = fmt.Sprintf("%.3f / %.3f = %.0f %%", b.total(), a.total(), 100*x), x <= .25, true
		}
		ts = append(ts, tg)
		tg = target{name: "snapshot age in standby p99 ≤ keyframe interval + 150 ms" + tag}
		for _, sa := range s.res.snaps {
			if sa.threads == t && len(sa.ages) > 0 && sa.interval > 0 {
				limit := time.Duration(sa.interval*float64(time.Second)) + 150*time.Millisecond
				p99 := quantile(sa.ages, .99)
				tg.measured, tg.ok, tg.known = fmt.Sprintf("%s ≤ %s", ms(p99), ms(limit)), p99 <= limit, true
			}
		}
		ts = append(ts, tg)
		st := statsOf(s.res.arrivals[t])
		tg = target{name: "a viewer's first frame p99 ≤ 50 ms after arrival" + tag}
		if st.n > 0 {
			p99 := quantile(st.first, .99)
			tg.measured, tg.ok, tg.known = ms(p99), p99 <= 50*time.Millisecond, true
		}
		ts = append(ts, tg)
		tg = target{name: "live frames p99 ≤ 1 s after arrival" + tag}
		if st.n > 0 {
			p99 := quantile(st.live, .99)
			tg.measured, tg.ok, tg.known = msOr(p99, s.so.watchFor), p99 <= time.Second, true
		}
		ts = append(ts, tg)
	}
	return ts
}

func (s *site) report() string {
	o, r := s.so, &s.res
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format+"\n", a...) }
	mode := "full"
	if o.quick {
		mode = "quick"
	}
	p("## rtsp2mjpeg site benchmark (%s run, %s)", mode, s.bench.res.started.UTC().Format("2006-01-02 15:04 MST"))
	p("")
	if o.source != "" {
		p("- built from %s", o.source)
	}
	for _, m := range machineInfo() {
		p("- %s", m)
	}
	p("- load average (1, 5, 15 min) before the run: %s; after: %s (the machine is shared)", r.load0, r.load1)
	p("- the site: %d cameras, each reading the one synthetic camera (cmd/testcam: %dx%d, %d fps, h264, GOP %d, over RTSP/TCP on 127.0.0.1), no thumb profile, idle_timeout %v",
		o.cams, o.width, o.height, o.fps, o.gop, o.idleTimeout)
	p("- CPU: CPU-seconds per second of the daemon and all its ffmpeg children, the median third of a %v window; others: what the rest of the machine took meanwhile", o.window)
	p("- the synthetic camera dropped packets to a slow reader (gortsplib's \"write queue is full\") %d times in the run: each costs its reader a corrupt frame or two until the next keyframe", r.camDrops)
	p("- run took %v; CPU windows measured again because other programs took more than %.2f CPU s/s: %d", r.elapsed.Round(time.Second), quietOthers, s.bench.res.retried)
	p("")

	p("### CPU of the site (daemon + its ffmpeg)")
	p("")
	p("| case | decoder_threads | daemon + ffmpeg | per camera | of (a) | daemon | ffmpeg | ffmpeg processes (keyframes only) | viewers' fps, min | testcam | others |")
	p("|---|---|---|---|---|---|---|---|---|---|---|")
	a := s.cpuCase("(a)", 0)
	for _, c := range r.cpu {
		th := "0 (ffmpeg's choice)"
		if c.threads > 0 {
			th = fmt.Sprint(c.threads)
		}
		if c.err != nil {
			p("| %s | %s | not measured: %v | | | | | | | | |", c.label, th, c.err)
			continue
		}
		of := "—"
		if a != nil && a.total() > 0 {
			of = fmt.Sprintf("%.0f %%", 100*c.total()/a.total())
		}
		fps := "—"
		if c.viewers.viewers > 0 {
			fps = fmt.Sprintf("%.1f", quantile(c.viewers.fps, 0))
		}
		p("| %s | %s | **%.3f** | %.3f | %s | %.3f | %.3f | %d (%d) | %s | %.3f | %.2f |",
			c.label, th, c.total(), c.total()/float64(o.cams), of, c.self, c.kids, c.ffmpegs, c.skipFrame, fps, c.testcam, c.others)
	}
	p("")

	p("### Snapshots of cameras in standby (every %v from each camera, for %v)", o.snapEvery, o.snapWindow)
	p("")
	p("| decoder_threads | snapshots | failed | age p50 | age p99 | age max | keyframe interval (measured by the daemon) | cameras woken by the snapshots |")
	p("|---|---|---|---|---|---|---|---|")
	for _, sa := range r.snaps {
		p("| %d | %d | %d | %s | %s | %s | %.3f s | %d |", sa.threads, len(sa.ages), sa.failed,
			ms(quantile(sa.ages, .5)), ms(quantile(sa.ages, .99)), ms(quantile(sa.ages, 1)), sa.interval, sa.woke)
	}
	p("")
	p("Age: time the snapshot was received − its X-Timestamp.")
	p("")

	p("### A viewer arriving at a camera in standby (%d arrivals over the %d cameras, one at a time)", o.arrivals, o.cams)
	p("")
	p("| decoder_threads | arrivals | first frame p50 | p99 | its picture's age p50 | first live frame p50 | p99 | max | first X-Timestamp after arrival p50 | p99 | arrivals whose pictures went back in time (most) | replayed frames stamped after arrival, per arrival p50 / max (stamp − picture, most) |")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, t := range o.threads {
		st := statsOf(r.arrivals[t])
		if st.n == 0 {
			p("| %d | none measured: %v | | | | | | | | | | |", t, st.firstErr)
			continue
		}
		p("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d (%s) | %d / %d (%s) |", t, st.n,
			ms(quantile(st.first, .5)), ms(quantile(st.first, .99)), ms(quantile(st.firstAge, .5)),
			msOr(quantile(st.live, .5), o.watchFor), msOr(quantile(st.live, .99), o.watchFor), msOr(quantile(st.live, 1), o.watchFor),
			msOr(quantile(st.stamped, .5), o.watchFor), msOr(quantile(st.stamped, .99), o.watchFor),
			st.back, ms(st.maxBack), quantile(st.replayed, .5), quantile(st.replayed, 1), ms(st.maxStampErr))
	}
	p("")
	p("Arrival: just before the request for the camera's stream. A live frame shows a picture that a reference camera (full rate, on a daemon of its own, reading the same synthetic camera) received after the arrival; pictures are matched by the JPEG's bytes, which the two encode alike. X-Timestamp is when the daemon published a frame: for the frames the viewers' decoder replays from the buffered GOP, it is later than the picture.")
	for _, t := range o.threads {
		if st := statsOf(r.arrivals[t]); st.unknown > 0 || st.failed > 0 {
			p("decoder_threads %d: %d of %d frames not found at the reference; %d arrivals failed (%v).", t, st.unknown, st.frames, st.failed, st.firstErr)
		}
	}
	p("")

	p("### Targets (issue 12, point 4)")
	p("")
	p("| target | measured | |")
	p("|---|---|---|")
	for _, tg := range s.targets() {
		if !tg.known {
			p("| %s | not measured | |", tg.name)
			continue
		}
		p("| %s | %s | %s |", tg.name, tg.measured, held(tg.ok))
	}
	if errs := s.bench.res.errs; len(errs) > 0 {
		p("")
		p("### Failures")
		p("")
		for _, e := range errs {
			p("- %s", e)
		}
	}
	return w.String()
}
