package synthcam

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

const (
	feedMinBackoff = 250 * time.Millisecond
	feedMaxBackoff = 5 * time.Second
	// A publisher that ran this long is healthy again: the backoff resets.
	feedHealthyAfter = 10 * time.Second
	stderrTailLines  = 20
)

// runFeed owns the ffmpeg publisher while the camera is up: it starts it,
// waits for it and, when it exits while ctx is live, restarts it after a
// backoff (250 ms doubling up to 5 s). When ctx is cancelled it kills the
// current process, waits for it and returns, closing done.
//
// The goroutine stays locked to its OS thread for its whole life: Pdeathsig
// is tied to the thread that forked the child, not to the process
// (golang/go#27505), and a locked thread is neither reused nor retired under
// the child.
func (c *Camera) runFeed(ctx context.Context, args []string, done chan<- struct{}) {
	defer close(done)
	unlock := pipeline.LockThread()
	defer unlock()

	backoff := feedMinBackoff
	for {
		started := time.Now()
		err := c.runPublisher(ctx, args)
		if ctx.Err() != nil {
			return
		}
		ran := time.Since(started)
		if ran > feedHealthyAfter {
			backoff = feedMinBackoff
		}
		c.mu.Lock()
		if c.state != stateUp {
			// Going down: the publisher lost its server before being killed.
			c.mu.Unlock()
			return
		}
		tail := append([]string(nil), c.stderr...)
		c.feedErr = fmt.Errorf("%w after %v; stderr: %q", err, ran.Round(time.Millisecond), tail)
		c.restarts++
		c.mu.Unlock()
		c.log.WithField("err", err).WithField("ran", ran.Round(time.Millisecond)).
			WithField("stderr", tail).WithField("retry_in", backoff).
			Warn("ffmpeg publisher exited, restarting")

		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, feedMaxBackoff)
	}
}

// runPublisher runs one ffmpeg publisher until it exits or ctx ends (then
// it is killed). The process is always waited for.
func (c *Camera) runPublisher(ctx context.Context, args []string) error {
	cmd := exec.Command(c.ffmpegPath, args...)
	pipeline.OwnChild(cmd)
	cmd.Stderr = &lineWriter{emit: c.stderrLine}

	c.mu.Lock()
	c.stderr = nil
	c.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ffmpeg: %w", err)
	}

	c.mu.Lock()
	c.proc = cmd.Process
	if c.paused {
		// Paused while the previous publisher was being replaced.
		_ = signalProc(cmd.Process, true)
	}
	c.mu.Unlock()
	c.log.WithField("pid", cmd.Process.Pid).Debug("ffmpeg publisher started")

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var err error
	select {
	case err = <-waited:
		if err == nil {
			err = fmt.Errorf("ffmpeg exited")
		}
	case <-ctx.Done():
		killProc(cmd.Process)
		err = <-waited
	}

	c.mu.Lock()
	c.proc = nil
	c.mu.Unlock()
	return err
}

func (c *Camera) stderrLine(line string) {
	c.mu.Lock()
	c.stderr = append(c.stderr, line)
	if n := len(c.stderr); n > stderrTailLines {
		c.stderr = append(c.stderr[:0:0], c.stderr[n-stderrTailLines:]...)
	}
	c.mu.Unlock()
	c.log.WithField("ffmpeg", line).Debug("publisher stderr")
}

// lineWriter calls emit for each complete non-empty line written to it
// (ffmpeg also ends lines with \r).
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexAny(w.buf, "\r\n")
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(w.buf[:i])); line != "" {
			w.emit(line)
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 4096 {
		w.emit(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}
