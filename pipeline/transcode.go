package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// A codec-copy camera's ffmpeg does not decode: it forwards the camera's
// own JPEGs. Adding profile outputs to it would make it decode every frame
// all the time (a 720p15 MJPEG camera: 0.011 -> 0.045 CPU s/s, measured
// here) for profiles that are mostly unwatched. So such a camera's profiles
// are made by a transcoder that runs only while the profile has viewers
// (and idle_timeout after): an ffmpeg fed with the camera's JPEGs from
// memory at the profile's rate, the frames in between dropped before they
// cost a decode. It needs no connection to the camera.

// transcoders runs the transcoders of one camera's profiles. The camera's
// mutex guards the struct.
type transcoders struct {
	on  bool                   // the camera runs in codec copy: profiles are transcoded
	ctx context.Context        // the camera's Run context; nil before Run
	m   map[string]*transcoder // by profile name, while running or idling out
	wg  sync.WaitGroup         // the running transcoders
}

type transcoder struct {
	cancel context.CancelFunc
	idle   *time.Timer // stops it idle_timeout after its last viewer; nil while watched
}

// want makes sure the transcoder of output o runs, if the camera is in
// copy mode. The camera's mutex is held.
func (ts *transcoders) want(c *Camera, o *output) {
	if !ts.on || ts.ctx == nil || ts.ctx.Err() != nil {
		return
	}
	if tr := ts.m[o.name]; tr != nil {
		if tr.idle != nil {
			tr.idle.Stop()
			tr.idle = nil
		}
		return
	}
	p, ok := c.cfg.Profile(o.name)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(ts.ctx)
	if ts.m == nil {
		ts.m = map[string]*transcoder{}
	}
	ts.m[o.name] = &transcoder{cancel: cancel}
	quality, log := c.cfg.Quality, c.log.WithField("profile", o.name)
	ts.wg.Go(func() {
		defer cancel()
		c.transcode(ctx, o, p, quality, log)
	})
}

// unwant stops o's transcoder idle_timeout after its last viewer left. The
// camera's mutex is held.
func (ts *transcoders) unwant(c *Camera, o *output, idleTimeout time.Duration) {
	tr := ts.m[o.name]
	if tr == nil || tr.idle != nil {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(idleTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cur := ts.m[o.name]; cur != tr || tr.idle != t {
			return // stopped, or watched again, meanwhile
		}
		tr.idle = nil
		// A viewer may have come between the last one's leaving and this
		// timer's arming: then want found it running and left it be.
		o.mu.Lock()
		watched := o.clients > 0
		o.mu.Unlock()
		if !watched {
			tr.cancel()
			delete(ts.m, o.name)
		}
	})
	tr.idle = t
}

// stop ends the transcoder of the profile called name, or all of them for
// "". The camera's mutex is held.
func (ts *transcoders) stop(name string) {
	for n, tr := range ts.m {
		if name == "" || n == name {
			if tr.idle != nil {
				tr.idle.Stop()
			}
			tr.cancel()
			delete(ts.m, n)
		}
	}
}

// setCopy switches copy mode on or off, at the start of each run of the
// camera's ffmpeg; on, it starts the transcoders of the watched profiles.
// The camera's mutex is held.
func (ts *transcoders) setCopy(c *Camera, on bool) {
	if ts.on == on {
		return
	}
	ts.on = on
	if !on {
		ts.stop("")
		return
	}
	for _, o := range c.outputs {
		o.mu.Lock()
		watched := o.clients > 0
		o.mu.Unlock()
		if watched {
			ts.want(c, o)
		}
	}
}

// running tells whether the transcoder of the profile called name runs.
func (ts *transcoders) running(name string) bool { return ts.m[name] != nil }

// transcode runs o's transcoder until ctx ends, restarting it with the
// camera's backoff when it fails.
func (c *Camera) transcode(ctx context.Context, o *output, p ProfileConfig, quality int, log *logrus.Entry) {
	args := TranscodeArgs(p, quality)
	stderr := newStderrLog(log, NewRedactor("")) // its arguments hold no URL
	b := Backoff{Min: backoffMin, Max: backoffMax}
	for {
		started := time.Now()
		frames, err := c.transcodeOnce(ctx, o, p, args, stderr)
		if ctx.Err() != nil {
			return
		}
		if frames > 0 {
			b.Reset()
		}
		wait := max(b.Next()-time.Since(started), 0)
		log.WithFields(logrus.Fields{"reason": err.Error(), "retry_in": wait.Round(time.Millisecond).String()}).
			Warn("profile transcoder stopped, restarting")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// transcodeOnce runs one transcoder ffmpeg: a feeder writes the camera's
// newest JPEGs to its stdin at the profile's rate, and its stdout is split
// into o. It returns how many frames it made and why it ended.
func (c *Camera) transcodeOnce(parent context.Context, o *output, p ProfileConfig, args []string, stderr *stderrLog) (frames uint64, err error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	cfg, _, _ := c.config()
	stderr.Reset(NewRedactor(""))
	cmd := ffmpegCommand(ctx, cfg.FFmpeg, args, stderr)
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("transcoder stdout: %w", err)
	}
	defer stdout.Close()
	cmd.Stdout = stdoutW
	stdin, err := cmd.StdinPipe()
	if err != nil {
		stdoutW.Close()
		return 0, fmt.Errorf("transcoder stdin: %w", err)
	}
	waited, err := StartOwned(cmd) // closes the child's end of stdin
	stdoutW.Close()
	if err != nil {
		return 0, fmt.Errorf("start transcoder: %w", err)
	}
	var feeder sync.WaitGroup
	feeder.Go(func() {
		defer stdin.Close() // EOF: ffmpeg ends
		defer cancel()      // the feed ended (camera removed, ctx done): stop
		c.feed(ctx, stdin, p.FPS)
	})
	before := o.frameCount()
	o.readFrames(newPipeReader(stdout), nil)
	frames = o.frameCount() - before
	cancel()
	stdout.Close()
	werr := <-waited
	feeder.Wait()
	if parent.Err() != nil {
		return frames, parent.Err()
	}
	if werr == nil {
		werr = errors.New("exit status 0")
	}
	if tail := stderr.Tail(); tail != "" {
		return frames, fmt.Errorf("transcoder exited (%w): %s", werr, tail)
	}
	return frames, fmt.Errorf("transcoder exited (%w)", werr)
}

// feed writes the camera's newest JPEGs to w, at most fps a second (0: every
// one), until ctx ends, the camera is removed or a write fails. The frames
// in between are dropped here, before they cost ffmpeg a decode.
func (c *Camera) feed(ctx context.Context, w io.Writer, fps float64) {
	var gap time.Duration
	if fps > 0 {
		gap = time.Duration(float64(time.Second) / fps)
	}
	var seq uint64
	var fed time.Time
	for {
		f, err := c.main.Next(ctx, seq)
		if err != nil {
			return
		}
		seq = f.Seq
		if gap > 0 && f.At.Sub(fed) < gap-gap/10 { // 10% slack: a camera's clock jitters
			f.Release()
			continue
		}
		fed = f.At
		_, err = w.Write(f.JPEG)
		f.Release()
		if err != nil {
			return
		}
	}
}
