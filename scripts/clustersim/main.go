// Command clustersim runs the cluster of issue 11 as processes on
// 127.0.0.1 and tells whether it holds: one synthetic RTSP camera server
// (package synthcam, in this process; every camera is a path on it), 2
// origins (--shard 0, --shard 1) and 3 edges (--shard edge) of the daemon,
// all reading one config file with --watch-config, and 300 viewers spread
// over the edges, each moving to the next edge when its connection fails.
//
// It prints the RTSP sessions per camera counted at the camera (one each),
// the viewers at full rate, the delay one edge hop adds, the CPU of each
// process, then three faults with a result line each: an edge killed, an
// origin killed and restarted, and the shards going from 2 to 3.
//
//	go build -o /tmp/rtsp2mjpeg ./cmd/rtsp2mjpeg
//	go run ./scripts/clustersim -daemon /tmp/rtsp2mjpeg [-short]
//
// scripts/cluster-sim.sh does both. The exit status is 1 when a property
// that must hold fails (sessions per camera, a recovery that never comes,
// a camera moved or restarted that should not be); timing targets are
// reported as held or not, and count only with -strict.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options configure a simulation.
type options struct {
	Daemon      string        // the rtsp2mjpeg binary
	Cameras     int           // paths on the synthetic camera: c0..cN-1
	Edges       int           // edge processes
	Viewers     int           // viewers spread over the edges
	Sampled     int           // viewers that hash their JPEGs, for the hop delay
	Width       int           // the synthetic camera's picture
	Height      int           //
	FPS         int           //
	Thumb       bool          // keep the built-in thumb profile (its encoding costs the origins CPU)
	IdleTimeout time.Duration // defaults.idle_timeout: an edge's relay stops this long after its last viewer
	Warmup      time.Duration // viewers connected before the window
	Window      time.Duration // the steady-state measurement
	DownFor     time.Duration // how long the killed origin stays down
	Recover     time.Duration // longest wait for a recovery before it counts as never
	Strict      bool          // a missed timing target fails the run too
	Keep        bool          // keep the work directory (config, daemons' logs)
	Timeout     time.Duration // the whole run
	Out         io.Writer
}

func defaultOptions() options {
	return options{
		Cameras: 8, Edges: 3, Viewers: 300, Sampled: 24,
		Width: 320, Height: 240, FPS: 10,
		IdleTimeout: 2 * time.Second,
		Warmup:      5 * time.Second,
		Window:      20 * time.Second,
		DownFor:     4 * time.Second,
		Recover:     15 * time.Second,
		Timeout:     8 * time.Minute,
		Out:         os.Stdout,
	}
}

// shortOptions is the CI size: 30 viewers, shorter windows.
func shortOptions() options {
	o := defaultOptions()
	o.Viewers = 30
	o.Warmup = 3 * time.Second
	o.Window = 8 * time.Second
	o.DownFor = 3 * time.Second
	o.Recover = 10 * time.Second
	o.Timeout = 100 * time.Second
	return o
}

func main() {
	short := false
	for _, a := range os.Args[1:] { // -short picks the defaults the other flags then change
		if a == "-short" || a == "--short" || a == "-short=true" || a == "--short=true" {
			short = true
		}
	}
	o := defaultOptions()
	if short {
		o = shortOptions()
	}
	flag.Bool("short", false, "CI size: 30 viewers, an 8 s window, shorter waits")
	flag.StringVar(&o.Daemon, "daemon", "", "the rtsp2mjpeg binary (required; go build -o BIN ./cmd/rtsp2mjpeg)")
	flag.IntVar(&o.Cameras, "cameras", o.Cameras, "cameras (paths c0.. on one synthetic RTSP server)")
	flag.IntVar(&o.Edges, "edges", o.Edges, "edge processes (at most 5)")
	flag.IntVar(&o.Viewers, "viewers", o.Viewers, "viewers, viewer i on camera i%cameras at edge i%edges")
	flag.IntVar(&o.Sampled, "sampled", o.Sampled, "viewers that hash their JPEGs to time the hop (the first ones)")
	size := flag.String("size", fmt.Sprintf("%dx%d", o.Width, o.Height), "the synthetic camera's picture, WxH (H.264)")
	flag.IntVar(&o.FPS, "fps", o.FPS, "the synthetic camera's frame rate")
	flag.BoolVar(&o.Thumb, "thumb", o.Thumb, "keep the built-in thumb profile on the origins")
	flag.DurationVar(&o.IdleTimeout, "idle-timeout", o.IdleTimeout, "the cameras' idle_timeout (an edge's relay outlives its last viewer this long)")
	flag.DurationVar(&o.Warmup, "warmup", o.Warmup, "viewers connected this long before the window")
	flag.DurationVar(&o.Window, "window", o.Window, "steady-state measurement window")
	flag.DurationVar(&o.DownFor, "down", o.DownFor, "how long the killed origin stays down (>= 3s: the edges' no-signal parts come every 2 s)")
	flag.DurationVar(&o.Recover, "recover", o.Recover, "longest wait for a recovery before it counts as never")
	flag.BoolVar(&o.Strict, "strict", o.Strict, "missed timing targets fail the run too")
	flag.BoolVar(&o.Keep, "keep", o.Keep, "keep the work directory (config and daemons' logs)")
	flag.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on the whole run")
	flag.Parse()
	if _, err := fmt.Sscanf(*size, "%dx%d", &o.Width, &o.Height); err != nil {
		fmt.Fprintf(os.Stderr, "clustersim: -size %q: want WxH\n", *size)
		os.Exit(2)
	}
	if o.Daemon == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := simulate(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustersim:", err)
		os.Exit(1)
	}
	if len(res.failures) > 0 {
		os.Exit(1)
	}
}
