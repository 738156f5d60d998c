package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Standby (when_idle: standby, DESIGN.md "Idle behaviour"): while nobody
// watches, the camera's one ffmpeg decodes keyframes only, publishing one
// JPEG per keyframe (its snapshots are never older than one keyframe
// interval), and copies the camera's stream, undecoded, into a gopBuffer.
// The first viewer starts a decoder fed from that buffer: the last
// keyframe and what followed, then the live stream. The viewer gets the
// newest keyframe's JPEG at once, then live frames as soon as the decoder
// runs, with no second RTSP session and no wait for the camera's next
// keyframe. idle_timeout after the last viewer, the decoder stops.
//
// Decoding is most of what a camera costs; keyframes are one frame in a
// GOP. Snapshots (AcquireSnapshot) do not start the decoder.

// standbyState is a camera's standby, guarded by the camera's mutex.
type standbyState struct {
	on       bool          // the run under way is in standby
	wake     chan struct{} // the number of viewers changed
	decoding atomic.Bool   // the decoder publishes: the keyframe JPEGs are dropped
	interval time.Duration // measured keyframe interval; 0 before two keyframes
	gop      *gopBuffer    // the run's copy of the stream, nil out of standby
}

// pokeStandby tells the standby manager that viewers came or went; c.mu is held.
func (c *Camera) pokeStandby() {
	if c.standby.wake == nil {
		return
	}
	select {
	case c.standby.wake <- struct{}{}:
	default:
	}
}

// standbyApplies tells whether a run of cfg goes in standby. A stream
// copy decodes nothing, and a webcam's frames are all keyframes: for them
// standby changes nothing (Status says so).
func (c *Camera) standbyApplies(cfg CameraConfig) bool {
	if !cfg.Standby {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return standbyMatters(cfg, c.src.kind(cfg))
}

// standbyMatters tells whether standby would decode less than a full run
// for a camera of this kind: not for a stream copy, which decodes nothing,
// nor for a webcam, whose frames are all keyframes.
func standbyMatters(cfg CameraConfig, kind string) bool {
	return cfg.Codec != CodecCopy && kind != "webcam"
}

// errIntraOnly ends a viewers' decoder that would have nothing to add:
// the camera's stream is all keyframes (MJPEG), which standby decodes.
var errIntraOnly = errors.New("the stream is all keyframes")

// standbyNote says why a camera with when_idle: standby decodes all the
// same, or "" when standby applies.
func standbyNote(cfg CameraConfig, codec, kind string) string {
	switch {
	case !cfg.Standby:
		return ""
	case kind == "webcam":
		return "a webcam's frames are all keyframes: standby changes nothing"
	case codec == CodecCopy:
		return "codec copy: the camera's JPEGs are forwarded, nothing is decoded, so standby changes nothing"
	}
	return ""
}

// runStandbyDecoders runs a decoder for the viewers of a camera in standby
// whenever it has some, until ctx (the run) ends.
func (c *Camera) runStandbyDecoders(ctx context.Context, cfg CameraConfig, gop *gopBuffer) {
	c.mu.Lock()
	wake := c.standby.wake
	c.mu.Unlock()
	viewers := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.watchers
	}
	b := Backoff{Min: backoffMin, Max: 5 * time.Second}
	for {
		for viewers() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			}
		}
		if !c.serveViewers(ctx, cfg, gop, wake, viewers, &b) {
			return
		}
	}
}

// serveViewers runs one decoder until it fails (false when ctx ended
// meanwhile) or nobody has watched for idle_timeout (true).
func (c *Camera) serveViewers(ctx context.Context, cfg CameraConfig, gop *gopBuffer, wake <-chan struct{}, viewers func() int, b *Backoff) bool {
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	started := time.Now()
	go func() { done <- c.decode(dctx, cfg, gop) }()
	var idle <-chan time.Time
	var idleTimer *time.Timer
	defer func() {
		if idleTimer != nil {
			idleTimer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			stop()
			<-done
			return false
		case err := <-done:
			if ctx.Err() != nil {
				return false
			}
			if errors.Is(err, errIntraOnly) {
				// Viewers get the keyframe JPEGs: they are every frame.
				c.log.Info("standby: the camera sends MJPEG, every frame a keyframe: its viewers get the frames standby decodes, no decoder")
				<-ctx.Done()
				return false
			}
			if time.Since(started) > healthyAfter {
				b.Reset()
			}
			wait := b.Next()
			c.log.WithFields(logrus.Fields{"reason": err.Error(), "retry_in": wait.Round(time.Millisecond).String()}).
				Warn("standby: the viewers' decoder stopped, restarting")
			select {
			case <-ctx.Done():
				return false
			case <-time.After(wait):
				return true
			}
		case <-wake:
			if viewers() > 0 {
				if idleTimer != nil {
					idleTimer.Stop()
					idleTimer, idle = nil, nil
				}
			} else if idleTimer == nil {
				idleTimer = time.NewTimer(cfg.IdleTimeout)
				idle = idleTimer.C
			}
		case <-idle:
			idleTimer, idle = nil, nil
			if viewers() == 0 {
				stop()
				<-done
				b.Reset()
				c.log.Info("standby: no viewer for idle_timeout, decoding keyframes only")
				return true
			}
		}
	}
}

// decode runs one decoder for the viewers until ctx ends or it fails.
func (c *Camera) decode(ctx context.Context, cfg CameraConfig, gop *gopBuffer) error {
	// Until codec auto knows the camera's codec, wait: an MJPEG camera's
	// stream copied into MPEG-TS does not decode, and the camera is about
	// to switch to codec copy (where standby does not apply) anyway.
	for c.codecUnknown(cfg) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// A viewer that comes before the first keyframe waits for it.
	var feed *tsFeed
	var skip time.Duration
	for feed, skip = gop.attach(256); feed == nil; feed, skip = gop.attach(256) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer gop.detach(feed)
	// Attached, the buffer has had its PMT: it knows the stream's type.
	if gop.intraOnly() {
		return errIntraOnly
	}
	// From now on the decoder's frames follow the newest keyframe the
	// viewer has: a keyframe the camera sends meanwhile would be newer than
	// the decoder's first frames, and the picture would jump back.
	c.standby.decoding.Store(true)
	defer c.standby.decoding.Store(false)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	args := decoderArgs(cfg, skip)
	stderr := newStderrLog(c.log.WithField("ffmpeg", "decoder"), NewRedactor("")) // its arguments hold no URL
	cmd := ffmpegCommand(runCtx, cfg.FFmpeg, args, stderr)
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("decoder stdin: %w", err)
	}
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		stdin.Close()
		stdinW.Close()
		return fmt.Errorf("decoder stdout: %w", err)
	}
	defer stdout.Close()
	cmd.Stdin, cmd.Stdout = stdin, stdoutW
	outs := c.runOutputs(cfg)
	pipes, err := newProfilePipes(len(outs))
	if err != nil {
		stdin.Close()
		stdinW.Close()
		stdoutW.Close()
		return fmt.Errorf("decoder profile pipes: %w", err)
	}
	cmd.ExtraFiles = pipes.w
	c.log.WithField("args", RedactArgs(args)).Debug("standby: starting the viewers' decoder")
	started := time.Now()
	waited, err := StartOwned(cmd)
	stdin.Close()
	stdoutW.Close()
	pipes.closeWrite()
	if err != nil {
		stdinW.Close()
		pipes.closeAll()
		return fmt.Errorf("start the decoder: %w", err)
	}

	var wg sync.WaitGroup
	wg.Go(func() { // the stream into the decoder, until the feed or the decoder ends
		defer stdinW.Close()
		for {
			b, ok := feed.next()
			if !ok {
				return
			}
			if _, err := stdinW.Write(b); err != nil {
				cancel(fmt.Errorf("write to the decoder: %w", err))
				return
			}
		}
	})
	// The decoder's frames replace the keyframe JPEGs from its first one on.
	waitProfiles := pipes.read(outs)
	var gotFirst atomic.Bool
	watchdog := time.AfterFunc(cfg.StartTimeout, func() {
		if gotFirst.Load() {
			cancel(errStalled)
		} else {
			cancel(errNoFirstFrame)
		}
	})
	sp := NewSplitter(newPipeReader(stdout), 0)
	for {
		data, rerr := sp.Next()
		if rerr != nil {
			break
		}
		if !gotFirst.Load() {
			gotFirst.Store(true)
			c.log.WithField("after", time.Since(started).Round(time.Millisecond).String()).Info("standby: the viewers' decoder's first frame")
		}
		watchdog.Reset(cfg.StallTimeout)
		c.publish(data, time.Now())
	}
	watchdog.Stop()
	stdout.Close()
	feed.close() // ends the writer
	werr := <-waited
	waitProfiles()
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if cause := context.Cause(runCtx); cause != nil {
		return cause
	}
	if werr == nil {
		werr = errors.New("exit status 0")
	}
	if tail := stderr.Tail(); tail != "" {
		return fmt.Errorf("decoder exited (%w): %s", werr, tail)
	}
	return fmt.Errorf("decoder exited (%w)", werr)
}

// readStandbyStream copies the camera's MPEG-TS stream from r into gop
// until r ends; each read counts as a sign of life for the watchdog.
func readStandbyStream(r io.Reader, gop *gopBuffer, alive func()) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			gop.Write(buf[:n])
			alive()
		}
		if err != nil {
			return
		}
	}
}

// measureKeyframes takes the time of a keyframe JPEG (now) after the one
// before (prev, zero for the first): their interval, averaged, is the
// camera's keyframe interval.
func (c *Camera) measureKeyframes(prev, now time.Time) {
	if prev.IsZero() {
		return
	}
	d := now.Sub(prev)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.standby.interval == 0 {
		c.standby.interval = d
	} else {
		c.standby.interval = (3*c.standby.interval + d) / 4
	}
}

// codecUnknown tells whether codec auto has yet to find the camera's codec.
func (c *Camera) codecUnknown(cfg CameraConfig) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cfg.Codec == CodecAuto && c.codec == ""
}
