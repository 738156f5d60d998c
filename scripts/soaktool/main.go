// Command soaktool runs a bounded soak of rtsp2mjpeg (issue 5): three
// synthetic RTSP cameras (package synthcam, in this process, on 127.0.0.1),
// one of which reboots every 30 s; the daemon binary serving them from a
// config file; 50 viewers that connect, watch a random camera for a random
// time and leave, over and over. Every 10 s it samples the daemon's
// goroutines (/metrics go_goroutines), threads, RSS, open file descriptors,
// CPU and ffmpeg processes, and prints a row of a table.
//
// It fails (exit 1) when one of those grows without bound (the maximum of
// the last third of the samples over 1.5 times that of the first third plus
// some slack), when the daemon runs more ffmpeg processes than cameras,
// when a viewer of a healthy camera waits more than 2 s for a frame, when a
// request fails, or when the daemon does not stop cleanly on SIGTERM.
//
//	go build -o /tmp/rtsp2mjpeg ./cmd/rtsp2mjpeg
//	go run ./scripts/soaktool -daemon /tmp/rtsp2mjpeg -duration 10m
//
// scripts/soak.sh does both.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/scripts/procfs"
)

// options configure a soak.
type options struct {
	Daemon      string        // the rtsp2mjpeg binary
	Duration    time.Duration // how long the viewers churn
	Sample      time.Duration // sampling period
	Viewers     int           // churning viewers
	RebootEvery time.Duration // the period of camera c's reboots
	RebootDown  time.Duration // how long camera c stays down
	MaxGap      time.Duration // longest wait for a frame of a healthy camera
	StayMin     time.Duration // a viewer watches for StayMin..StayMax
	StayMax     time.Duration
	Width       int // camera picture size and rate
	Height      int
	FPS         int
	Out         io.Writer // the table and the summary
	DaemonLog   string    // file for the daemon's whole log; "" keeps only its tail
}

func defaultOptions() options {
	return options{
		Duration:    10 * time.Minute,
		Sample:      10 * time.Second,
		Viewers:     50,
		RebootEvery: 30 * time.Second,
		RebootDown:  3 * time.Second,
		MaxGap:      2 * time.Second,
		StayMin:     2 * time.Second,
		StayMax:     20 * time.Second,
		Width:       320,
		Height:      240,
		FPS:         15,
		Out:         os.Stdout,
	}
}

func main() {
	o := defaultOptions()
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "soaktool: SOAK_DURATION=%q: want a duration such as 10m\n", v)
			os.Exit(2)
		}
		o.Duration = d
	}
	flag.StringVar(&o.Daemon, "daemon", "", "the rtsp2mjpeg binary (required; go build -o BIN ./cmd/rtsp2mjpeg)")
	flag.DurationVar(&o.Duration, "duration", o.Duration, "how long the viewers churn (env SOAK_DURATION)")
	flag.DurationVar(&o.Sample, "sample", o.Sample, "sampling period")
	flag.IntVar(&o.Viewers, "viewers", o.Viewers, "churning viewers")
	flag.DurationVar(&o.RebootEvery, "reboot-every", o.RebootEvery, "period of camera c's reboots")
	flag.DurationVar(&o.RebootDown, "reboot-down", o.RebootDown, "how long camera c stays down at each reboot")
	flag.DurationVar(&o.MaxGap, "max-gap", o.MaxGap, "longest wait for a frame of a healthy camera")
	flag.DurationVar(&o.StayMax, "stay", o.StayMax, "longest time a viewer watches before leaving")
	flag.IntVar(&o.FPS, "fps", o.FPS, "cameras' frame rate")
	size := flag.String("size", fmt.Sprintf("%dx%d", o.Width, o.Height), "cameras' picture size WxH")
	flag.StringVar(&o.DaemonLog, "daemon-log", "", "write the daemon's whole log to this file")
	flag.Parse()
	if _, err := fmt.Sscanf(*size, "%dx%d", &o.Width, &o.Height); err != nil {
		fmt.Fprintf(os.Stderr, "soaktool: -size %q: want WxH\n", *size)
		os.Exit(2)
	}
	if o.Daemon == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := soak(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soaktool:", err)
		if res != nil {
			fmt.Fprintf(os.Stderr, "daemon log tail:\n%s\n", res.LogTail)
		}
		os.Exit(1)
	}
	if len(res.Failures) > 0 {
		fmt.Fprintf(os.Stderr, "daemon log tail:\n%s\n", res.LogTail)
		os.Exit(1)
	}
}

// sample is one row of the table.
type sample struct {
	At         time.Duration // since the start
	Viewers    int           // connected viewers (ours)
	Goroutines int           // go_goroutines of /metrics; -1 if missing
	Threads    int
	RSSKB      int
	FDs        int
	FFmpeg     int     // ffmpeg children of the daemon
	CPU        float64 // daemon's CPU use since the last sample, % of one core
	Restarts   int     // camera c's restarts
	Gap        time.Duration
}

// result is what a soak found.
type result struct {
	Samples    []sample
	Failures   []string
	Recoveries []time.Duration // camera c: from each return to the first live frame at a viewer
	MaxGap     map[string]time.Duration
	Visits     int
	Parts      int
	LogTail    string
}

// proc reads the daemon's numbers from /proc.
type proc struct{ pid int }

func (p proc) status(key string) int { return int(procfs.Status(p.pid, key)) }

func (p proc) fds() int { return procfs.FDs(p.pid) }

// cpuTicks is the daemon's user+system time in clock ticks (1/100 s).
func (p proc) cpuTicks() int {
	s, err := procfs.ReadStat(p.pid)
	if err != nil {
		return -1
	}
	return int(s.CPU / (10 * time.Millisecond))
}

// children lists the running child processes of the daemon named comm.
func (p proc) children(comm string) []int {
	var out []int
	for _, s := range procfs.Children(p.pid) {
		if s.Comm == comm && !s.Zombie() {
			out = append(out, s.PID)
		}
	}
	return out
}

// logTail keeps the last lines of the daemon's log.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if len(l.lines) > 200 {
		l.lines = l.lines[len(l.lines)-100:]
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// daemon is the rtsp2mjpeg process under soak.
type daemon struct {
	cmd  *exec.Cmd
	base string
	tail logTail
	done chan struct{}
	err  error
}

func startDaemon(o options, config string) (*daemon, error) {
	cmd := exec.Command(o.Daemon, "--config", config, "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "info")
	// The daemon dies with the soak, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = cmd.Stderr
	var logFile *os.File
	if o.DaemonLog != "" {
		if logFile, err = os.Create(o.DaemonLog); err != nil {
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, done: make(chan struct{})}
	serving := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.tail.add(line)
			if logFile != nil {
				fmt.Fprintln(logFile, line)
			}
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil && e["msg"] == "serving" {
				if addr, ok := e["listen"].(string); ok {
					select {
					case serving <- addr:
					default:
					}
				}
			}
		}
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it all first
		d.err = cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		close(d.done)
	}()
	select {
	case addr := <-serving:
		d.base = "http://" + addr
		return d, nil
	case <-d.done:
		return nil, fmt.Errorf("the daemon exited at start (%v):\n%s", d.err, d.tail.String())
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-d.done
		return nil, fmt.Errorf("the daemon did not serve within 15 s:\n%s", d.tail.String())
	}
}

// stop sends SIGTERM and waits up to 5 s for exit 0.
func (d *daemon) stop() error {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		if d.err != nil {
			return fmt.Errorf("the daemon's exit after SIGTERM: %v", d.err)
		}
		return nil
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		return errors.New("the daemon did not exit within 5 s of SIGTERM")
	}
}

var client = &http.Client{Timeout: 10 * time.Second}

func (d *daemon) getJSON(path string, v any) error {
	resp, err := client.Get(d.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// goroutines reads go_goroutines from /metrics, or -1.
func (d *daemon) goroutines() int {
	resp, err := client.Get(d.base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(f)
			}
		}
	}
	return -1
}

// watchers is what the churning viewers saw.
type watchers struct {
	healthy map[string]bool
	maxGap  time.Duration

	mu         sync.Mutex
	active     int
	visits     int
	parts      int
	gapMax     map[string]time.Duration // whole run, per camera
	windowGap  time.Duration            // healthy cameras, since the last sample
	failures   []string
	failed     int
	returnedAt time.Time // camera c's last return
	recovered  bool
	recoveries []time.Duration
}

func (w *watchers) fail(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failed++
	if len(w.failures) < 20 {
		w.failures = append(w.failures, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, a...))
	}
}

// gap records that a viewer of cam waited gap for a live frame.
func (w *watchers) gap(cam string, gap time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gapMax[cam] = max(w.gapMax[cam], gap)
	if w.healthy[cam] {
		w.windowGap = max(w.windowGap, gap)
	}
}

// live records a live frame of cam at a viewer.
func (w *watchers) live(cam string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parts++
	if !w.healthy[cam] && !w.recovered && !w.returnedAt.IsZero() && at.After(w.returnedAt) {
		w.recovered = true
		w.recoveries = append(w.recoveries, at.Sub(w.returnedAt))
	}
}

// watch is one visit: a viewer watches cam until ctx ends.
func (w *watchers) watch(ctx context.Context, base, cam string) {
	w.mu.Lock()
	w.active++
	w.visits++
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.active--
		w.mu.Unlock()
	}()
	start := time.Now()
	lastLive := start
	check := func(now time.Time) {
		g := now.Sub(lastLive)
		w.gap(cam, g)
		if w.healthy[cam] && g > w.maxGap {
			w.fail("a viewer of healthy camera %s waited %v for a frame", cam, g.Round(time.Millisecond))
		}
	}
	defer func() {
		if ctx.Err() != nil {
			check(time.Now()) // the wait in progress when the visit ended
		}
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/cameras/"+cam+"/video", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			w.fail("viewer of %s: %v", cam, err)
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		w.fail("viewer of %s: %s", cam, resp.Status)
		return
	}
	mr := multipart.NewReader(resp.Body, "frame")
	for {
		p, err := mr.NextPart()
		if err == nil {
			_, err = io.Copy(io.Discard, p)
		}
		if err != nil {
			if ctx.Err() == nil {
				w.fail("viewer of %s: stream ended: %v", cam, err)
			}
			return
		}
		now := time.Now()
		if p.Header.Get("X-No-Signal") == "1" {
			continue
		}
		check(now)
		lastLive = now
		w.live(cam, now)
	}
}

// churn runs one viewer: visits of a random camera for a random time, until
// ctx ends.
func (w *watchers) churn(ctx context.Context, o options, base string, cams []string) {
	for ctx.Err() == nil {
		stay := o.StayMin + rand.N(o.StayMax-o.StayMin+1)
		vctx, cancel := context.WithTimeout(ctx, stay)
		w.watch(vctx, base, cams[rand.IntN(len(cams))])
		cancel()
		select { // a pause between visits
		case <-ctx.Done():
		case <-time.After(rand.N(500 * time.Millisecond)):
		}
	}
}

// grows compares the last third of a series with its first third.
func grows(name string, series []int, slack int) string {
	n := len(series) / 3
	if n == 0 {
		return ""
	}
	first, last := slices.Max(series[:n]), slices.Max(series[len(series)-n:])
	if float64(last) > 1.5*float64(first)+float64(slack) {
		return fmt.Sprintf("%s grows: max %d in the first third of the samples, %d in the last (limit 1.5x + %d)", name, first, last, slack)
	}
	return ""
}

// soak runs a soak with o and reports what it saw; the error is for a soak
// that could not run at all.
func soak(ctx context.Context, o options) (*result, error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	names := []string{"a", "b", "c"} // c reboots
	cams := map[string]*synthcam.Camera{}
	defer func() {
		for _, c := range cams {
			_ = c.Close()
		}
	}()
	for _, name := range names {
		c, err := synthcam.Start(ctx, synthcam.Config{Width: o.Width, Height: o.Height, FPS: o.FPS, GOP: o.FPS})
		if err != nil {
			return nil, fmt.Errorf("camera %s: %w", name, err)
		}
		cams[name] = c
	}
	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var cfg strings.Builder
	cfg.WriteString("max_viewers: 0\nmax_viewers_per_camera: 0\ncameras:\n")
	for _, name := range names {
		fmt.Fprintf(&cfg, "  - name: %s\n    url: %s\n", name, cams[name].URL())
	}
	config := filepath.Join(dir, "cameras.yml")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	d, err := startDaemon(o, config)
	if err != nil {
		return nil, err
	}
	res := &result{}
	stopped := false
	defer func() {
		if !stopped {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	}()
	p := proc{d.cmd.Process.Pid}
	// All three streaming before the clock starts.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var all []struct{ State string }
		if err := d.getJSON("/api/cameras", &all); err == nil && len(all) == 3 &&
			all[0].State == "streaming" && all[1].State == "streaming" && all[2].State == "streaming" {
			break
		}
		if time.Now().After(deadline) {
			res.LogTail = d.tail.String()
			return res, errors.New("the cameras did not all stream within 20 s")
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}

	w := &watchers{healthy: map[string]bool{"a": true, "b": true}, maxGap: o.MaxGap, gapMax: map[string]time.Duration{}}
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for range o.Viewers {
		wg.Go(func() { w.churn(runCtx, o, d.base, names) })
	}
	wg.Go(func() { // camera c reboots
		t := time.NewTicker(o.RebootEvery)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			if err := cams["c"].Reboot(o.RebootDown); err != nil {
				if runCtx.Err() == nil {
					w.fail("camera c reboot: %v", err)
				}
				return
			}
			w.mu.Lock()
			if !w.returnedAt.IsZero() && !w.recovered {
				w.failures = append(w.failures, "camera c: no live frame reached a viewer between two reboots")
				w.failed++
			}
			w.returnedAt, w.recovered = time.Now(), false
			w.mu.Unlock()
		}
	})

	fmt.Fprintf(out, "soak: daemon pid %d on %s, cameras a b c (c reboots every %v for %v), %d viewers, %v, sample every %v\n",
		p.pid, d.base, o.RebootEvery, o.RebootDown, o.Viewers, o.Duration, o.Sample)
	fmt.Fprintf(out, "%8s %7s %10s %7s %8s %5s %6s %6s %10s %9s\n",
		"time", "viewers", "goroutines", "threads", "rss_MiB", "fds", "ffmpeg", "cpu%", "c_restarts", "max_gap")
	start := time.Now()
	ticks := p.cpuTicks()
	lastAt := start
	tick := time.NewTicker(o.Sample)
	defer tick.Stop()
	take := func() {
		now := time.Now()
		var c struct{ Restarts int }
		_ = d.getJSON("/api/cameras/c", &c)
		cpu := p.cpuTicks()
		w.mu.Lock()
		s := sample{
			At: now.Sub(start), Viewers: w.active, Goroutines: d.goroutines(), Threads: p.status("Threads"),
			RSSKB: p.status("VmRSS"), FDs: p.fds(), FFmpeg: len(p.children("ffmpeg")),
			CPU: float64(cpu-ticks) / now.Sub(lastAt).Seconds(), Restarts: c.Restarts, Gap: w.windowGap,
		}
		w.windowGap = 0
		w.mu.Unlock()
		ticks, lastAt = cpu, now
		res.Samples = append(res.Samples, s)
		at := s.At.Round(time.Second).String()
		if runCtx.Err() != nil {
			at = "end" // the viewers are gone
		}
		fmt.Fprintf(out, "%8s %7d %10d %7d %8.1f %5d %6d %6.1f %10d %9s\n",
			at, s.Viewers, s.Goroutines, s.Threads, float64(s.RSSKB)/1024, s.FDs, s.FFmpeg, s.CPU,
			s.Restarts, s.Gap.Round(time.Millisecond))
		if s.FFmpeg > len(names) {
			res.Failures = append(res.Failures, fmt.Sprintf("%v: %d ffmpeg processes for %d cameras", s.At.Round(time.Second), s.FFmpeg, len(names)))
		}
	}
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case <-d.done:
			res.Failures = append(res.Failures, fmt.Sprintf("the daemon exited during the soak: %v", d.err))
			break loop
		case <-tick.C:
			take()
		}
	}
	interrupted := ctx.Err() != nil
	wg.Wait()
	// The viewers are gone: one more sample, then the verdict.
	select {
	case <-d.done:
	default:
		take()
	}

	w.mu.Lock()
	res.Failures = append(res.Failures, w.failures...)
	if w.failed > len(w.failures) {
		res.Failures = append(res.Failures, fmt.Sprintf("... %d viewer failures in all", w.failed))
	}
	res.Recoveries = w.recoveries
	res.MaxGap = w.gapMax
	res.Visits, res.Parts = w.visits, w.parts
	w.mu.Unlock()
	// Growth, over the samples taken while the viewers churned.
	during := res.Samples[:max(len(res.Samples)-1, 0)]
	col := func(f func(sample) int) []int {
		var v []int
		for _, s := range during {
			v = append(v, f(s))
		}
		return v
	}
	for _, g := range []struct {
		name   string
		series []int
		slack  int
	}{
		{"goroutines", col(func(s sample) int { return s.Goroutines }), 40},
		{"threads", col(func(s sample) int { return s.Threads }), 4},
		{"RSS (kB)", col(func(s sample) int { return s.RSSKB }), 16 << 10},
		{"open fds", col(func(s sample) int { return s.FDs }), 20},
		{"ffmpeg processes", col(func(s sample) int { return s.FFmpeg }), 0},
	} {
		if msg := grows(g.name, g.series, g.slack); msg != "" {
			res.Failures = append(res.Failures, msg)
		}
	}
	pids := p.children("ffmpeg")
	if err := d.stop(); err != nil {
		res.Failures = append(res.Failures, err.Error())
	}
	stopped = true
	for _, pid := range pids {
		if procfs.Alive(pid) {
			res.Failures = append(res.Failures, fmt.Sprintf("ffmpeg %d still running after the daemon stopped", pid))
		}
	}
	res.LogTail = d.tail.String()

	fmt.Fprintf(out, "soak: %d visits, %d live frames seen; longest wait for a frame: a %v, b %v, c %v (reboots)\n",
		res.Visits, res.Parts, res.MaxGap["a"].Round(time.Millisecond), res.MaxGap["b"].Round(time.Millisecond), res.MaxGap["c"].Round(time.Millisecond))
	if len(res.Recoveries) > 0 {
		r := slices.Clone(res.Recoveries)
		slices.Sort(r)
		fmt.Fprintf(out, "soak: camera c back at a viewer after each of %d reboots: min %v, median %v, max %v\n",
			len(r), r[0].Round(time.Millisecond), r[len(r)/2].Round(time.Millisecond), r[len(r)-1].Round(time.Millisecond))
	}
	if interrupted {
		res.Failures = append(res.Failures, "interrupted")
	}
	if len(res.Failures) == 0 {
		fmt.Fprintln(out, "soak: PASS")
	} else {
		fmt.Fprintf(out, "soak: FAIL\n  %s\n", strings.Join(res.Failures, "\n  "))
	}
	return res, nil
}
