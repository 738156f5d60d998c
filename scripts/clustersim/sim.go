package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// sim is one simulation run: the topology, the viewers and the report.
type sim struct {
	o   options
	top *topology
	v   *crowd
	p   printer
	res *result
}

// simulate runs the whole simulation: topology, steady state, faults. The
// error is for a run that could not take place at all; what failed in a
// run that did is in the result.
func simulate(ctx context.Context, o options) (*result, error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.DownFor < 3*time.Second {
		return nil, fmt.Errorf("-down %v: want 3s or more, so that the edges send a no-signal part (every 2 s) while the origin is down", o.DownFor)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "clustersim")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		fmt.Fprintf(o.Out, "work directory (kept): %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	top, err := newTopology(ctx, o, dir)
	if err != nil {
		return nil, err
	}
	s := &sim{o: o, top: top, p: printer{o.Out}, res: &result{}}
	viewCtx, stopViewers := context.WithCancel(ctx)
	defer func() {
		// Viewers first, then the processes: their exits are part of the
		// verdict only when the run got that far.
		stopViewers()
		if s.v != nil {
			s.v.wait()
		}
		for _, msg := range top.close() {
			s.res.fail("%s", msg)
		}
	}()
	if err := s.start(ctx); err != nil {
		s.dumpLogs()
		return s.res, err
	}
	s.v = newCrowd(o.Viewers, o.Edges, o.Sampled, top.names, func(i int) string { return "http://" + top.edgeAddr(i) })
	s.v.start(viewCtx)

	s.steady(ctx)
	for _, step := range []func(context.Context) error{s.killEdge, s.restartOrigin, s.reshard} {
		if ctx.Err() != nil {
			break
		}
		if err := step(ctx); err != nil {
			s.res.fail("%v", err)
		}
	}
	if ctx.Err() == nil {
		s.p.f("")
		if err := top.settled(ctx, 20*time.Second); err != nil {
			s.res.fail("at the end: %v", err)
		} else {
			s.p.f("At the end: every camera read by its owner of %d, one RTSP session each.", top.shards)
		}
	}
	if ctx.Err() != nil {
		s.res.fail("interrupted or out of time (-timeout %v): %v", o.Timeout, context.Cause(ctx))
	}
	stopViewers()
	s.v.wait()
	for _, msg := range top.close() {
		s.res.fail("%s", msg)
	}
	top.origins, top.edges = nil, nil // stopped: the deferred close has nothing left to do
	s.verdict()
	if len(s.res.failures) > 0 {
		s.dumpLogs()
	}
	return s.res, nil
}

// start brings the cluster up: config, origins, edges, every camera
// streaming at its owner with one RTSP session.
func (s *sim) start(ctx context.Context) error {
	t, o := s.top, s.o
	if err := t.writeConfig(2); err != nil {
		return err
	}
	began := time.Now()
	for sh := range 2 {
		if _, err := t.startOrigin(ctx, sh); err != nil {
			return err
		}
	}
	for i := range o.Edges {
		if _, err := t.startEdge(ctx, i); err != nil {
			return err
		}
	}
	if err := t.settled(ctx, 30*time.Second); err != nil {
		return err
	}
	s.p.f("## Cluster simulation (scripts/cluster-sim.sh)")
	s.p.f("")
	s.p.f("%d cameras (paths c0..c%d of one synthetic RTSP server: H.264 %dx%d at %d fps, a keyframe a second), "+
		"2 origins, %d edges, %d viewers of the main stream (viewer i: camera i%%%d at edge i%%%d, then the next edge on failure); "+
		"thumb profile %s; idle_timeout %v; every process with --watch-config. Up and settled in %v. %s.",
		o.Cameras, o.Cameras-1, o.Width, o.Height, o.FPS, o.Edges, o.Viewers, o.Cameras, o.Edges,
		map[bool]string{true: "on", false: "off (less encoding on the origins)"}[o.Thumb], o.IdleTimeout,
		time.Since(began).Round(100*time.Millisecond), loadAvg())
	return nil
}

// loadAvg reads the machine's load average, for the report.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return fmt.Sprintf("Load average %s %s %s on %d CPUs", f[0], f[1], f[2], runtime.NumCPU())
}

// verdict prints the closing lines.
func (s *sim) verdict() {
	s.p.f("")
	if s.o.Strict {
		s.res.failures = append(s.res.failures, s.res.missed...)
	}
	switch {
	case len(s.res.failures) == 0 && len(s.res.missed) == 0:
		s.p.f("**PASS**: every must-hold property held and every timing target was met.")
	case len(s.res.failures) == 0:
		s.p.f("**PASS** (must-hold properties); timing targets missed: %s.", strings.Join(s.res.missed, "; "))
	default:
		s.p.f("**FAIL**:")
		for _, f := range s.res.failures {
			s.p.f("- %s", f)
		}
	}
}

// dumpLogs prints the tail of each daemon's log, for a failed run.
func (s *sim) dumpLogs() {
	for _, name := range []string{"origin-0", "origin-1", "origin-2", "edge-0", "edge-1", "edge-2", "edge-3", "edge-4"} {
		b, err := os.ReadFile(s.top.dir + "/" + name + ".log")
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		fmt.Fprintf(os.Stderr, "--- %s log, last lines:\n%s\n", name, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
}
