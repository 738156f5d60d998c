package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
)

// steady measures the cluster with every viewer connected: RTSP sessions
// per camera, viewers at full rate, the delay of the edge hop, and the
// CPU of each process over the window.
func (s *sim) steady(ctx context.Context) {
	t, o := s.top, s.o
	// The observers connect with the viewers, before the window.
	obsCtx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	obs := watchOrigins(obsCtx, s.v, t.names, func(cam string) string {
		return t.origins[cluster.Owner(cam, t.shards)].base()
	})
	select {
	case <-ctx.Done():
		return
	case <-time.After(o.Warmup):
	}

	procs := t.procs()
	before := make([]cpuMark, len(procs))
	for i, p := range procs {
		before[i] = markCPU(p.pid())
	}
	tool0 := markCPU(selfPID)
	from := time.Now()
	sess := s.sampleSessions(ctx, o.Window)
	to := time.Now()
	after := make([]cpuMark, len(procs))
	for i, p := range procs {
		after[i] = markCPU(p.pid())
	}
	tool1 := markCPU(selfPID)
	stopObs()
	delays := obs.delays(s.v, from, to)

	// Sessions per camera.
	s.p.f("")
	s.p.f("### Steady state, over %v with every viewer connected", to.Sub(from).Round(100*time.Millisecond))
	s.p.header("camera", "owner (of 2)", "RTSP sessions at the camera: min", "max", "edge viewers")
	perCam := map[string]int{}
	for _, v := range s.v.viewers {
		perCam[v.cam]++
	}
	for _, n := range t.names {
		r := sess[n]
		s.p.row(n, fmt.Sprintf("origin %d", cluster.Owner(n, 2)), r[0], r[1], perCam[n])
		if r[0] != 1 || r[1] != 1 {
			s.res.fail("camera %s: %d to %d RTSP sessions during the window, want exactly 1", n, r[0], r[1])
		}
	}

	// Viewers at full rate, per edge.
	need := 0.9 * float64(o.FPS)
	sec := to.Sub(from).Seconds()
	type edgeRow struct {
		viewers, full int
		fps           []float64
	}
	rows := make([]edgeRow, o.Edges)
	var slow []string
	for _, v := range s.v.viewers {
		parts, _ := v.snapshot()
		live, edge := 0, -1
		for _, p := range parts {
			if p.at >= from.UnixNano() && p.at < to.UnixNano() && !p.noSignal {
				live++
				edge = int(p.edge)
			}
		}
		if edge < 0 {
			edge = v.id % o.Edges
		}
		fps := float64(live) / sec
		r := &rows[edge]
		r.viewers++
		r.fps = append(r.fps, fps)
		if fps >= need {
			r.full++
		} else if len(slow) < 5 {
			slow = append(slow, fmt.Sprintf("viewer %d (%s at edge %d): %.1f fps", v.id, v.cam, edge, fps))
		}
	}
	s.p.header("edge", "viewers", fmt.Sprintf("at full rate (>= %.1f fps)", need), "fps p50", "fps min")
	total, full := 0, 0
	for e, r := range rows {
		slices.Sort(r.fps)
		p50, lo := 0.0, 0.0
		if len(r.fps) > 0 {
			p50, lo = r.fps[len(r.fps)/2], r.fps[0]
		}
		s.p.row(fmt.Sprintf("edge %d", e), r.viewers, r.full, fmt.Sprintf("%.1f", p50), fmt.Sprintf("%.1f", lo))
		total += r.viewers
		full += r.full
	}
	s.p.row("all", total, full, "", "")
	s.p.f("")
	ok := full == total
	s.p.f("Viewers at full rate: %d of %d; target all: %s.", full, total, heldWord(ok))
	if !ok {
		s.res.missed = append(s.res.missed, fmt.Sprintf("%d of %d viewers below %.1f fps (%v)", total-full, total, need, slow))
	}

	// Delay of the edge hop.
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	s.p.header("delay (byte-identical JPEGs of the sampled viewers)", "p50", "p99", "frames")
	s.p.row("origin → edge: edge's X-Timestamp − origin's X-Timestamp (ms resolution)", r(pct(delays.edge, 0.5)), r(pct(delays.edge, 0.99)), delays.matched)
	s.p.row("origin → edge → viewer: viewer's receive time − origin's X-Timestamp", r(pct(delays.viewer, 0.5)), r(pct(delays.viewer, 0.99)), delays.matched)
	s.p.f("")
	s.p.f("%d sampled viewers (every camera at every edge); %d of their JPEGs not seen by the origin's observer. "+
		"The camera → origin hop (RTSP, decode, encode) is not in these figures: the synthetic camera stamps nothing.",
		min(o.Sampled, o.Viewers), delays.missed)
	if delays.matched == 0 {
		s.res.fail("no JPEG of an edge's viewer matched one of its origin's: is the relay still byte for byte?")
	}

	// CPU per process.
	s.p.header("process", "pid", "CPU s/s: itself", "its children", "children", "total")
	sum := 0.0
	for i, p := range procs {
		u := before[i].to(after[i])
		what := p.name
		if sh := slices.Index(t.origins, p); sh >= 0 {
			what = fmt.Sprintf("%s (%d cameras)", p.name, len(t.owned(sh, t.shards)))
		}
		s.p.row(what, p.pid(), fmt.Sprintf("%.3f", u.self), fmt.Sprintf("%.3f", u.kids), fmt.Sprintf("%d ffmpeg", u.nKids), fmt.Sprintf("%.3f", u.self+u.kids))
		sum += u.self + u.kids
	}
	tu := tool0.to(tool1)
	s.p.row("clustersim (synthetic camera server, viewers, observers)", selfPID, fmt.Sprintf("%.3f", tu.self), fmt.Sprintf("%.3f", tu.kids),
		"camera's encoder", fmt.Sprintf("%.3f", tu.self+tu.kids))
	s.p.row("all", "", "", "", "", fmt.Sprintf("%.3f", sum+tu.self+tu.kids))
}

// sampleSessions samples the RTSP sessions per camera every 100 ms for d,
// and returns each camera's min and max.
func (s *sim) sampleSessions(ctx context.Context, d time.Duration) map[string][2]int {
	out := map[string][2]int{}
	first := true
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	end := time.After(d)
	for {
		sess := s.top.sessions()
		for _, n := range s.top.names {
			r, c := out[n], sess[n]
			if first {
				r = [2]int{c, c}
			}
			out[n] = [2]int{min(r[0], c), max(r[1], c)}
		}
		first = false
		select {
		case <-ctx.Done():
			return out
		case <-end:
			return out
		case <-tick.C:
		}
	}
}
