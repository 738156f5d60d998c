package main

import (
	"errors"
	"flag"
	"path/filepath"
	"time"
)

// siteOpts are the options of `benchtool site` (issue 12, point 3).
type siteOpts struct {
	daemon, testcam string
	quick           bool
	cams            int           // cameras of the site, all reading one publisher
	watched         int           // cameras with one viewer in case (c)
	window          time.Duration // per CPU case
	snapWindow      time.Duration // snapshots every snapEvery from every camera
	snapEvery       time.Duration
	arrivals        int           // viewers arriving at a camera in standby, per decoder_threads
	watchFor        time.Duration // how long an arriving viewer waits for a live frame
	idleTimeout     time.Duration // the cameras' idle_timeout
	threads         []int         // decoder_threads compared; 0 is ffmpeg's choice
	width, height   int
	fps, gop        int
	deadline        time.Duration
	workdir, out    string
	source          string
}

func parseSiteOpts(args []string) (siteOpts, error) {
	fs := flag.NewFlagSet("site", flag.ContinueOnError)
	var o siteOpts
	fs.StringVar(&o.daemon, "daemon", "", "rtsp2mjpeg binary (go build ./cmd/rtsp2mjpeg)")
	fs.StringVar(&o.testcam, "testcam", "", "testcam binary (go build ./cmd/testcam)")
	fs.BoolVar(&o.quick, "quick", false, "short windows and 6 arrivals: about 2 minutes")
	fs.IntVar(&o.cams, "cams", 8, "cameras of the site, all reading the one synthetic camera")
	fs.IntVar(&o.watched, "watched", 2, "cameras watched (one viewer each) in case (c)")
	fs.DurationVar(&o.window, "window", 0, "CPU window per case (default 15s, quick 5s)")
	fs.DurationVar(&o.snapWindow, "snap-window", 0, "how long snapshots are taken in standby (default 15s, quick 5s)")
	fs.IntVar(&o.arrivals, "arrivals", 0, "viewers arriving at a camera in standby, per decoder_threads (default 20, quick 6)")
	fs.IntVar(&o.width, "width", 1280, "camera width")
	fs.IntVar(&o.height, "height", 720, "camera height")
	fs.IntVar(&o.fps, "fps", 15, "camera frame rate")
	fs.IntVar(&o.gop, "gop", 15, "camera keyframe interval in frames")
	fs.DurationVar(&o.deadline, "deadline", 0, "stop measuring after this long (default 9m, quick 4m)")
	fs.StringVar(&o.workdir, "workdir", "", "directory for configs and process logs (default: a new temp dir, removed unless a phase failed)")
	fs.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	fs.StringVar(&o.source, "source", "", "what was built, for the report (bench.sh passes the git commit)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.daemon == "" || o.testcam == "" {
		return o, errors.New("site: --daemon and --testcam are required")
	}
	def := func(d *time.Duration, full, quick time.Duration) {
		if *d == 0 {
			*d = full
			if o.quick {
				*d = quick
			}
		}
	}
	def(&o.window, 15*time.Second, 5*time.Second)
	def(&o.snapWindow, 15*time.Second, 5*time.Second)
	def(&o.deadline, 9*time.Minute, 4*time.Minute)
	if o.arrivals == 0 {
		o.arrivals = 20
		if o.quick {
			o.arrivals = 6
		}
	}
	o.snapEvery = 250 * time.Millisecond
	o.watchFor = 3 * time.Second
	o.idleTimeout = time.Second
	o.threads = []int{0, 1}
	switch {
	case o.cams < 1 || o.cams > 32:
		return o, errors.New("site: --cams in 1..32")
	case o.watched < 1 || o.watched > o.cams:
		return o, errors.New("site: --watched in 1..cams")
	case o.arrivals < 1 || o.arrivals > 200:
		return o, errors.New("site: --arrivals in 1..200")
	case o.fps < 1 || o.gop < 1:
		return o, errors.New("site: --fps and --gop must be positive")
	}
	var err error
	for _, p := range []*string{&o.daemon, &o.testcam} {
		if *p, err = filepath.Abs(*p); err != nil {
			return o, err
		}
	}
	return o, nil
}

// runOpts are the options the benchmark's shared helpers (startCam,
// startDaemon) read.
func (o siteOpts) runOpts() runOpts {
	return runOpts{daemon: o.daemon, testcam: o.testcam, quick: o.quick, width: o.width, height: o.height,
		fps: o.fps, deadline: o.deadline, workdir: o.workdir, out: o.out, source: o.source, settle: 2 * time.Second}
}
