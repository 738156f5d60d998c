// Command benchtool measures rtsp2mjpeg end to end on one machine, as issue 4
// asks, and prints the figures as markdown tables. scripts/bench.sh builds it
// with the daemon and cmd/testcam and runs it; it can also be run by hand.
//
//	benchtool run --daemon BIN --testcam BIN [--quick]
//	    the whole benchmark: starts synthetic cameras (testcam), the daemon
//	    and ffmpeg alone on 127.0.0.1, measures, prints the tables
//	benchtool writer --conns N --size BYTES [--fps 15]
//	    the loopback write floor: a bare Go writer that accepts N connections
//	    and writes one part of BYTES to each, fps times a second (one Write
//	    per frame per connection); run by `run` as its own process, so that
//	    its CPU is read alone from /proc
//	benchtool reader
//	    the pipe read floor: reads its stdin (ffmpeg's MJPEG output) as any Go
//	    program does, through the runtime's poller, and discards it; run by
//	    `run` as its own process beside `cat`, both fed by ffmpeg with the
//	    daemon's own command line
//	benchtool site --daemon BIN --testcam BIN [--quick]
//	    the site benchmark of issue 12: 8 cameras reading one synthetic
//	    camera, at full rate and in standby (when_idle: standby): the CPU of
//	    the daemon and its ffmpeg, snapshot ages, a viewer's first frames
//	benchtool viewers --url http://127.0.0.1:8007/video --n 50 [--duration 30s]
//	    N MJPEG viewers with the benchmark's reader, printing per-window
//	    figures (for profiling the daemon by hand: strace, perf, pprof)
//
// It uses only the standard library and the project's packages. Every
// process it starts is its own (testcam, the daemon, ffmpeg, the writer),
// listens on 127.0.0.1 only and is killed by pid when the run ends, on error
// or on SIGINT/SIGTERM. The benchmark reports; it never fails on a figure.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "writer":
		err = cmdWriter(os.Args[2:])
	case "viewers":
		err = cmdViewers(os.Args[2:])
	case "reader":
		err = cmdReader(os.Args[2:])
	case "site":
		err = cmdSite(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  benchtool run --daemon BIN --testcam BIN [--quick] [flags]   the whole benchmark (see run --help)
  benchtool writer --conns N --size BYTES [--fps 15]          loopback write floor (run by "run")
  benchtool viewers --url URL --n N [--duration 30s]          N MJPEG viewers, figures per window
  benchtool reader                                            pipe read floor: reads stdin and discards it (run by "run")
  benchtool site --daemon BIN --testcam BIN [--quick]         a site of 8 cameras: full rate and standby (see site --help)
`)
}
