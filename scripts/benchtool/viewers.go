package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// cmdViewers runs N viewers of an MJPEG URL and prints their figures every
// --every, for --duration: a load to profile the daemon under by hand.
func cmdViewers(args []string) error {
	fs := flag.NewFlagSet("viewers", flag.ContinueOnError)
	rawURL := fs.String("url", "", "MJPEG stream, e.g. http://127.0.0.1:8007/video")
	n := fs.Int("n", 50, "concurrent viewers")
	dur := fs.Duration("duration", 30*time.Second, "how long to watch after ramp-up")
	every := fs.Duration("every", 5*time.Second, "print figures this often")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return errors.New("viewers: --url http://HOST:PORT/PATH is required")
	}
	if *n < 1 || *n > 5000 || *every <= 0 || *dur <= 0 {
		return errors.New("viewers: want --n in 1..5000, --every and --duration > 0")
	}
	path := u.RequestURI()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *dur+time.Minute)
	defer cancel()
	vs, err := rampUp(ctx, u.Host, path, *n, 30*time.Second)
	defer closeAll(vs)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d viewers streaming %s\n", len(vs), *rawURL)
	self := os.Getpid()
	end := time.Now().Add(*dur)
	for time.Now().Before(end) && ctx.Err() == nil {
		a := takeSnap(self)
		start := beginWindow(vs)
		t := time.NewTimer(min(*every, time.Until(end)))
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		st := endWindow(vs, start)
		z := takeSnap(self)
		fmt.Printf("viewers %d  fps min %.2f median %.2f  worst gap %v  delay p50 %v p99 %v (at the reader %v %v)  frame %d B  failed %d  own CPU %.3f s/s\n",
			st.viewers, quantile(st.fps, 0), quantile(st.fps, .5), quantile(st.gaps, 1).Round(time.Millisecond),
			quantile(st.delays, .5).Round(time.Microsecond), quantile(st.delays, .99).Round(time.Microsecond),
			quantile(st.readDelays, .5).Round(time.Microsecond), quantile(st.readDelays, .99).Round(time.Microsecond),
			st.bytes/max(st.frames, 1), st.failed, a.use(z, self).self)
	}
	return nil
}
