package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The site benchmark (issue 12, point 3): a box of cameras, each reading
// the same synthetic camera, at full rate and in standby (when_idle:
// standby), with decoder_threads 0 and 1. See site_report.go for what it
// prints.

// site is one run of the site benchmark.
type site struct {
	*bench
	so   siteOpts
	url  string   // the synthetic camera's
	cams []string // the site's camera names
	res  siteRes
}

// siteRes is every figure of the run; a case that failed has its err set.
type siteRes struct {
	load0, load1 string
	cpu          []siteCPU            // (a), then (b) and (c) per decoder_threads
	snaps        []snapAges           // per decoder_threads
	arrivals     map[int][]arrivalRes // by decoder_threads
	elapsed      time.Duration
	camDrops     int // times the synthetic camera dropped packets to a slow reader
}

func cmdSite(args []string) error {
	so, err := parseSiteOpts(args)
	if err != nil {
		return err
	}
	ctx, exe, tmp, stop, err := benchEnv(&so.workdir, "rtsp2mjpeg-site-", so.deadline)
	if err != nil {
		return err
	}
	defer stop()

	b := &bench{o: so.runOpts(), ctx: ctx, ps: &procs{dir: so.workdir}, self: os.Getpid(), exe: exe}
	b.res.started = time.Now()
	s := &site{bench: b, so: so, res: siteRes{load0: loadavg(), arrivals: map[int][]arrivalRes{}}}
	for i := range so.cams {
		s.cams = append(s.cams, fmt.Sprintf("cam%d", i+1))
	}
	defer b.ps.stopAll() // also on panic: no process outlives the run

	s.run()
	b.ps.stopAll()
	s.res.load1 = loadavg()
	s.res.elapsed = time.Since(b.res.started)

	report := s.report()
	fmt.Print(report)
	if so.out != "" {
		if err := os.WriteFile(so.out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
	}
	if tmp && len(b.res.errs) == 0 {
		_ = os.RemoveAll(so.workdir)
	} else {
		fmt.Fprintf(os.Stderr, "benchtool: process logs kept in %s\n", so.workdir)
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return errors.New("interrupted")
	}
	return nil
}

func (s *site) run() {
	cam, err := s.startCam("testcam", "h264", s.so.gop)
	if err != nil {
		s.fail("testcam", err)
		return
	}
	defer func() { s.res.camDrops = countLines(cam.p.logPath, "write queue is full") }()
	defer cam.p.stop(6 * time.Second)
	s.url = cam.url
	s.fullCase()
	for _, t := range s.so.threads {
		if s.ctx.Err() != nil {
			return
		}
		s.standbyCases(t)
	}
}

// siteConfig is the daemon's config: every camera of the site reads url,
// with when_idle and decoder_threads (0: the key is left out). No thumb,
// so that the figures compare with the one-camera rows of the benchmark.
func siteConfig(url string, cams []string, whenIdle string, threads int, idle time.Duration) []byte {
	var y strings.Builder
	y.WriteString("# written by scripts/benchtool site\nprofiles:\n  thumb: false\ncameras:\n")
	for _, c := range cams {
		fmt.Fprintf(&y, "  - name: %s\n    url: %q\n    when_idle: %s\n    idle_timeout: %s\n", c, url, whenIdle, idle)
		if threads > 0 {
			fmt.Fprintf(&y, "    decoder_threads: %d\n", threads)
		}
	}
	return []byte(y.String())
}

// startSite starts a daemon with cams and waits until each has a frame.
func (s *site) startSite(name string, cams []string, whenIdle string, threads int) (*daemon, error) {
	cfgPath := filepath.Join(s.so.workdir, name+".yml")
	if err := os.WriteFile(cfgPath, siteConfig(s.url, cams, whenIdle, threads, s.so.idleTimeout), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", cfgPath, err)
	}
	s.logf("%s: %d cameras, when_idle %s, decoder_threads %d", name, len(cams), whenIdle, threads)
	d, err := s.startDaemon(name, "--config", cfgPath)
	if err != nil {
		return nil, err
	}
	if _, err := s.waitHealthz(d, 20*time.Second); err != nil {
		d.stop()
		return nil, err
	}
	if _, err := s.waitCams(d, cams, 30*time.Second, "a first frame", func(st siteStatus) bool { return st.Frames > 0 }); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// fullCase is (a): every camera at full rate, nobody watching.
func (s *site) fullCase() {
	const label = "(a) full rate, nobody watching"
	d, err := s.startSite("daemon-full", s.cams, "full", 0)
	if err != nil {
		s.fail(label, err)
		s.res.cpu = append(s.res.cpu, siteCPU{label: label, err: err})
		return
	}
	defer d.stop()
	if err := s.waitFFmpegs(d, len(s.cams), 30*time.Second); err != nil {
		s.fail(label, err)
		s.res.cpu = append(s.res.cpu, siteCPU{label: label, err: err})
		return
	}
	s.sleep(3 * time.Second) // every ffmpeg past its start
	s.res.cpu = append(s.res.cpu, s.checked(s.quietCPU(label, 0, d, s.cams, nil, s.so.window)))
}

// standbyCases are (b), the snapshots, (c) and the arrivals, with
// decoder_threads t.
func (s *site) standbyCases(t int) {
	labelB, labelC := "(b) standby, nobody watching", fmt.Sprintf("(c) standby, %d cameras watched", s.so.watched)
	d, err := s.startSite(fmt.Sprintf("daemon-standby-t%d", t), s.cams, "standby", t)
	if err == nil {
		defer d.stop()
		_, err = s.waitCams(d, s.cams, 30*time.Second, "standby", inStandby)
	}
	if err == nil {
		err = s.waitFFmpegs(d, len(s.cams), 30*time.Second)
	}
	if err != nil {
		s.fail(fmt.Sprintf("standby, decoder_threads %d", t), err)
		s.res.cpu = append(s.res.cpu, siteCPU{label: labelB, threads: t, err: err}, siteCPU{label: labelC, threads: t, err: err})
		return
	}
	s.sleep(2 * time.Second)
	s.res.cpu = append(s.res.cpu, s.checked(s.quietCPU(labelB, t, d, s.cams, nil, s.so.window)))
	if s.ctx.Err() != nil {
		return
	}
	sa := s.snapshotAges(s.so, d, s.cams)
	sa.threads = t
	s.res.snaps = append(s.res.snaps, sa)
	if s.ctx.Err() != nil {
		return
	}
	s.res.cpu = append(s.res.cpu, s.watchedCase(labelC, t, d))
	if s.ctx.Err() != nil {
		return
	}
	s.res.arrivals[t] = s.arrivalCase(d, t)
}

// watchedCase is (c): one viewer on each of the first o.watched cameras.
func (s *site) watchedCase(label string, t int, d *daemon) siteCPU {
	watched := s.cams[:s.so.watched]
	var vs []*viewer
	defer func() { closeAll(vs) }()
	for _, c := range watched {
		more, err := rampUp(s.ctx, d.addr, "/cameras/"+c+"/video", 1, 20*time.Second)
		vs = append(vs, more...)
		if err != nil {
			s.fail(label, err)
			return siteCPU{label: label, threads: t, err: err}
		}
	}
	if _, err := s.waitCams(d, watched, 20*time.Second, "decoding all for the viewers", func(st siteStatus) bool { return st.Decoding == "all" }); err != nil {
		s.fail(label, err)
		return siteCPU{label: label, threads: t, err: err}
	}
	if err := s.waitFFmpegs(d, len(s.cams)+len(watched), 20*time.Second); err != nil {
		s.fail(label, err)
		return siteCPU{label: label, threads: t, err: err}
	}
	s.sleep(2 * time.Second) // the decoders past their start
	return s.checked(s.quietCPU(label, t, d, s.cams, vs, s.so.window))
}

// arrivalCase runs the reference camera and the arrivals.
func (s *site) arrivalCase(d *daemon, t int) []arrivalRes {
	fail := func(err error) []arrivalRes {
		s.fail(fmt.Sprintf("arrivals, decoder_threads %d", t), err)
		return []arrivalRes{{first: -1, live: -1, stamped: -1, err: err}}
	}
	rd, err := s.startSite(fmt.Sprintf("daemon-reference-t%d", t), []string{"ref"}, "full", 0)
	if err != nil {
		return fail(fmt.Errorf("the reference camera: %w", err))
	}
	defer rd.stop()
	ref := startRefIndex(s.ctx, "http://"+rd.addr+"/cameras/ref/video")
	defer ref.stop()
	s.sleep(2 * time.Second) // a keyframe interval and more of pictures known
	rs := s.arrivals(s.so, d, s.cams, t, ref)
	if err := ref.failed(); err != nil {
		return append(rs, arrivalRes{first: -1, live: -1, stamped: -1, err: err})
	}
	return rs
}

// checked lists a case that failed among the run's failures (which keeps
// the process logs).
func (s *site) checked(c siteCPU) siteCPU {
	if c.err != nil {
		s.fail(fmt.Sprintf("%s, decoder_threads %d", c.label, c.threads), c.err)
	}
	return c
}

// countLines counts the lines of the file at path that contain sub.
func countLines(path, sub string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), sub)
}
