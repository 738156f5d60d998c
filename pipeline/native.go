package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Some cameras need no ffmpeg at all: an HTTP MJPEG camera (and another
// rtsp2mjpeg, relayed) already sends JPEGs, which in codec copy are
// forwarded as they came. The daemon then reads the camera itself: no
// process, no decoding, no copy through a pipe. Supervision is the same as
// for an ffmpeg run (first frame, stall watchdog, backoff); a camera's
// profiles are made from its frames by transcoders while watched
// (transcode.go).

// nativeSource is a source kind the daemon can read itself in codec copy.
type nativeSource interface {
	// open connects to the camera and returns its parts. It returns an
	// error wrapping errNotNative when what answers is not for the native
	// reader (another format): ffmpeg then reads the camera.
	open(ctx context.Context, c CameraConfig) (partSource, error)
}

// partSource is an open connection to a camera that sends JPEG parts.
type partSource interface {
	Next() (Part, error)
	Close() error
}

// errNotNative: the camera answered with something the native reader does
// not read (not a multipart stream of JPEGs).
var errNotNative = errors.New("not an MJPEG stream")

// nativeWanted tells whether a run of cfg may read the camera natively:
// its frames are forwarded as they are (codec copy, or auto with no
// filter), and the native reader has not been refused by this camera.
func (c *Camera) nativeWanted(cfg CameraConfig) (nativeSource, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns, ok := c.src.(nativeSource)
	if !ok || c.notNative {
		return nil, false
	}
	if cfg.Poll > 0 {
		return ns, true // a still-image camera: only the native reader fetches it
	}
	switch cfg.Codec {
	case CodecCopy:
		return ns, true
	case CodecAuto:
		return ns, cfg.FPS == 0 && cfg.Width == 0
	}
	return nil, false
}

// stallAfter is how long a camera may send nothing before it is taken as
// stalled: stall_timeout, or three of its usual frame intervals if that is
// longer, so that a camera sending a frame every 10 s is not restarted in
// a loop. interval is the mean interval seen so far (0: none yet).
func stallAfter(stallTimeout, interval time.Duration) time.Duration {
	return max(stallTimeout, 3*min(interval, maxInterval))
}

// maxInterval caps the frame interval the watchdog allows for: a camera
// silent for 30 minutes is stalled, whatever its rate.
const maxInterval = 10 * time.Minute

// runNative reads the camera with ns until ctx ends, the camera fails or
// stalls; it reports how long frames flowed and why it ended, as runOnce.
func (c *Camera) runNative(ctx context.Context, cfg CameraConfig, redact *Redactor, ns nativeSource) (healthy time.Duration, err error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.mu.Lock()
	c.state = StateStarting
	c.stopRun = cancel
	c.native = true
	c.trans.setCopy(c, true)
	if cfg.Codec == CodecAuto {
		c.codec = CodecCopy
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.stopRun = nil
		c.native = false
		c.mu.Unlock()
	}()
	started := time.Now()
	src, err := ns.open(runCtx, cfg)
	if err != nil {
		if errors.Is(err, errNotNative) && context.Cause(runCtx) == nil {
			c.log.WithField("reason", redact.Redact(err.Error())).Info("not an MJPEG stream: ffmpeg reads this camera from now on")
			c.mu.Lock()
			c.notNative = true
			if cfg.Codec == CodecAuto {
				c.codec = ""
			}
			c.mu.Unlock()
			return 0, errToFFmpeg
		}
		if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
			return 0, cause
		}
		return 0, err
	}
	// Closing the connection ends a Next that waits for data.
	stopped := context.AfterFunc(runCtx, func() { src.Close() })
	defer stopped()
	defer src.Close()

	var first, last time.Time
	c.mu.Lock()
	interval := c.interval // running mean of the frame interval, learnt over runs
	c.mu.Unlock()
	if interval == 0 {
		interval = cfg.Poll // a polled camera's interval is known
	}
	measured := false // an interval was seen in this run
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if errors.Is(err, errReconfigured) {
			return // the reload reset what was learnt, for another camera maybe
		}
		if errors.Is(err, errStalled) && !measured {
			// Stalled before a slow camera's second frame: allow it more
			// time from the next run on, up to stallAfter's cap.
			interval = min(max(2*c.interval, cfg.StallTimeout), maxInterval)
		}
		c.interval = interval
	}()
	var gotFirst atomic.Bool
	opening := true // the next part is the stream's first
	// A slow camera's first frame may take longer than start_timeout.
	watchdog := time.AfterFunc(max(cfg.StartTimeout, stallAfter(cfg.StallTimeout, interval)), func() {
		if !gotFirst.Load() {
			cancel(errNoFirstFrame)
			return
		}
		c.setState(StateStalled)
		cancel(errStalled)
	})
	defer watchdog.Stop()
	for {
		p, rerr := src.Next()
		if rerr != nil {
			err = rerr
			break
		}
		now := time.Now()
		if p.NoSignal {
			// Another rtsp2mjpeg whose camera is down: it is there, its
			// camera is not. Say so, and keep the connection.
			c.mu.Lock()
			c.state, c.lastErr = StateStalled, "the source sends \"no signal\": its own camera is down"
			c.mu.Unlock()
			watchdog.Reset(stallAfter(cfg.StallTimeout, interval))
			continue
		}
		if opening {
			opening = false
			if age := now.Sub(p.Timestamp); age > cfg.StallTimeout && age < 24*time.Hour {
				// A relayed stream opens with the newest frame its source
				// holds, which may be old: not a live frame. (Only a
				// wall-clock X-Timestamp, as rtsp2mjpeg's, can say so;
				// other cameras stamp the time since they booted.) The
				// source answers, though: give its next frame the time a
				// frame of it takes.
				watchdog.Reset(max(cfg.StartTimeout, stallAfter(cfg.StallTimeout, interval)))
				continue
			}
		}
		if first.IsZero() {
			first = now
			gotFirst.Store(true)
			c.log.WithField("after", now.Sub(started).Round(time.Millisecond).String()).Info("first frame")
		} else {
			d := now.Sub(last)
			measured = true
			if interval == 0 {
				interval = d
			} else {
				interval += (d - interval) / 8
			}
		}
		last = now
		watchdog.Reset(stallAfter(cfg.StallTimeout, interval))
		c.mu.Lock()
		c.lastErr = ""
		c.mu.Unlock()
		c.publish(WithHuffmanTables(p.JPEG), now)
	}
	if !first.IsZero() {
		healthy = time.Since(first)
	}
	if ctx.Err() != nil {
		return healthy, ctx.Err()
	}
	if cause := context.Cause(runCtx); cause != nil {
		return healthy, cause
	}
	return healthy, fmt.Errorf("read the camera: %w", err)
}

// errToFFmpeg ends a native run whose camera turned out to need ffmpeg.
var errToFFmpeg = errors.New("the camera does not send MJPEG over HTTP: switching to ffmpeg")
