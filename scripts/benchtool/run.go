package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// benchOpts are the options every mode of the benchmark has: what to run,
// the synthetic camera's picture, and where the results go.
type benchOpts struct {
	daemon, testcam string
	quick           bool
	width, height   int
	fps             int
	deadline        time.Duration
	workdir         string
	out             string
	source          string
}

// flags registers the options of b on fs; quick says what --quick makes
// of the mode.
func (b *benchOpts) flags(fs *flag.FlagSet, quick string) {
	fs.StringVar(&b.daemon, "daemon", "", "rtsp2mjpeg binary (go build ./cmd/rtsp2mjpeg)")
	fs.StringVar(&b.testcam, "testcam", "", "testcam binary (go build ./cmd/testcam)")
	fs.BoolVar(&b.quick, "quick", false, quick)
	fs.IntVar(&b.width, "width", 1280, "camera width")
	fs.IntVar(&b.height, "height", 720, "camera height")
	fs.IntVar(&b.fps, "fps", 15, "camera frame rate")
	fs.DurationVar(&b.deadline, "deadline", 0, "stop measuring after this long (default 9m, quick 4m)")
	fs.StringVar(&b.workdir, "workdir", "", "directory for configs and process logs (default: a new temp dir, removed unless a phase failed)")
	fs.StringVar(&b.out, "out", "", "also write the markdown report to this file")
	fs.StringVar(&b.source, "source", "", "what was built, for the report (bench.sh passes the git commit)")
}

// check completes b after parsing: the binaries are required (and made
// absolute), the deadline defaults.
func (b *benchOpts) check(mode string) error {
	if b.daemon == "" || b.testcam == "" {
		return fmt.Errorf("%s: --daemon and --testcam are required", mode)
	}
	if b.fps < 1 {
		return fmt.Errorf("%s: --fps must be positive", mode)
	}
	b.orDefault(&b.deadline, 9*time.Minute, 4*time.Minute)
	var err error
	for _, p := range []*string{&b.daemon, &b.testcam} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	return nil
}

// orDefault sets an unset duration to its full or its quick default.
func (b *benchOpts) orDefault(d *time.Duration, full, quick time.Duration) {
	if *d == 0 {
		*d = full
		if b.quick {
			*d = quick
		}
	}
}

type runOpts struct {
	benchOpts
	window    time.Duration // per viewer load, ffmpeg floor, writer floor
	camWindow time.Duration // per camera kind
	settle    time.Duration // after a ramp-up or a start, before a window
	loads     []int
	reps      int // daemon starts per GOP
	odReps    int // on-demand first snapshots
	snapshots int
}

func parseRunOpts(args []string) (runOpts, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o runOpts
	var loads string
	o.flags(fs, "short windows and one start per case: about 2 minutes")
	fs.DurationVar(&o.window, "window", 0, "measurement window per viewer load and floor (default 15s, quick 4s)")
	fs.DurationVar(&o.camWindow, "cam-window", 0, "measurement window per camera kind (default 10s, quick 4s)")
	fs.StringVar(&loads, "loads", "1,10,50,200", "concurrent /video viewers, ascending")
	fs.IntVar(&o.reps, "starts", 0, "daemon starts per GOP for the first-frame time (default 3, quick 1)")
	fs.IntVar(&o.snapshots, "snapshots", 200, "sequential /snapshot requests per latency figure")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := o.check("run"); err != nil {
		return o, err
	}
	o.orDefault(&o.window, 15*time.Second, 4*time.Second)
	o.orDefault(&o.camWindow, 10*time.Second, 4*time.Second)
	o.settle = 2 * time.Second
	o.odReps = 3
	if o.reps == 0 {
		o.reps = 3
	}
	if o.quick {
		o.settle = time.Second
		o.odReps, o.reps = 1, 1
	}
	for _, s := range strings.Split(loads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 2000 || (len(o.loads) > 0 && n <= o.loads[len(o.loads)-1]) {
			return o, fmt.Errorf("run: --loads %q: want ascending counts in 1..2000", loads)
		}
		o.loads = append(o.loads, n)
	}
	if o.snapshots < 1 || o.snapshots > 10000 || o.reps < 1 || o.reps > 20 {
		return o, errors.New("run: --snapshots in 1..10000, --starts in 1..20")
	}
	return o, nil
}

// Results of each phase; a nil or err field is reported as not measured.
type startRes struct {
	gop            int
	healthz, first []time.Duration
	err            error
}

type latRes struct {
	lat      []time.Duration // sorted
	failed   int
	firstErr error
}

type onDemandRes struct {
	gop int
	latRes
}

type loadRes struct {
	viewers      int
	vs           viewStats
	daemon       cpuUse // self: the daemon; kids: its ffmpeg
	rssKB, hwmKB int64
	bench, cam   float64 // the benchmark itself, the testcam(s) with their ffmpeg
	machine      float64
	camFPS       float64 // frames per second the daemon got from ffmpeg
	frameBytes   float64
	snap         *latRes         // snapshots at this load
	extra        map[int]float64 // CPU s/s of other processes measured along
	err          error
}

type writerRes struct {
	conns, size int
	vs          viewStats
	cpu         float64
	bench, cam  float64
	machine     float64
	err         error
}

// others is the busy CPU of the machine not spent by the benchmark's
// processes: other programs, and kernel work not charged to a process.
func (w *writerRes) others() float64 { return max(0, w.machine-w.cpu-w.bench-w.cam) }

type camRes struct {
	label, kind string
	daemonFF    float64 // CPU s/s of the daemon's ffmpeg
	daemonSelf  float64 // CPU s/s of the daemon itself, no viewer
	outFPS      float64
	frameBytes  float64
	skipFrame   bool // the daemon's ffmpeg had -skip_frame
	daemonErr   error
	alone       float64 // CPU s/s of ffmpeg alone doing the same
	aloneCmd    string
	aloneErr    error
	hasDaemon   bool
	hasAlone    bool
	watch       string // a path one viewer reads during the window; "": none
}

type results struct {
	started      time.Time
	load0, load1 string
	startup      []startRes
	onDemand     []onDemandRes
	snapIdle     *latRes
	readFloors   []readFloorRes
	loads        []loadRes // loads[0] has no viewer
	writers      []writerRes
	cams         []camRes
	wall         *wallRes
	relay        *relayRes
	errs         []string
	meanFrame    int
	elapsed      time.Duration
	daemonLogDir string
	retried      int // windows measured again because other programs were busy
}

// benchEnv prepares a run: ffmpeg on PATH, the work directory (a new
// temporary one, named after prefix, when *workdir is ""; tmp says so),
// and a context that ends on SIGINT or SIGTERM or after deadline, which
// stop releases.
func benchEnv(workdir *string, prefix string, deadline time.Duration) (ctx context.Context, exe string, tmp bool, stop func(), err error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return nil, "", false, nil, errors.New("ffmpeg not in PATH (scripts/setup.sh installs it)")
	}
	if exe, err = os.Executable(); err != nil {
		return nil, "", false, nil, err
	}
	tmp = *workdir == ""
	if tmp {
		if *workdir, err = os.MkdirTemp("", prefix); err != nil {
			return nil, "", false, nil, err
		}
	} else if err := os.MkdirAll(*workdir, 0o755); err != nil {
		return nil, "", false, nil, err
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, deadline)
	return ctx, exe, tmp, func() { cancel(); stopSignals() }, nil
}

type bench struct {
	o    runOpts
	ctx  context.Context
	ps   *procs
	self int
	res  results
	exe  string
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[%5.1fs] "+format+"\n", append([]any{time.Since(b.res.started).Seconds()}, a...)...)
}

func (b *bench) fail(phase string, err error) {
	b.logf("%s: %v", phase, err)
	b.res.errs = append(b.res.errs, fmt.Sprintf("%s: %v", phase, err))
}

func cmdRun(args []string) error {
	o, err := parseRunOpts(args)
	if err != nil {
		return err
	}
	for _, p := range []*string{&o.daemon, &o.testcam} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	ctx, exe, tmp, stop, err := benchEnv(&o.workdir, "rtsp2mjpeg-bench-", o.deadline)
	if err != nil {
		return err
	}
	defer stop()

	b := &bench{o: o, ctx: ctx, ps: &procs{dir: o.workdir}, self: os.Getpid(), exe: exe}
	b.res.started = time.Now()
	b.res.load0 = loadavg()
	b.res.daemonLogDir = o.workdir
	defer b.ps.stopAll() // also on panic: no process outlives the run

	b.runAll()
	b.ps.stopAll()
	b.res.load1 = loadavg()
	b.res.elapsed = time.Since(b.res.started)

	report := b.report()
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
	}
	if tmp && len(b.res.errs) == 0 {
		_ = os.RemoveAll(o.workdir)
	} else {
		fmt.Fprintf(os.Stderr, "benchtool: process logs kept in %s\n", o.workdir)
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return errors.New("interrupted")
	}
	return nil
}

func (b *bench) runAll() {
	o := b.o
	// 1. First frame after start, short keyframe interval.
	cam4, err := b.startCam("testcam-gop4", "h264", 4)
	if err != nil {
		b.fail("testcam gop 4", err)
	} else {
		b.res.startup = append(b.res.startup, b.startup(cam4.url, 4))
		defer cam4.p.stop(6 * time.Second)
	}
	if b.ctx.Err() != nil {
		return
	}
	// The camera of every following phase: 720p15 h264, a keyframe a second.
	cam, err := b.startCam("testcam-gop15", "h264", o.fps)
	if err != nil {
		b.fail("testcam gop 15", err)
		return
	}
	b.res.startup = append(b.res.startup, b.startup(cam.url, o.fps))
	if b.ctx.Err() != nil {
		return
	}

	// 2. One daemon: on-demand snapshot, no-viewer cost, snapshots, loads.
	b.mainDaemon(cam.url, cam4)
	if b.ctx.Err() != nil {
		return
	}

	// 3. The loopback write floor with the measured frame size.
	size := b.res.meanFrame
	if size <= 0 {
		size = 30 << 10
	}
	var floors []int
	for _, n := range o.loads {
		if n == 50 || n == 200 {
			floors = append(floors, n)
		}
	}
	if len(floors) == 0 {
		floors = o.loads[len(o.loads)-1:]
	}
	for _, n := range floors {
		b.res.writers = append(b.res.writers, b.writerFloor(n, size))
		if b.ctx.Err() != nil {
			return
		}
	}

	// 4. ffmpeg per camera kind, the daemon's and ffmpeg alone doing the same
	// work in the same window: full rate, fps-capped, fps 1.
	for _, c := range []struct {
		label string
		fps   float64
	}{
		{fmt.Sprintf("full rate (%dp%d h264 → MJPEG)", o.height, o.fps), 0},
		{"fps-capped (fps: 5)", 5},
		{"fps: 1 (as the daemon runs it)", 1},
	} {
		cfg := floorConfig(cam.url)
		cfg.FPS = c.fps
		extra := noThumb
		if c.fps > 0 {
			extra += fmt.Sprintf("    fps: %g\n", c.fps)
		}
		r := camRes{label: c.label, hasDaemon: true, hasAlone: true}
		b.camDaemon(&r, cam.url, extra, aloneArgs(cfg, 0))
		b.res.cams = append(b.res.cams, r)
		if b.ctx.Err() != nil {
			return
		}
	}
	// fps 1 the other way round (keyframes only or not), ffmpeg alone.
	cfg := floorConfig(cam.url)
	cfg.FPS = 1
	r := camRes{label: "fps 1, keyframes only (-skip_frame nokey), ffmpeg alone", hasAlone: true}
	skip := 1
	if skipsFrames(cfg) {
		r.label, skip = "fps 1, every frame decoded (no -skip_frame), ffmpeg alone", -1
	}
	r.aloneCmd, r.alone, r.aloneErr = b.ffmpegAlone("ffmpeg-alone", aloneArgs(cfg, skip), o.camWindow)
	b.res.cams = append(b.res.cams, r)
	if b.ctx.Err() != nil {
		return
	}
	// The built-in thumb (the default): one more output of the same ffmpeg.
	cfg = floorConfig(cam.url)
	cfg.Profiles = pipeline.DefaultProfiles()
	r = camRes{label: fmt.Sprintf("full rate + thumb output (the default: %dp%d h264 → MJPEG, and 320 px at 5 fps)", o.height, o.fps), hasDaemon: true, hasAlone: true}
	b.camDaemon(&r, cam.url, "", aloneArgs(cfg, 0))
	b.res.cams = append(b.res.cams, r)
	if b.ctx.Err() != nil {
		return
	}
	// 5. The page's wall: bytes per tile.
	b.wall(cam.url)
	if b.ctx.Err() != nil {
		return
	}
	// 6. One relay hop: delay and CPU.
	b.relay(cam.url)
	if b.ctx.Err() != nil {
		return
	}

	cam.p.stop(6 * time.Second)
	mj, err := b.startCam("testcam-mjpeg", "mjpeg", o.fps)
	if err != nil {
		b.fail("testcam mjpeg", err)
		return
	}
	r = camRes{label: fmt.Sprintf("codec copy (%dp%d MJPEG camera)", o.height, o.fps), hasDaemon: true, hasAlone: true}
	cfg = floorConfig(mj.url)
	cfg.Codec = pipeline.CodecCopy
	b.camDaemon(&r, mj.url, "    codec: copy\n"+noThumb, aloneArgs(cfg, 0))
	b.res.cams = append(b.res.cams, r)
	if b.ctx.Err() == nil {
		r = camRes{label: "codec copy with the default thumb, nobody watching it (made only while watched: nothing decoded)", hasDaemon: true, hasAlone: true}
		cfg.Profiles = pipeline.DefaultProfiles()
		b.camDaemon(&r, mj.url, "    codec: copy\n", aloneArgs(cfg, 0))
		b.res.cams = append(b.res.cams, r)
	}
	if b.ctx.Err() == nil {
		// The thumb watched: the camera's ffmpeg (copy) and the thumb's
		// transcoder, fed from memory at 5 fps, against the two as ffmpeg
		// alone would run them: one process decoding the camera for the thumb.
		r = camRes{label: "codec copy, its thumb watched (a `?profile=thumb` viewer: + the transcoder, 5 fps decoded); alone: copy + a thumb output decoding every frame", hasDaemon: true, hasAlone: true}
		cfg.Profiles = pipeline.DefaultProfiles()
		alone := floorConfig(mj.url) // encodes: the profile output as a copy camera would need without the transcoder
		alone.Codec = pipeline.CodecMJPEG
		alone.Profiles = pipeline.DefaultProfiles()
		args := aloneArgs(alone, 0)
		for i, a := range args { // the main output copies, as the daemon's
			if a == "mjpeg" && i > 0 && args[i-1] == "-c:v" {
				args[i] = "copy"
				break
			}
		}
		r.watch = "/cameras/cam/video?profile=thumb"
		b.camDaemon(&r, mj.url, "    codec: copy\n", args)
		b.res.cams = append(b.res.cams, r)
	}
	mj.p.stop(6 * time.Second)
}

type testcam struct {
	p   *proc
	url string
}

func (b *bench) startCam(name, codec string, gop int) (testcam, error) {
	b.logf("starting %s (%dx%d %d fps %s, gop %d)", name, b.o.width, b.o.height, b.o.fps, codec, gop)
	p, err := b.ps.start(name, b.o.testcam, "--listen", "127.0.0.1:0",
		"--size", fmt.Sprintf("%dx%d", b.o.width, b.o.height), "--fps", strconv.Itoa(b.o.fps),
		"--codec", codec, "--gop", strconv.Itoa(gop))
	if err != nil {
		return testcam{}, err
	}
	url, err := waitFirstLine(b.ctx, p, 30*time.Second)
	if err != nil {
		p.stop(6 * time.Second)
		return testcam{}, err
	}
	if !strings.HasPrefix(url, "rtsp://127.0.0.1:") {
		p.stop(6 * time.Second)
		return testcam{}, fmt.Errorf("%s printed %q, not its URL", name, url)
	}
	return testcam{p: p, url: url}, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// daemon is a running rtsp2mjpeg.
type daemon struct {
	p    *proc
	addr string
	t0   time.Time // just before exec
}

func (b *bench) startDaemon(name string, args ...string) (*daemon, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args = append(args, "--listen", addr, "--log-level", "warn")
	t0 := time.Now()
	p, err := b.ps.start(name, b.o.daemon, args...)
	if err != nil {
		return nil, err
	}
	return &daemon{p: p, addr: addr, t0: t0}, nil
}

// stop ends the daemon and waits for its ffmpeg children to be gone.
func (d *daemon) stop() {
	kids := childrenOf(d.p.pid())
	d.p.stop(6 * time.Second)
	pids := make([]int, 0, len(kids))
	for p := range kids {
		pids = append(pids, p)
	}
	_ = waitGone(pids, 5*time.Second)
}

var quickClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 2},
}

// waitHealthz polls /healthz every 5 ms until it answers 200.
func (b *bench) waitHealthz(d *daemon, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		resp, err := c.Get("http://" + d.addr + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		switch {
		case !d.p.alive():
			return time.Time{}, fmt.Errorf("daemon exited: %s", d.p.tail(10))
		case time.Now().After(deadline):
			return time.Time{}, fmt.Errorf("/healthz not answering after %v", timeout)
		case b.ctx.Err() != nil:
			return time.Time{}, b.ctx.Err()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type camStatus struct {
	State       string     `json:"state"`
	Frames      uint64     `json:"frames"`
	Bytes       uint64     `json:"bytes"`
	Restarts    uint64     `json:"restarts"`
	Running     bool       `json:"ffmpeg_running"`
	LastFrameAt *time.Time `json:"last_frame_at"`
	LastError   string     `json:"last_error"`
}

func status(ctx context.Context, addr, cam string) (camStatus, error) {
	var s camStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/cameras/"+cam, nil)
	if err != nil {
		return s, err
	}
	resp, err := quickClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/api/cameras/%s: %s", cam, resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitStatus polls a camera's status until ok says so, bounded by timeout.
func (b *bench) waitStatus(d *daemon, cam string, timeout time.Duration, ok func(camStatus) bool) (camStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, err := status(b.ctx, d.addr, cam)
		if err == nil && ok(s) {
			return s, nil
		}
		switch {
		case !d.p.alive():
			return s, fmt.Errorf("daemon exited: %s", d.p.tail(10))
		case time.Now().After(deadline):
			return s, fmt.Errorf("camera %s: state %q, last error %q after %v (%v)", cam, s.State, s.LastError, timeout, err)
		case b.ctx.Err() != nil:
			return s, b.ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bench) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.ctx.Done():
	}
}

// startup measures, o.reps times, the time from exec of the daemon to the
// first camera frame at a viewer that connects once /healthz answers.
func (b *bench) startup(url string, gop int) startRes {
	r := startRes{gop: gop}
	for i := range b.o.reps {
		if b.ctx.Err() != nil {
			r.err = b.ctx.Err()
			break
		}
		d, err := b.startDaemon(fmt.Sprintf("daemon-start-gop%d", gop), "--url", url)
		if err != nil {
			r.err = err
			break
		}
		hz, err := b.waitHealthz(d, 20*time.Second)
		if err == nil {
			var v *viewer
			if v, err = startViewer(b.ctx, d.addr, "/video"); err == nil {
				t := time.NewTimer(20 * time.Second)
				select {
				case <-v.first:
					v.mu.Lock()
					first := v.firstAt.Sub(d.t0)
					v.mu.Unlock()
					r.healthz = append(r.healthz, hz.Sub(d.t0))
					r.first = append(r.first, first)
					b.logf("gop %d start %d: /healthz after %v, first frame after %v", gop, i+1, hz.Sub(d.t0).Round(time.Millisecond), first.Round(time.Millisecond))
				case <-v.done:
					err = fmt.Errorf("stream ended before the first frame: %v", v.failed())
				case <-t.C:
					err = errors.New("no first frame within 20s")
				case <-b.ctx.Done():
					err = b.ctx.Err()
				}
				t.Stop()
				v.close()
			}
		}
		d.stop()
		if err != nil {
			r.err = err
			b.fail(fmt.Sprintf("first frame, gop %d", gop), fmt.Errorf("%w; daemon log: %s", err, d.p.tail(5)))
			break
		}
	}
	return r
}

// onDemandSnapshot times the first snapshot of an idle on-demand camera.
func (b *bench) onDemandSnapshot(d *daemon, cam string, gop int) {
	r := onDemandRes{gop: gop}
	defer func() { b.res.onDemand = append(b.res.onDemand, r) }()
	for range b.o.odReps {
		// Idle, and its newest frame older than max_age (2 s): the snapshot
		// must start ffmpeg and wait for a new frame.
		_, err := b.waitStatus(d, cam, 20*time.Second, func(s camStatus) bool {
			return !s.Running && (s.LastFrameAt == nil || time.Since(*s.LastFrameAt) > 2500*time.Millisecond)
		})
		if err != nil {
			r.failed++
			r.firstErr = err
			break
		}
		t0 := time.Now()
		code, n, err := get(b.ctx, "http://"+d.addr+"/cameras/"+cam+"/snapshot")
		lat := time.Since(t0)
		if err == nil && (code != http.StatusOK || n == 0) {
			err = fmt.Errorf("answer %d, %d bytes", code, n)
		}
		if err != nil {
			r.failed++
			r.firstErr = err
			continue
		}
		r.lat = append(r.lat, lat)
		b.logf("on-demand first snapshot, gop %d: %v", gop, lat.Round(time.Millisecond))
	}
	slices.Sort(r.lat)
	// Let it go idle again, so that its ffmpeg does not run during the loads.
	if _, err := b.waitStatus(d, cam, 15*time.Second, func(s camStatus) bool { return !s.Running }); err != nil {
		b.fail("on-demand camera back to idle", err)
	}
}

func get(ctx context.Context, url string) (code int, n int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := quickClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n, err
}

// snapshots times n sequential snapshots on one keep-alive connection
// (after one untimed request that opens it).
func (b *bench) snapshots(d *daemon, n int) *latRes {
	r := &latRes{}
	url := "http://" + d.addr + "/snapshot"
	_, _, _ = get(b.ctx, url)
	for range n {
		if b.ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		code, size, err := get(b.ctx, url)
		lat := time.Since(t0)
		if err == nil && (code != http.StatusOK || size == 0) {
			err = fmt.Errorf("answer %d, %d bytes", code, size)
		}
		if err != nil {
			r.failed++
			if r.firstErr == nil {
				r.firstErr = err
			}
			continue
		}
		r.lat = append(r.lat, lat)
	}
	slices.Sort(r.lat)
	return r
}

func (b *bench) roots(extra ...int) []int {
	r := []int{b.self}
	b.ps.mu.Lock()
	for _, p := range b.ps.all {
		if p.alive() {
			r = append(r, p.pid())
		}
	}
	b.ps.mu.Unlock()
	return append(r, extra...)
}

// othersCPU sums the CPU s/s of every live process of the benchmark (and
// their children) but the excluded ones.
func (b *bench) othersCPU(a, z cpuSnap, names ...string) float64 {
	var sum float64
	b.ps.mu.Lock()
	defer b.ps.mu.Unlock()
	for _, p := range b.ps.all {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(p.name, n) }) {
			continue
		}
		if _, ok := z.self[p.pid()]; ok {
			u := a.use(z, p.pid())
			sum += u.self + u.kids
		}
	}
	return sum
}

// window measures the daemon and the viewers for o.window.
func (b *bench) window(d *daemon, vs []*viewer, dur time.Duration, cam string, extra ...int) loadRes {
	r := loadRes{viewers: len(vs)}
	s0, err0 := status(b.ctx, d.addr, cam)
	start := beginWindow(vs)
	snaps := sleepSnaps(b.sleep, dur, func() []int { return b.roots() })
	st := endWindow(vs, start)
	a, z := snaps[0], snaps[len(snaps)-1]
	s1, err1 := status(b.ctx, d.addr, cam)
	r.vs = st
	r.daemon = medianUse(snaps, d.p.pid())
	r.rssKB, r.hwmKB = memKB(d.p.pid())
	r.bench = a.use(z, b.self).self
	r.cam = b.othersCPU(a, z, "testcam")
	r.machine = a.machine(z)
	r.extra = map[int]float64{}
	for _, pid := range extra {
		u := medianUse(snaps, pid)
		r.extra[pid] = u.self + u.kids
	}
	if err0 == nil && err1 == nil && s1.Frames > s0.Frames {
		secs := z.at.Sub(a.at).Seconds()
		r.camFPS = float64(s1.Frames-s0.Frames) / secs
		r.frameBytes = float64(s1.Bytes-s0.Bytes) / float64(s1.Frames-s0.Frames)
		if s1.Restarts != s0.Restarts {
			r.err = fmt.Errorf("ffmpeg restarted %d times in the window", s1.Restarts-s0.Restarts)
		}
	}
	if !d.p.alive() {
		r.err = fmt.Errorf("daemon exited: %s", d.p.tail(10))
	}
	return r
}

const mainConfig = `# written by scripts/benchtool
# No thumb: the per-viewer figures stay comparable with those before profiles.
profiles:
  thumb: false
cameras:
  - name: main
    url: %q
  - name: ondemand
    url: %q
    on_demand: true
    idle_timeout: 1s
`

// ondemand4 is an on-demand camera with a short keyframe interval.
const ondemand4 = `  - name: ondemand4
    url: %q
    on_demand: true
    idle_timeout: 1s
`

// mainDaemon runs the daemon with the main camera (url) and on-demand ones
// (the same camera, and cam4 with a short keyframe interval, which it stops
// before the loads).
func (b *bench) mainDaemon(url string, cam4 testcam) {
	cfgPath := filepath.Join(b.o.workdir, "main.yml")
	y := fmt.Appendf(nil, mainConfig, url, url)
	if cam4.p != nil && cam4.p.alive() {
		y = fmt.Appendf(y, ondemand4, cam4.url)
	}
	if err := os.WriteFile(cfgPath, y, 0o644); err != nil {
		b.fail("main config", err)
		return
	}
	b.logf("main daemon: camera main and on-demand ones, loads %v", b.o.loads)
	d, err := b.startDaemon("daemon-main", "--config", cfgPath)
	if err != nil {
		b.fail("main daemon", err)
		return
	}
	defer d.stop()
	if _, err := b.waitHealthz(d, 20*time.Second); err != nil {
		b.fail("main daemon", err)
		return
	}
	if _, err := b.waitStatus(d, "main", 20*time.Second, func(s camStatus) bool { return s.Frames > 0 }); err != nil {
		b.fail("main daemon", err)
		return
	}
	if cam4.p != nil && cam4.p.alive() {
		b.onDemandSnapshot(d, "ondemand4", 4)
		cam4.p.stop(6 * time.Second) // its encoder would weigh on the loads
	}
	b.onDemandSnapshot(d, "ondemand", b.o.fps)
	if b.ctx.Err() != nil {
		return
	}

	// The pipe read floors read the same camera through ffmpeg with the
	// daemon's own command line, measured in the same window as the daemon.
	floors := b.startReadFloors(url)
	b.sleep(max(b.o.settle, 3*time.Second)) // their ffmpeg: connect, first keyframe
	b.logf("no viewer: %v window", b.o.window)
	l0 := b.quietWindow(d, nil, "main", floors.pids()...)
	b.res.loads = append(b.res.loads, l0)
	b.res.readFloors = floors.results(l0)
	floors.stop()
	for _, f := range b.res.readFloors {
		if f.err != nil {
			b.fail("pipe read floor, "+f.label, f.err)
		}
	}
	b.res.snapIdle = b.snapshots(d, b.o.snapshots)
	b.logf("no viewer: daemon %.3f, ffmpeg %.3f CPU s/s; snapshot p50 %v p99 %v",
		l0.daemon.self, l0.daemon.kids, quantile(b.res.snapIdle.lat, .5), quantile(b.res.snapIdle.lat, .99))

	var vs []*viewer
	defer func() { closeAll(vs) }()
	for _, n := range b.o.loads {
		if b.ctx.Err() != nil {
			return
		}
		more, err := rampUp(b.ctx, d.addr, "/video", n-len(vs), 20*time.Second)
		vs = append(vs, more...)
		if err != nil {
			b.res.loads = append(b.res.loads, loadRes{viewers: n, err: fmt.Errorf("ramp-up: %w", err)})
			b.fail(fmt.Sprintf("%d viewers", n), err)
			return
		}
		b.sleep(b.o.settle)
		l := b.quietWindow(d, vs, "main")
		if n == 50 || n == b.o.loads[len(b.o.loads)-1] {
			l.snap = b.snapshots(d, b.o.snapshots)
		}
		b.res.loads = append(b.res.loads, l)
		if n == 50 || b.res.meanFrame == 0 && l.vs.frames > 0 {
			b.res.meanFrame = int(l.vs.bytes / max(l.vs.frames, 1))
		}
		b.logf("%d viewers: fps min %.2f, worst gap %v, daemon %.3f CPU s/s = %.1f µs/viewer-frame, RSS %.1f MB, delay p99 %v, benchtool %.3f",
			n, quantile(l.vs.fps, 0), quantile(l.vs.gaps, 1).Round(time.Millisecond), l.daemon.self,
			perFrameUS(l.daemon.self, l.vs), float64(l.rssKB)/1024, quantile(l.vs.delays, .99), l.bench)
	}
}

// quietOthers is how much CPU other programs may take during a window
// before it is measured again (CPU s/s).
const quietOthers = 0.25

// quietWindow measures a window; when other programs took more than
// quietOthers, it measures once more and keeps the quieter one.
func (b *bench) quietWindow(d *daemon, vs []*viewer, cam string, extra ...int) loadRes {
	l := b.window(d, vs, b.o.window, cam, extra...)
	if l.others() > quietOthers && l.err == nil && b.ctx.Err() == nil {
		b.logf("%d viewers: other programs took %.2f CPU s/s during the window: measuring again", len(vs), l.others())
		b.res.retried++
		if l2 := b.window(d, vs, b.o.window, cam, extra...); l2.err == nil && l2.others() < l.others() {
			l = l2
		}
	}
	return l
}

func perFrameUS(cpu float64, st viewStats) float64 {
	if st.frames == 0 || st.secs == 0 {
		return 0
	}
	return cpu * st.secs * 1e6 / float64(st.frames)
}

// floorConfig is the daemon's camera config for url, for ffmpeg alone:
// without profiles (noThumb in the daemon's config) unless a row adds them.
func floorConfig(url string) pipeline.CameraConfig {
	c := pipeline.DefaultCameraConfig("floor", url)
	c.Codec = pipeline.CodecMJPEG
	c.Profiles = nil
	return c
}

// noThumb is the camera key that turns the built-in thumb profile off, for
// the rows and loads that measure what they measured before profiles.
const noThumb = "    profiles: {thumb: false}\n"

// aloneArgs is the daemon's ffmpeg command line (pipeline.BuildArgs: the
// same input options) writing to /dev/null instead of the pipe. skip adds
// (+1) or removes (-1) "-skip_frame nokey" (decode keyframes only), 0 keeps
// what BuildArgs does.
func aloneArgs(c pipeline.CameraConfig, skip int) []string {
	in := pipeline.BuildArgs(c)
	out := []string{"-y"}
	for i := 0; i < len(in); i++ {
		a := in[i]
		switch {
		case a == "-skip_frame" && skip != 0:
			i++ // BuildArgs' own; added back before -i when skip > 0
			continue
		case a == "-i" && skip > 0:
			out = append(out, "-skip_frame", "nokey")
		case strings.HasPrefix(a, "pipe:") && i > 0 && in[i-1] != "-i":
			a = "/dev/null" // the main output (pipe:1) and each profile's
		}
		out = append(out, a)
	}
	return out
}

// skipsFrames tells whether the daemon's ffmpeg for c decodes keyframes only.
func skipsFrames(c pipeline.CameraConfig) bool {
	return slices.Contains(pipeline.BuildArgs(c), "-skip_frame")
}

// ffmpegAlone runs ffmpeg with args and measures its CPU over dur.
func (b *bench) ffmpegAlone(name string, args []string, dur time.Duration) (cmd string, cpu float64, err error) {
	cmd = "ffmpeg " + strings.Join(args, " ")
	b.logf("%s: %s", name, cmd)
	p, err := b.ps.start(name, "ffmpeg", args...)
	if err != nil {
		return cmd, 0, err
	}
	defer p.stop(3 * time.Second)
	b.sleep(3 * time.Second) // connect, first keyframe
	if !p.alive() {
		return cmd, 0, fmt.Errorf("ffmpeg exited: %s", p.tail(5))
	}
	snaps := sleepSnaps(b.sleep, dur, func() []int { return []int{p.pid()} })
	if !p.alive() {
		return cmd, 0, fmt.Errorf("ffmpeg exited: %s", p.tail(5))
	}
	u := medianUse(snaps, p.pid())
	b.logf("%s: %.3f CPU s/s", name, u.self)
	return cmd, u.self + u.kids, b.ctx.Err()
}

// camDaemon runs the daemon with one camera (extra YAML keys) and, at the
// same time, ffmpeg alone with args (the same work): both are measured over
// the same window, with no viewer, so that background load weighs on both
// alike.
func (b *bench) camDaemon(r *camRes, url, extra string, alone []string) {
	cfgPath := filepath.Join(b.o.workdir, "cam.yml")
	y := fmt.Sprintf("cameras:\n  - name: cam\n    url: %q\n%s", url, extra)
	if err := os.WriteFile(cfgPath, []byte(y), 0o644); err != nil {
		r.daemonErr = err
		return
	}
	b.logf("daemon, one camera: %s", r.label)
	d, err := b.startDaemon("daemon-cam", "--config", cfgPath)
	if err != nil {
		r.daemonErr = err
		return
	}
	defer d.stop()
	if _, err := b.waitHealthz(d, 20*time.Second); err != nil {
		r.daemonErr = err
		return
	}
	if _, err := b.waitStatus(d, "cam", 20*time.Second, func(s camStatus) bool { return s.Frames > 0 }); err != nil {
		r.daemonErr = err
		return
	}
	var ap *proc
	if alone != nil {
		r.aloneCmd = "ffmpeg " + strings.Join(alone, " ")
		b.logf("ffmpeg alone, same window: %s", r.aloneCmd)
		if ap, err = b.ps.start("ffmpeg-alone", "ffmpeg", alone...); err != nil {
			r.aloneErr = err
		} else {
			defer ap.stop(3 * time.Second)
		}
	}
	var vs []*viewer
	if r.watch != "" {
		v, err := startViewer(b.ctx, d.addr, r.watch)
		if err != nil {
			r.daemonErr = err
			return
		}
		defer v.close()
		vs = append(vs, v)
	}
	b.sleep(max(b.o.settle, 3*time.Second)) // ffmpeg alone: connect, first keyframe
	for kid := range childrenOf(d.p.pid()) {
		if slices.Contains(cmdline(kid), "-skip_frame") {
			r.skipFrame = true
		}
	}
	var extraPids []int
	if ap != nil {
		extraPids = append(extraPids, ap.pid())
	}
	l := b.window(d, vs, b.o.camWindow, "cam", extraPids...)
	r.daemonFF, r.daemonSelf, r.outFPS, r.frameBytes, r.daemonErr = l.daemon.kids, l.daemon.self, l.camFPS, l.frameBytes, l.err
	if ap != nil {
		r.alone = l.extra[ap.pid()]
		if !ap.alive() {
			r.aloneErr = fmt.Errorf("ffmpeg alone exited: %s", ap.tail(5))
		}
	}
	b.logf("%s: daemon's ffmpeg %.3f, ffmpeg alone %.3f, daemon %.4f CPU s/s, %.2f fps out", r.label, r.daemonFF, r.alone, r.daemonSelf, r.outFPS)
}

// readFloorRes is what a bare reader of ffmpeg's MJPEG pipe spends.
type readFloorRes struct {
	label string
	cpu   float64 // CPU s/s of the reader alone (not its ffmpeg)
	fps   float64 // frames per second of the camera, from the daemon
	err   error
}

func (r readFloorRes) perFrameUS() float64 {
	if r.fps <= 0 {
		return 0
	}
	return r.cpu * 1e6 / r.fps
}

// readFloors are the pipelines `ffmpeg (the daemon's args) | reader`.
type readFloors struct {
	labels   []string
	src, dst []*proc
	errs     []error
}

// startReadFloors starts, for the camera at url, ffmpeg with the daemon's
// command line piped into cat and into the bare Go reader.
func (b *bench) startReadFloors(url string) *readFloors {
	f := &readFloors{}
	ff := append([]string{"ffmpeg"}, pipeline.BuildArgs(floorConfig(url))...)
	for _, r := range []struct {
		label string
		cmd   []string
	}{
		{"`cat > /dev/null`", []string{"cat"}},
		{"bare Go reader (`benchtool reader`)", []string{b.exe, "reader"}},
	} {
		b.logf("pipe read floor: ffmpeg (the daemon's args) | %s", strings.Join(r.cmd, " "))
		src, dst, err := b.ps.startPipe("readfloor", ff, r.cmd)
		f.labels = append(f.labels, r.label)
		f.src, f.dst, f.errs = append(f.src, src), append(f.dst, dst), append(f.errs, err)
	}
	return f
}

// pids are the readers and their ffmpeg, measured along the window (and
// so not counted as other programs' load).
func (f *readFloors) pids() []int {
	var pids []int
	for i := range f.dst {
		if f.dst[i] != nil {
			pids = append(pids, f.dst[i].pid(), f.src[i].pid())
		}
	}
	return pids
}

func (f *readFloors) results(l loadRes) []readFloorRes {
	var rs []readFloorRes
	for i, label := range f.labels {
		r := readFloorRes{label: label, fps: l.camFPS, err: f.errs[i]}
		if r.err == nil {
			r.cpu = l.extra[f.dst[i].pid()]
			if !f.src[i].alive() || !f.dst[i].alive() {
				r.err = fmt.Errorf("ended during the window: %s", f.src[i].tail(3))
			}
		}
		rs = append(rs, r)
	}
	return rs
}

func (f *readFloors) stop() {
	for i := range f.src {
		if f.src[i] != nil {
			f.src[i].stop(3 * time.Second)
			f.dst[i].stop(3 * time.Second)
		}
	}
}

// writerFloor runs the bare writer with n connections read by n viewers.
func (b *bench) writerFloor(n, size int) writerRes {
	r := writerRes{conns: n, size: size}
	b.logf("loopback write floor: %d connections, %d-byte frames", n, size)
	p, err := b.ps.start(fmt.Sprintf("writer-%d", n), b.exe, "writer", "--conns", strconv.Itoa(n),
		"--size", strconv.Itoa(size), "--fps", strconv.Itoa(b.o.fps),
		"--duration", (b.o.window + time.Minute).String())
	if err != nil {
		r.err = err
		return r
	}
	defer p.stop(3 * time.Second)
	addr, err := waitFirstLine(b.ctx, p, 10*time.Second)
	if err != nil {
		r.err = err
		return r
	}
	vs, err := rampUp(b.ctx, addr, "/", n, 20*time.Second)
	defer closeAll(vs)
	if err != nil {
		r.err = err
		return r
	}
	b.sleep(b.o.settle)
	for try := 0; try < 2; try++ {
		start := beginWindow(vs)
		snaps := sleepSnaps(b.sleep, b.o.window, func() []int { return b.roots() })
		st := endWindow(vs, start)
		a, z := snaps[0], snaps[len(snaps)-1]
		t := writerRes{conns: n, size: size, vs: st, cpu: medianUse(snaps, p.pid()).self, bench: a.use(z, b.self).self,
			cam: b.othersCPU(a, z, "testcam"), machine: a.machine(z)}
		if try == 0 || t.others() < r.others() {
			r = t
		}
		if r.others() <= quietOthers || b.ctx.Err() != nil {
			break
		}
		b.logf("write floor %d: other programs took %.2f CPU s/s during the window: measuring again", n, r.others())
		b.res.retried++
	}
	if !p.alive() {
		r.err = fmt.Errorf("writer exited: %s", p.tail(5))
	}
	b.logf("write floor %d: %.3f CPU s/s = %.1f µs/write", n, r.cpu, perFrameUS(r.cpu, r.vs))
	return r
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
