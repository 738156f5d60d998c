package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	hub    *Hub
	stderr *stderrLog
	wake   chan struct{} // a viewer arrived at an idle on-demand camera

	mu          sync.Mutex // guards the fields below
	cfg         CameraConfig
	redact      *Redactor // masks cfg.URL's password
	state       State
	lastErr     string
	restarts    uint64
	frames      uint64
	bytes       uint64
	lastFrameAt time.Time
	rate        rateMeter
	clients     int
	stopRun     context.CancelCauseFunc // stops the running ffmpeg; nil when none
	idleTimer   *time.Timer
	longProbe   bool   // the short probe failed on this camera
	codec       string // codec auto, once known: CodecMJPEG or CodecCopy
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
	return &Camera{
		name:   cfg.Name,
		cfg:    cfg,
		log:    log,
		hub:    NewHub(),
		redact: r,
		stderr: newStderrLog(log, r),
		wake:   make(chan struct{}, 1),
		state:  state,
	}
}

// Name returns the camera's name.
func (c *Camera) Name() string { return c.name }

// config returns the current configuration and its redactor.
func (c *Camera) config() (CameraConfig, *Redactor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg, c.redact
}

// Reconfigure applies a changed configuration (same name) at once: ffmpeg
// restarts with it, while viewers, the newest frame and counters stay.
func (c *Camera) Reconfigure(cfg CameraConfig) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg.Name = c.name
	c.cfg = cfg
	c.redact = NewRedactor(cfg.URL)
	c.codec, c.longProbe = "", false
	c.lastErr = ""
	if c.stopRun != nil {
		c.stopRun(errReconfigured)
	}
	select { // an idle on-demand camera re-checks its viewers
	case c.wake <- struct{}{}:
	default:
	}
}

// Profile returns the feed of the camera's profile called name.
func (c *Camera) Profile(name string) (Feed, bool) {
	return nil, false // TODO: profiles
}

// Close ends the streams of every viewer; call it after Run returned, when
// the camera is removed.
func (c *Camera) Close() { c.hub.Close() }

// Latest returns the newest frame, or nil before the first one.
func (c *Camera) Latest() *Frame { return c.hub.Latest() }

// Next returns the newest frame with Seq > after, waiting for it.
func (c *Camera) Next(ctx context.Context, after uint64) (*Frame, error) {
	return c.hub.Next(ctx, after)
}

// NextBefore is Next that gives up with ErrNoFrameYet when timeout fires.
func (c *Camera) NextBefore(ctx context.Context, after uint64, timeout <-chan time.Time) (*Frame, error) {
	return c.hub.NextBefore(ctx, after, timeout)
}

// Status reports the camera's state and counters, password masked.
func (c *Camera) Status() Status {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Status{
		Name:      c.name,
		URL:       RedactURL(c.cfg.URL),
		State:     c.state,
		FPS:       c.rate.Rate(now),
		Frames:    c.frames,
		Bytes:     c.bytes,
		Restarts:  c.restarts,
		LastError: c.lastErr,
		Clients:   c.clients,
		Codec:     c.cfg.Codec,
		Running:   c.stopRun != nil,
	}
	if c.cfg.Codec == CodecAuto && c.codec != "" {
		s.Codec = c.codec
	}
	if !c.lastFrameAt.IsZero() {
		t := c.lastFrameAt
		s.LastFrameAt = &t
	}
	return s
}

// Acquire registers a viewer. An on-demand camera runs ffmpeg while it has
// one, and stops it idle_timeout after the last leaves.
func (c *Camera) Acquire() (release func()) {
	c.mu.Lock()
	c.clients++
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
	return func() { once.Do(c.release) }
}

func (c *Camera) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clients--
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
		cfg, redact := c.config()
		if cfg.OnDemand && !c.waitForViewer(ctx) {
			return nil
		}
		started := time.Now()
		healthy, err := c.runOnce(ctx, cfg, redact)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errIdle) {
			c.log.Info("stopped ffmpeg: no viewer")
			b.Reset()
			continue
		}
		if errors.Is(err, errToCopy) || errors.Is(err, errReconfigured) {
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
		connectFailed := isConnectError(err)
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
		if c.sleep(ctx, cfg.URL, wait, connectFailed) {
			b.Reset()
			cameBack = time.Now()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// isConnectError tells a start that could not reach the camera at all.
func isConnectError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"Connection refused", "No route to host", "Network is unreachable", "Connection timed out"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
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

// sleep waits d, or less when the camera's host was unreachable and answers
// again: a TCP dial costs far less than an ffmpeg start, and frames return
// as soon as the camera is back whatever the backoff has grown to. It
// reports whether it woke early for that reason.
//
// wasDown says the start that failed could not connect: the first probe
// that connects then means the camera is back.
func (c *Camera) sleep(ctx context.Context, rawURL string, d time.Duration, wasDown bool) (cameBack bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	addr := dialAddr(rawURL)
	var tick <-chan time.Time
	if addr != "" {
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		tick = t.C
	}
	down := wasDown
	dialer := net.Dialer{Timeout: probeEvery}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return false
		case <-tick:
			conn, err := dialer.DialContext(ctx, "tcp", addr)
			if err != nil {
				down = true
				continue
			}
			conn.Close()
			if down {
				c.log.Info("camera answers again, restarting now")
				return true
			}
		}
	}
}

// dialAddr returns host:port of a network camera URL, or "" for files.
func dialAddr(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "rtsp":
			port = "554"
		case "rtsps":
			port = "322"
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return ""
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
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
	args := buildArgs(cfg, longProbe)
	cmd := exec.CommandContext(runCtx, cfg.FFmpeg, args...)
	OwnChild(cmd)
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = waitDelay
	c.stderr.Reset(redact)
	cmd.Stderr = c.stderr
	// A pipe of our own rather than StdoutPipe: Wait runs on another
	// goroutine (StartOwned) and must not close the read end under the
	// reader before it has drained the last frame.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("ffmpeg stdout: %w", err)
	}
	defer stdout.Close()
	cmd.Stdout = stdoutW
	c.mu.Lock()
	c.state = StateStarting
	c.stopRun = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.stopRun = nil
		c.mu.Unlock()
	}()
	c.log.WithField("args", RedactArgs(args)).Debug("starting ffmpeg")
	started := time.Now()
	waited, err := StartOwned(cmd)
	stdoutW.Close() // the child has its copy; EOF comes when it exits
	if err != nil {
		return 0, fmt.Errorf("start ffmpeg: %w", err)
	}

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
	sp := NewSplitter(newPipeReader(stdout), 0)
	var first time.Time
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
		c.publish(data, now)
	}
	watchdog.Stop()
	// Closing the read end makes a child that is still writing exit on
	// EPIPE, should the read have failed for another reason than EOF.
	stdout.Close()
	werr := <-waited
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
	c.hub.Publish(data, now)
	c.mu.Lock()
	c.state = StateStreaming
	c.frames++
	c.bytes += uint64(len(data))
	c.lastFrameAt = now
	c.rate.Add(now)
	c.mu.Unlock()
}

func (c *Camera) setState(s State) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}
