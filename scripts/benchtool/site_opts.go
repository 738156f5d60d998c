package main

import (
	"errors"
	"flag"
	"time"
)

// siteOpts are the options of `benchtool site` (issue 12, point 3).
type siteOpts struct {
	benchOpts
	cams        int           // cameras of the site, all reading one publisher
	watched     int           // cameras with one viewer in case (c)
	window      time.Duration // per CPU case
	snapWindow  time.Duration // snapshots every snapEvery from every camera
	snapEvery   time.Duration
	arrivals    int           // viewers arriving at a camera in standby, per decoder_threads
	watchFor    time.Duration // how long an arriving viewer waits for a live frame
	idleTimeout time.Duration // the cameras' idle_timeout
	threads     []int         // decoder_threads compared; 0 is ffmpeg's choice
	gop         int
}

func parseSiteOpts(args []string) (siteOpts, error) {
	fs := flag.NewFlagSet("site", flag.ContinueOnError)
	var o siteOpts
	o.flags(fs, "short windows and 6 arrivals: about 2 minutes")
	fs.IntVar(&o.cams, "cams", 8, "cameras of the site, all reading the one synthetic camera")
	fs.IntVar(&o.watched, "watched", 2, "cameras watched (one viewer each) in case (c)")
	fs.DurationVar(&o.window, "window", 0, "CPU window per case (default 15s, quick 5s)")
	fs.DurationVar(&o.snapWindow, "snap-window", 0, "how long snapshots are taken in standby (default 15s, quick 5s)")
	fs.IntVar(&o.arrivals, "arrivals", 0, "viewers arriving at a camera in standby, per decoder_threads (default 20, quick 6)")
	fs.IntVar(&o.gop, "gop", 15, "camera keyframe interval in frames")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := o.check("site"); err != nil {
		return o, err
	}
	o.orDefault(&o.window, 15*time.Second, 5*time.Second)
	o.orDefault(&o.snapWindow, 15*time.Second, 5*time.Second)
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
	case o.gop < 1:
		return o, errors.New("site: --gop must be positive")
	}
	return o, nil
}

// runOpts are the options the benchmark's shared helpers (startCam,
// startDaemon) read.
func (o siteOpts) runOpts() runOpts {
	return runOpts{benchOpts: o.benchOpts, settle: 2 * time.Second}
}
