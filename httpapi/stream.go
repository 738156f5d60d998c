package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// video serves the MJPEG stream of cam (DESIGN.md "The MJPEG stream").
func (a *api) video(w http.ResponseWriter, r *http.Request, cam Camera) {
	var gap time.Duration // least time between two camera frames sent; 0: no cap
	if v, ok := queryValue(r, "fps"); ok {
		fps, err := strconv.ParseFloat(v, 64)
		if err != nil || !(fps > 0) || math.IsInf(fps, 0) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid fps %q: want a number > 0", v))
			return
		}
		gap = time.Duration(min(float64(time.Second)/fps, float64(math.MaxInt64/2)))
	}

	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+pipeline.Boundary)
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}

	leave, err := a.viewers.join(cam.Name(), a.cfg.MaxViewers, a.cfg.MaxViewersPerCamera)
	if err != nil {
		w.Header().Del("Content-Type") // not the stream after all
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error(), "camera": cam.Name()})
		return
	}
	defer leave()
	defer cam.Acquire()()
	out, ctx := takeConn(r.Context(), w, a.cfg.WriteTimeout)
	defer out.close()
	s := &stream{
		out:      out,
		cam:      cam,
		noSignal: a.placeholder(cam.Name()),
		every:    a.cfg.NoSignalEvery,
		gap:      gap,
		dropped:  a.drops.counter(cam.Name()),
	}
	log := requestLog(r).WithField("camera", cam.Name())
	log.Debug("viewer connected")
	err = s.run(ctx)
	log.WithError(err).Debug("viewer gone")
}

// stream writes one viewer's MJPEG response.
type stream struct {
	out      sink
	cam      Camera
	noSignal *noSignal
	every    time.Duration  // no-signal period
	gap      time.Duration  // rate cap: least time between two camera frames
	dropped  *atomic.Uint64 // frames this viewer was too slow for (not those its rate cap skips)
}

// run streams until ctx ends (viewer gone, server shutdown) or a write
// fails, and returns why.
func (s *stream) run(ctx context.Context) error {
	// The preamble goes out with the headers at once, so a viewer of a camera
	// that is down gets an answer instead of waiting for the first frame.
	if err := s.write([]byte(pipeline.StreamPreamble)); err != nil {
		return err
	}
	var (
		seq      uint64      // the last camera frame seen; 0: the newest held comes first
		lastSent time.Time   // when the last camera frame was sent
		pause    *time.Timer // rate cap; made on first use
	)
	// One timer for the no-signal period, reset per frame: a context with
	// a timeout per frame and viewer cost a tenth of the daemon's CPU.
	idle := time.NewTimer(s.every)
	defer func() {
		idle.Stop()
		if pause != nil {
			pause.Stop()
		}
	}()
	for {
		if s.gap > 0 && !lastSent.IsZero() {
			// Rate cap: let the interval pass, then send the newest frame,
			// skipping those that came meanwhile.
			if d := s.gap - time.Since(lastSent); d > 0 {
				if pause == nil {
					pause = time.NewTimer(d)
				} else {
					pause.Reset(d)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-pause.C:
				}
			}
		}
		idle.Reset(s.every) // Go 1.23+ timers: Reset drops a stale tick
		f, err := s.next(ctx, seq, idle.C)
		if ctx.Err() != nil {
			f.Release()
			return ctx.Err()
		}
		if errors.Is(err, pipeline.ErrHubClosed) {
			return err // the camera was removed: end the stream
		}
		var part []byte
		if err != nil {
			// No frame for s.every: show the outage, which also keeps
			// proxies from cutting an idle connection.
			last := s.cam.Latest()
			part = s.noSignal.frame(last, time.Now()).Part
			last.Release() // only its time and number were read
		} else {
			if seq != 0 && s.gap == 0 {
				// A viewer without a rate cap should see every frame: those
				// published while it was still writing the last one are lost
				// to slowness. With a cap, skipping is the point, and the
				// two causes cannot be told apart, so nothing is counted.
				s.dropped.Add(f.Seq - seq - 1)
			}
			seq = f.Seq
			lastSent = time.Now()
			part = f.Part
		}
		err = s.write(part)
		f.Release() // written: the hub may reuse its memory
		if err != nil {
			return err
		}
	}
}

// write sends p in one write (a part carries the next boundary, so the
// browser shows it at once) and flushes it, within the write timeout.
func (s *stream) write(p []byte) error { return s.out.write(p) }

// nextBefore is what pipeline.Camera offers beyond the Camera interface:
// Next bounded by a timer channel.
type nextBefore interface {
	NextBefore(ctx context.Context, after uint64, timeout <-chan time.Time) (*pipeline.Frame, error)
}

// next waits for a frame past seq until timeout fires.
func (s *stream) next(ctx context.Context, seq uint64, timeout <-chan time.Time) (*pipeline.Frame, error) {
	if nb, ok := s.cam.(nextBefore); ok {
		return nb.NextBefore(ctx, seq, timeout)
	}
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-timeout:
			cancel()
		case <-wait.Done():
		}
	}()
	return s.cam.Next(wait, seq)
}

// sink is where a stream's bytes go: each write is sent at once, within the
// write timeout.
type sink interface {
	write(p []byte) error
	close()
}

// takeConn takes the viewer's connection from net/http when it can, so
// that each part costs one write system call on the socket, with no
// chunked-encoding framing and no separate flush; the response then ends by
// closing the connection, as MJPEG servers do. Otherwise (HTTP/2, a test
// recorder) it streams through the ResponseWriter.
//
// The context it returns ends with ctx or when the viewer closes its
// connection, which net/http no longer watches once it is taken.
func takeConn(ctx context.Context, w http.ResponseWriter, timeout time.Duration) (sink, context.Context) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		return &responseSink{w: w, rc: rc, timeout: timeout}, ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	gone := make(chan struct{})
	go func() { // ends when the viewer closes, or when close() closes conn
		defer close(gone)
		defer cancel()
		_, _ = io.Copy(io.Discard, conn) // a viewer sends nothing more after its request
	}()
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	h := w.Header()
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	_ = h.Write(&head)
	head.WriteString("\r\n")
	return &connSink{conn: conn, timeout: timeout, head: head.Bytes(), gone: gone}, ctx
}

// connSink writes straight to a hijacked connection.
type connSink struct {
	conn    net.Conn
	timeout time.Duration
	head    []byte        // the response header, sent with the first write
	gone    chan struct{} // closed when the connection's reader has ended
}

func (c *connSink) write(p []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout)) // per write, not per response
	if c.head != nil {
		p = append(c.head, p...) // once: the header and the preamble in one packet
		c.head = nil
	}
	if _, err := c.conn.Write(p); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (c *connSink) close() {
	_ = c.conn.Close()
	<-c.gone
}

// responseSink streams through net/http, flushing every write.
type responseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (r *responseSink) write(p []byte) error {
	_ = r.rc.SetWriteDeadline(time.Now().Add(r.timeout)) // per write, not per response
	if _, err := r.w.Write(p); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := r.rc.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

func (r *responseSink) close() {}

// queryValue returns the query parameter key and whether it was given.
func queryValue(r *http.Request, key string) (string, bool) {
	q := r.URL.Query()
	return q.Get(key), q.Has(key)
}

// viewerCount counts the streams open, in all and per camera, to cap them.
type viewerCount struct {
	mu        sync.Mutex // guards all and perCamera
	all       int
	perCamera map[string]int
}

// join counts a new viewer of camera, or refuses it past a cap (a cap <= 0
// is none). leave must be called once when the viewer goes.
func (v *viewerCount) join(camera string, maxAll, maxCamera int) (leave func(), err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if maxAll > 0 && v.all >= maxAll {
		return nil, fmt.Errorf("too many viewers: the server serves at most %d streams", maxAll)
	}
	if maxCamera > 0 && v.perCamera[camera] >= maxCamera {
		return nil, fmt.Errorf("too many viewers of camera %q: at most %d", camera, maxCamera)
	}
	if v.perCamera == nil {
		v.perCamera = map[string]int{}
	}
	v.all++
	v.perCamera[camera]++
	var once sync.Once
	return func() {
		once.Do(func() {
			v.mu.Lock()
			defer v.mu.Unlock()
			v.all--
			if v.perCamera[camera]--; v.perCamera[camera] == 0 {
				delete(v.perCamera, camera)
			}
		})
	}, nil
}
