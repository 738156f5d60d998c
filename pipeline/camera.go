package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Restart reasons that are not an exit of ffmpeg.
var (
	errNoFirstFrame = errors.New("no first frame within start_timeout")
	errStalled      = errors.New("no frame within stall_timeout")
	errIdle         = errors.New("no viewer for idle_timeout")
	errToCopy       = errors.New("the camera sends MJPEG: switching to codec copy")
	errReconfigured = errors.New("configuration changed")
)

const (
	backoffMin   = 500 * time.Millisecond
	backoffMax   = 30 * time.Second
	healthyAfter = 30 * time.Second // a run this long resets the backoff
	probeEvery   = 250 * time.Millisecond
	// comebackWindow: after a camera answers again, failed starts are
	// retried every probeEvery for this long.
	comebackWindow = 5 * time.Second
	waitDelay      = 2 * time.Second // SIGTERM, then SIGKILL after this
)

// Camera runs and supervises one ffmpeg and holds its newest frame. Run
// drives it; the other methods are safe for concurrent use.
type Camera struct {
	name   string
	log    *logrus.Entry
	main   *output // the main stream: stdout of ffmpeg
	stderr *stderrLog
	wake   chan struct{} // a viewer arrived at an idle on-demand camera
	reconf chan struct{} // the config changed: a backoff under way ends

	mu        sync.Mutex // guards the fields below
	cfg       CameraConfig
	src       source    // cfg.URL's kind
	redact    *Redactor // masks cfg.URL's password
	state     State
	lastErr   string
	restarts  uint64
	clients   int                     // holders: viewers and waiting snapshots
	watchers  int                     // viewers (streams) alone: they make a camera in standby decode all
	stopRun   context.CancelCauseFunc // stops the running ffmpeg; nil when none
	idleTimer *time.Timer
	longProbe bool               // the short probe failed on this camera
	codec     string             // codec auto, once known: CodecMJPEG or CodecCopy
	outputs   map[string]*output // profiles written by this camera's ffmpeg, by name
	subs      substreams         // profiles with a URL of their own
	trans     transcoders        // profiles of a codec-copy camera, made while watched
	notNative bool               // the native reader was refused: ffmpeg reads this camera
	interval  time.Duration      // mean frame interval of a natively read camera, for its stall watchdog
	native    bool               // the run under way reads the camera in Go, with no ffmpeg
	standby   standbyState       // a camera in standby: its decoder for viewers (standby.go)
}

// NewCamera returns a camera for cfg, which must be valid. Nothing runs
// before Run.
func NewCamera(cfg CameraConfig, log *logrus.Entry) *Camera {
	r := NewRedactor(cfg.URL)
	log = log.WithField("camera", cfg.Name)
	state := StateStarting
	if cfg.OnDemand {
		state = StateIdle
	}
	c := &Camera{
		name:    cfg.Name,
		cfg:     cfg,
		src:     sourceFor(cfg.URL),
		log:     log,
		main:    newOutput(MainProfile),
		redact:  r,
		stderr:  newStderrLog(log, r),
		wake:    make(chan struct{}, 1),
		reconf:  make(chan struct{}, 1),
		state:   state,
		outputs: map[string]*output{},
	}
	c.syncOutputs()
	c.subs.sync(c, cfg)
	return c
}

// syncOutputs makes c.outputs those of c.cfg: an output kept by name keeps
// its viewers, a removed one ends theirs. c.mu is held (or c is new).
func (c *Camera) syncOutputs() {
	keep := map[string]bool{}
	for _, p := range OutputProfiles(c.cfg) {
		keep[p.Name] = true
		if c.outputs[p.Name] == nil {
			c.outputs[p.Name] = newOutput(p.Name)
		}
	}
	for name, o := range c.outputs {
		if !keep[name] {
			c.trans.stop(name)
			o.Close()
			delete(c.outputs, name)
		}
	}
}

// runOutputs returns the profile outputs for a run of cfg, in pipe order:
// none in codec copy, whose profiles are transcoded while watched.
func (c *Camera) runOutputs(cfg CameraConfig) []*output {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trans.setCopy(c, cfg.Codec == CodecCopy)
	if cfg.Codec == CodecCopy {
		return nil
	}
	var outs []*output
	for _, p := range OutputProfiles(cfg) {
		o := c.outputs[p.Name]
		if o == nil { // removed by a reload since cfg was read: read and drop
			o = newOutput(p.Name)
		}
		outs = append(outs, o)
	}
	return outs
}

// Name returns the camera's name.
func (c *Camera) Name() string { return c.name }

// config returns the current configuration, its redactor and source kind.
func (c *Camera) config() (CameraConfig, *Redactor, source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg, c.redact, c.src
}

// Reconfigure applies a changed configuration (same name) at once: ffmpeg
// restarts with it, while viewers, the newest frame and counters stay.
//
// A change of substream profiles alone (those with a URL of their own)
// leaves the camera's ffmpeg running; a removed profile ends the streams
// of its viewers.
func (c *Camera) Reconfigure(cfg CameraConfig) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg.Name = c.name
	old := c.cfg
	c.cfg = cfg
	c.src = sourceFor(cfg.URL)
	c.redact = NewRedactor(cfg.URL)
	c.syncOutputs()
	c.subs.sync(c, cfg)
	if withoutSubstreams(old).Equal(withoutSubstreams(cfg)) {
		return
	}
	// The next run decides again whether profiles are transcoded, with
	// their new settings.
	c.trans.stop("")
	c.trans.on = false
	c.codec, c.longProbe, c.notNative, c.interval = "", false, false, 0
	c.lastErr = ""
	if c.stopRun != nil {
		c.stopRun(errReconfigured)
	}
	select { // an idle on-demand camera re-checks its viewers
	case c.wake <- struct{}{}:
	default:
	}
	select { // a camera backing off tries its new config at once
	case c.reconf <- struct{}{}:
	default:
	}
}

// Profile returns the feed of the camera's profile called name.
func (c *Camera) Profile(name string) (Feed, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o := c.outputs[name]; o != nil {
		return profileFeed{output: o, cam: c}, true
	}
	if s := c.subs.m[name]; s != nil {
		return s.cam, true
	}
	return nil, false
}

// Close ends the streams of every viewer, profiles included; call it after
// Run returned, when the camera is removed.
func (c *Camera) Close() {
	c.main.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trans.stop("")
	for _, o := range c.outputs {
		o.Close()
	}
	c.subs.close()
}

// Latest returns the newest frame, or nil before the first one.
func (c *Camera) Latest() *Frame { return c.main.Latest() }

// Next returns the newest frame with Seq > after, waiting for it.
func (c *Camera) Next(ctx context.Context, after uint64) (*Frame, error) {
	return c.main.Next(ctx, after)
}

// NextBefore is Next that gives up with ErrNoFrameYet when timeout fires.
func (c *Camera) NextBefore(ctx context.Context, after uint64, timeout <-chan time.Time) (*Frame, error) {
	return c.main.NextBefore(ctx, after, timeout)
}

// Status reports the camera's state and counters, password masked.
func (c *Camera) Status() Status {
	now := time.Now()
	m := c.main.stats(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Status{
		Name:          c.name,
		URL:           RedactURL(c.cfg.URL),
		Source:        c.src.kind(c.cfg),
		State:         c.state,
		FPS:           m.FPS,
		Frames:        m.Frames,
		Bytes:         m.Bytes,
		LastFrameAt:   m.LastFrameAt,
		Restarts:      c.restarts,
		LastError:     c.lastErr,
		Clients:       m.Clients,
		Codec:         c.cfg.Codec,
		Profiles:      []ProfileStatus{},
		FrameInterval: c.interval,
		Running:       c.stopRun != nil && !c.native,
	}
	if c.cfg.Codec == CodecAuto && c.codec != "" {
		s.Codec = c.codec
	}
	s.WhenIdle, s.Decoding = "full", "all"
	switch {
	case c.cfg.OnDemand:
		s.WhenIdle = "stop"
	case c.cfg.Standby:
		s.WhenIdle = "standby"
	}
	switch {
	case c.stopRun == nil || c.native || s.Codec == CodecCopy:
		s.Decoding = "none"
	case c.standby.on && !c.standby.decoding.Load():
		s.Decoding = "keyframes"
	case !c.standby.on && keyframesOnly(c.cfg, OutputProfiles(c.cfg)):
		s.Decoding = "keyframes"
	}
	s.KeyframeInterval = c.standby.interval.Seconds()
	s.WhenIdleNote = standbyNote(c.cfg, s.Codec, c.src.kind(c.cfg))
	if c.standby.gop != nil && c.standby.gop.intraOnly() { // set while a run is in standby
		s.Decoding = "all"
		s.WhenIdleNote = "the camera sends MJPEG: every frame is a keyframe, so standby decodes them all and changes nothing (codec auto would forward them undecoded)"
	}
	for _, p := range c.cfg.Profiles {
		var ps ProfileStatus
		if sub := c.subs.m[p.Name]; sub != nil {
			st := sub.cam.Status()
			ps = ProfileStatus{
				Name: p.Name, URL: st.URL, State: st.State, FPS: st.FPS, Frames: st.Frames, Bytes: st.Bytes,
				LastFrameAt: st.LastFrameAt, Restarts: st.Restarts, LastError: st.LastError, Clients: st.Clients,
				Running: st.Running, FrameInterval: st.FrameInterval,
			}
		} else if o := c.outputs[p.Name]; o != nil {
			ps = o.stats(now)
			ps.State, ps.Restarts, ps.LastError, ps.Running = c.state, c.restarts, c.lastErr, s.Running
			ps.FrameInterval = c.interval
			if c.trans.on { // made by a transcoder of its own while watched
				ps.Running = c.trans.running(p.Name)
				if !ps.Running && c.state == StateStreaming {
					ps.State = StateIdle
				}
			}
		} else {
			continue
		}
		ps.Width, ps.MaxFPS = p.Width, p.FPS
		s.Profiles = append(s.Profiles, ps)
	}
	return s
}

// Acquire registers a viewer of the main stream. An on-demand camera runs
// ffmpeg while it has one (of any of its feeds), and stops it idle_timeout
// after the last leaves.
func (c *Camera) Acquire() (release func()) { return c.acquire(true) }

// AcquireSnapshot registers a snapshot waiting for a fresh frame: it starts
// an on-demand camera as a viewer does, but leaves a camera in standby
// decoding keyframes (its next keyframe is fresh enough).
func (c *Camera) AcquireSnapshot() (release func()) { return c.acquire(false) }

func (c *Camera) acquire(viewer bool) (release func()) {
	leave := c.main.join()
	unhold := c.hold(viewer)
	var once sync.Once
	return func() {
		once.Do(func() {
			leave()
			unhold()
		})
	}
}

// hold keeps the camera's ffmpeg running (on-demand cameras) until the
// returned func is called, once or more. A viewer (a stream, not a
// snapshot) also makes a camera in standby decode every frame.
func (c *Camera) hold(viewer bool) (release func()) {
	c.mu.Lock()
	c.clients++
	if viewer {
		c.watchers++
		c.pokeStandby()
	}
	if c.idleTimer != nil {
		c.idleTimer.Stop()
		c.idleTimer = nil
	}
	if c.clients == 1 {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { c.release(viewer) }) }
}

func (c *Camera) release(viewer bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clients--
	if viewer {
		c.watchers--
		c.pokeStandby()
	}
	if c.clients > 0 || !c.cfg.OnDemand {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(c.cfg.IdleTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.idleTimer != t { // stopped and replaced meanwhile
			return
		}
		c.idleTimer = nil
		if c.clients == 0 && c.stopRun != nil {
			c.stopRun(errIdle)
		}
	})
	c.idleTimer = t
}

// Run supervises ffmpeg until ctx ends: it restarts it after any exit, with
// backoff, and kills it when frames do not come. It returns nil when ctx ends.
func (c *Camera) Run(ctx context.Context) error {
	c.mu.Lock()
	c.subs.start(ctx)
	c.trans.ctx = ctx
	c.mu.Unlock()
	defer c.subs.wait()     // they end with ctx
	defer c.trans.wg.Wait() // so do they
	defer func() {
		c.mu.Lock()
		if c.idleTimer != nil {
			c.idleTimer.Stop()
			c.idleTimer = nil
		}
		c.mu.Unlock()
	}()
	b := Backoff{Min: backoffMin, Max: backoffMax}
	var cameBack time.Time    // when the dial probe last saw the camera return
	var unreachable time.Time // when a start last failed to connect
	for {
		cfg, _, _ := c.config()
		if cfg.OnDemand && !c.waitForViewer(ctx) {
			return nil
		}
		// Read again: a reload may have come while the camera waited idle.
		cfg, redact, src := c.config()
		started := time.Now()
		healthy, err := c.runSource(ctx, src, cfg, redact)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errIdle) {
			c.log.Info("stopped ffmpeg: no viewer")
			b.Reset()
			continue
		}
		if errors.Is(err, errToCopy) || errors.Is(err, errReconfigured) || errors.Is(err, errToFFmpeg) {
			c.log.Info(err.Error())
			b.Reset()
			continue
		}
		if healthy >= healthyAfter {
			b.Reset()
		} else if healthy > 0 {
			// Frames came: the camera and its settings work. A crash or
			// stall then is retried within about 2 s, not after a backoff
			// grown by earlier outages.
			b.Limit(2)
		}
		// The backoff counts from the start of the failed run: a camera that
		// took 5 s to time out is retried at once while the backoff is
		// shorter than that, and fast failures still slow down.
		wait := max(b.Next()-time.Since(started), 0)
		connectFailed := src.unreachable(err)
		if connectFailed {
			unreachable = time.Now()
		}
		if time.Since(cameBack) < comebackWindow ||
			(!connectFailed && time.Since(unreachable) < comebackWindow) {
			// A camera that answers TCP again may need a moment before its
			// stream is ready: retry at the probe's pace meanwhile.
			wait = min(wait, probeEvery)
		}
		msg := redact.Redact(err.Error())
		c.mu.Lock()
		c.restarts++
		c.state = StateBackoff
		c.lastErr = msg
		c.mu.Unlock()
		c.log.WithFields(logrus.Fields{
			"reason":      msg,
			"stderr_tail": c.stderr.Tail(),
			"retry_in":    wait.Round(time.Millisecond).String(),
		}).Warn("ffmpeg stopped, restarting")
		switch c.sleep(ctx, src.watch(), wait, connectFailed) {
		case wokeCameBack:
			b.Reset()
			cameBack = time.Now()
		case wokeReconfigured:
			b.Reset()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// waitForViewer parks an on-demand camera until someone watches. It
// returns false when ctx ends.
func (c *Camera) waitForViewer(ctx context.Context) bool {
	for {
		c.mu.Lock()
		if c.clients > 0 || !c.cfg.OnDemand { // a reload may have made it always-on
			c.mu.Unlock()
			return true
		}
		c.state = StateIdle
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-ctx.Done():
			return false
		}
	}
}

// Why sleep ended.
type wakeReason int

const (
	wokeTimer        wakeReason = iota // d passed, or ctx ended
	wokeCameBack                       // the unreachable camera answers again
	wokeReconfigured                   // its config changed: a new URL needs no wait
)

// sleep waits d, or less when the camera was unreachable and answers
// again (watch, nil for a kind without such a check): a TCP dial costs far
// less than an ffmpeg start, and frames return as soon as the camera is
// back whatever the backoff has grown to. A reconfiguration ends it too:
// the backoff was the old config's (a relay whose origin moved, issue 11).
//
// wasDown says the start that failed could not connect: the first check
// that succeeds then means the camera is back.
func (c *Camera) sleep(ctx context.Context, watch func(context.Context) bool, d time.Duration, wasDown bool) wakeReason {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var tick <-chan time.Time
	if watch != nil {
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		tick = t.C
	}
	down := wasDown
	for {
		select {
		case <-ctx.Done():
			return wokeTimer
		case <-timer.C:
			return wokeTimer
		case <-c.reconf:
			c.log.Info("config changed, restarting now")
			return wokeReconfigured
		case <-tick:
			if !watch(ctx) {
				down = true
				continue
			}
			if down {
				c.log.Info("camera answers again, restarting now")
				return wokeCameBack
			}
		}
	}
}

// runOnce starts ffmpeg, publishes its frames and returns when it ends. It
// reports how long frames flowed and why it ended.
func (c *Camera) runOnce(ctx context.Context, cfg CameraConfig, redact *Redactor) (healthy time.Duration, err error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	c.mu.Lock()
	longProbe := c.longProbe
	if cfg.Codec == CodecAuto && c.codec != "" {
		cfg.Codec = c.codec
	}
	c.mu.Unlock()
	if ns, ok := c.nativeWanted(cfg); ok {
		return c.runNative(ctx, cfg, redact, ns)
	}
	standby := c.standbyApplies(cfg)
	args := buildArgs(cfg, longProbe)
	if standby {
		args = standbyArgs(cfg, longProbe)
	}
	c.stderr.Reset(redact)
	cmd := ffmpegCommand(runCtx, cfg.FFmpeg, args, c.stderr)
	// A pipe of our own rather than StdoutPipe: Wait runs on another
	// goroutine (StartOwned) and must not close the read end under the
	// reader before it has drained the last frame.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("ffmpeg stdout: %w", err)
	}
	defer stdout.Close()
	cmd.Stdout = stdoutW
	outs := c.runOutputs(cfg)
	nPipes := len(outs)
	if standby {
		nPipes++ // the MPEG-TS copy, after the profiles'
	}
	pipes, err := newProfilePipes(nPipes)
	if err != nil {
		stdoutW.Close()
		return 0, fmt.Errorf("ffmpeg profile pipes: %w", err)
	}
	cmd.ExtraFiles = pipes.w // fds 3, 4...: pipe:3, pipe:4... in buildArgs
	c.mu.Lock()
	c.state = StateStarting
	c.stopRun = cancel
	c.standby.on = standby
	var gop *gopBuffer // standby's copy of the stream
	if standby {
		c.standby.wake = make(chan struct{}, 1)
		gop = newGOPBuffer()
		c.standby.gop = gop
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.stopRun = nil
		c.standby.on = false
		c.standby.wake = nil
		c.standby.gop = nil
		c.mu.Unlock()
	}()
	c.log.WithField("args", RedactArgs(args)).Debug("starting ffmpeg")
	started := time.Now()
	waited, err := StartOwned(cmd)
	stdoutW.Close() // the child has its copy; EOF comes when it exits
	pipes.closeWrite()
	if err != nil {
		pipes.closeAll()
		return 0, fmt.Errorf("start ffmpeg: %w", err)
	}
	var skip func() bool // the keyframe JPEGs of a camera in standby give way to its decoder's
	if standby {
		skip = c.standby.decoding.Load
	}
	waitProfiles := pipes.readUnless(outs, skip)

	// With codec auto, ffmpeg re-encodes for a fast first frame, and
	// ffprobe, started once that frame is out, tells whether the camera
	// already sends MJPEG (then the next run copies). Run beside the start,
	// ffprobe's own start slowed the first frame by 100-200 ms.
	var probeDone chan struct{}
	defer func() {
		if probeDone != nil {
			cancel(nil)
			<-probeDone
		}
	}()

	var gotFirst atomic.Bool
	watchdog := time.AfterFunc(cfg.StartTimeout, func() {
		if gotFirst.Load() {
			c.setState(StateStalled)
			cancel(errStalled)
		} else {
			cancel(errNoFirstFrame)
		}
	})
	var standbyWG sync.WaitGroup
	if standby {
		// The stream flowing is the sign of life in standby: JPEGs come
		// only once a keyframe interval.
		ts := pipes.r[len(outs)]
		standbyWG.Go(func() {
			readStandbyStream(newPipeReader(ts), gop, func() {
				if gotFirst.Load() {
					watchdog.Reset(cfg.StallTimeout)
				}
			})
		})
		standbyWG.Go(func() { c.runStandbyDecoders(runCtx, cfg, gop) })
		defer func() {
			cancel(nil)
			standbyWG.Wait()
		}()
	}
	sp := NewSplitter(newPipeReader(stdout), 0)
	var first, prev time.Time
	for {
		data, rerr := sp.Next()
		if rerr != nil {
			break
		}
		now := time.Now()
		if first.IsZero() {
			first = now
			gotFirst.Store(true)
			c.log.WithField("after", now.Sub(started).Round(time.Millisecond).String()).Info("first frame")
			if cfg.Codec == CodecAuto {
				probeDone = make(chan struct{})
				go func() {
					defer close(probeDone)
					c.detectCodec(runCtx, cfg, redact, cancel)
				}()
			}
		}
		watchdog.Reset(cfg.StallTimeout)
		if standby {
			c.measureKeyframes(prev, now)
			prev = now
			if c.standby.decoding.Load() {
				continue // the viewers' decoder publishes
			}
		}
		if cfg.Codec == CodecCopy {
			// A camera's own JPEGs (a webcam's AVI1 frames) may lack
			// Huffman tables, which browsers and decoders need.
			data = WithHuffmanTables(data)
		}
		c.publish(data, now)
	}
	watchdog.Stop()
	// Closing the read end makes a child that is still writing exit on
	// EPIPE, should the read have failed for another reason than EOF.
	stdout.Close()
	werr := <-waited
	waitProfiles()
	if !first.IsZero() {
		healthy = time.Since(first)
	}
	if ctx.Err() != nil {
		return healthy, ctx.Err()
	}
	if cause := context.Cause(runCtx); cause != nil {
		return healthy, cause
	}
	if werr == nil {
		werr = errors.New("exit status 0")
	}
	if first.IsZero() && !longProbe && c.needsLongProbe() {
		c.log.Info("the camera's stream description lacks the video size: probing longer from now on")
		c.mu.Lock()
		c.longProbe = true
		c.mu.Unlock()
	}
	what := "ffmpeg exited"
	if first.IsZero() && time.Since(started) >= cfg.StallTimeout {
		// ffmpeg gave up after its socket timeout: the camera accepted the
		// connection (or not even that) but did not answer.
		what = fmt.Sprintf("no answer from the camera within %s: ffmpeg exited", cfg.StallTimeout)
	}
	if tail := c.stderr.Tail(); tail != "" {
		return healthy, fmt.Errorf("%s (%w): %s", what, werr, tail)
	}
	return healthy, fmt.Errorf("%s (%w)", what, werr)
}

// detectCodec asks ffprobe for the camera's codec. When it is MJPEG it
// stops the current run with errToCopy so the next one forwards the
// camera's own JPEGs.
func (c *Camera) detectCodec(ctx context.Context, cfg CameraConfig, redact *Redactor, stop context.CancelCauseFunc) {
	if cfg.FFprobe == "" {
		c.setCodec(CodecMJPEG)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.FFprobe, ProbeArgs(cfg)...)
	OwnChild(cmd)
	cmd.WaitDelay = waitDelay
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() == nil {
			c.log.WithField("error", redact.Redact(err.Error())).Debug("ffprobe failed; will try again at the next start")
		}
		return
	}
	codec := strings.TrimSpace(string(out))
	c.log.WithField("codec", codec).Debug("camera codec")
	if codec == "mjpeg" {
		c.setCodec(CodecCopy)
		stop(errToCopy)
		return
	}
	c.setCodec(CodecMJPEG)
}

func (c *Camera) setCodec(codec string) {
	c.mu.Lock()
	c.codec = codec
	c.mu.Unlock()
}

// needsLongProbe tells, from ffmpeg's last words, that the short probe did
// not find the stream's parameters.
func (c *Camera) needsLongProbe() bool {
	return c.stderr.Contains("Could not find codec parameters") ||
		c.stderr.Contains("unspecified size") ||
		c.stderr.Contains("consider increasing the value for the 'analyzeduration'")
}

func (c *Camera) publish(data []byte, now time.Time) {
	c.main.publish(data, now)
	c.mu.Lock()
	c.state = StateStreaming
	c.mu.Unlock()
}

func (c *Camera) setState(s State) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}
