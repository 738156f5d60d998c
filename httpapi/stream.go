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
	"github.com/sirupsen/logrus"
)

// video serves the MJPEG stream of cam, or of its profile named by
// ?profile= (DESIGN.md "The MJPEG stream", "Profiles").
func (a *api) video(w http.ResponseWriter, r *http.Request, cam Camera) {
	fd, ok := requestFeed(w, r, cam)
	if !ok {
		return
	}
	gap, ok := fpsGap(w, r)
	if !ok {
		return
	}

	setStreamHeaders(w.Header(), "multipart/x-mixed-replace; boundary="+pipeline.Boundary)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}

	leave, err := a.viewers.join(a.cfg.MaxViewers, a.cfg.MaxViewersPerCamera, cam.Name())
	if err != nil {
		tooManyViewers(w, map[string]string{"error": err.Error(), "camera": cam.Name()})
		return
	}
	defer leave()
	defer fd.feed.Acquire()()
	out, ctx := takeConn(r.Context(), w, a.cfg.WriteTimeout, &a.sent)
	defer out.close()
	log := requestLog(r).WithFields(logrus.Fields{"camera": cam.Name(), "profile": fd.profile})
	log.Debug("viewer connected")
	// The preamble goes out with the headers at once, so a viewer of a camera
	// that is down gets an answer instead of waiting for the first frame.
	err = out.write([]byte(pipeline.StreamPreamble))
	if err == nil {
		s := a.newStream(fd, gap, partWriter{out})
		err = s.run(ctx)
	}
	log.WithError(err).Debug("viewer gone")
}

// requestFeed returns the feed of cam that r asks for with ?profile= (none,
// or "main": the main stream), answering 404 when cam has no such profile.
func requestFeed(w http.ResponseWriter, r *http.Request, cam Camera) (feedOf, bool) {
	name := r.URL.Query().Get("profile")
	fd, ok := cameraFeed(cam, name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown profile %q of camera %q", name, cam.Name()))
	}
	return fd, ok
}

// fpsGap parses ?fps=, a viewer's rate cap, into the least time between
// two camera frames sent (0: no cap), answering 400 when it is invalid.
func fpsGap(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	v, ok := queryValue(r, "fps")
	if !ok {
		return 0, true
	}
	fps, err := strconv.ParseFloat(v, 64)
	if err != nil || !(fps > 0) || math.IsInf(fps, 0) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid fps %q: want a number > 0", v))
		return 0, false
	}
	return time.Duration(min(float64(time.Second)/fps, float64(math.MaxInt64/2))), true
}

// setStreamHeaders sets the headers of a multipart stream of type ctype.
func setStreamHeaders(h http.Header, ctype string) {
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
}

// tooManyViewers answers 503 to a viewer past a cap.
func tooManyViewers(w http.ResponseWriter, body map[string]string) {
	w.Header().Del("Content-Type") // not the stream after all
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusServiceUnavailable, body)
}

// newStream returns the stream of feed fd to one viewer, written by out.
func (a *api) newStream(fd feedOf, gap time.Duration, out frameWriter) *stream {
	return &stream{
		out:      out,
		cam:      fd.cam,
		profile:  fd.profile,
		feed:     fd.feed,
		noSignal: a.placeholder(fd.cam.Name(), fd.profile),
		every:    a.cfg.NoSignalEvery,
		gap:      gap,
		dropped:  a.drops.counter(fd.cam.Name(), fd.profile),
	}
}

// stream sends one feed to one viewer: its newest frame at once, then each
// new one, and a "no signal" part while it has none.
type stream struct {
	out      frameWriter
	cam      Camera // the feed's camera: its state and usual frame interval
	profile  string // the feed's profile; main: the camera's main stream
	feed     pipeline.Feed
	noSignal *noSignal
	every    time.Duration  // no-signal period
	gap      time.Duration  // rate cap: least time between two camera frames
	dropped  *atomic.Uint64 // frames this viewer was too slow for (not those its rate cap skips)

	seq      uint64    // the last camera frame sent; 0: the newest held comes first
	lastSent time.Time // when the last camera frame was sent
}

// frameWriter writes the frames of one stream to its viewer.
type frameWriter interface {
	// writeFrame writes f, or a newer frame of the same feed, and returns
	// the frame written, which the caller releases (f is the writer's to
	// release, if it sends another).
	writeFrame(f *pipeline.Frame) (*pipeline.Frame, error)
}

// partWriter writes each frame's prebuilt part as is, in one write (a part
// carries the next boundary, so the browser shows it at once).
type partWriter struct{ out sink }

func (p partWriter) writeFrame(f *pipeline.Frame) (*pipeline.Frame, error) {
	return f, p.out.write(f.Part)
}

// run streams until ctx ends (viewer gone, server shutdown), a write
// fails or the feed is closed, and returns why.
func (s *stream) run(ctx context.Context) error {
	var pause *time.Timer // rate cap; made on first use
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
		if s.gap > 0 && !s.lastSent.IsZero() {
			// Rate cap: let the interval pass, then send the newest frame,
			// skipping those that came meanwhile.
			if d := s.gap - time.Since(s.lastSent); d > 0 {
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
		f, err := s.feed.NextBefore(ctx, s.seq, idle.C)
		if ctx.Err() != nil {
			f.Release()
			return ctx.Err()
		}
		if errors.Is(err, pipeline.ErrHubClosed) {
			return err // the camera or profile was removed: end the stream
		}
		if err != nil {
			// No frame for s.every: show the outage, which also keeps
			// proxies from cutting an idle connection.
			last := s.feed.Latest()
			if last != nil && !last.NoSignal && s.slowButHealthy() {
				f = last // sent again: a picture, not "no signal"
			} else {
				f = s.noSignal.frame(last, time.Now())
				last.Release() // only its time and number were read
			}
		}
		if err := s.write(f); err != nil {
			return err
		}
	}
}

// slowButHealthy tells a camera that usually sends a frame less often than
// the no-signal period (a still-image camera, an HTTP camera at a frame
// every few seconds) while its supervisor finds it healthy: its viewers
// get its last frame again, not a "no signal" picture between any two of
// its frames. When it really stops, its state leaves streaming and the
// "no signal" picture comes. Cameras read by ffmpeg have no learnt
// interval: for them nothing changes.
func (s *stream) slowButHealthy() bool {
	st := s.cam.Status()
	if s.profile == pipeline.MainProfile {
		return st.State == pipeline.StateStreaming && st.FrameInterval >= s.every
	}
	for _, p := range st.Profiles { // a substream learns its own interval
		if p.Name == s.profile {
			return p.State == pipeline.StateStreaming && p.FrameInterval >= s.every
		}
	}
	return false
}

// sendLatest writes the feed's newest frame, if it has one, ahead of run:
// a wall sends the newest frames of its cameras in the order listed.
func (s *stream) sendLatest() error {
	if f := s.feed.Latest(); f != nil {
		return s.write(f)
	}
	return nil
}

// write writes f (or a newer frame, at the writer's choice), counts the
// frames skipped since the last one sent and releases the frame written.
func (s *stream) write(f *pipeline.Frame) error {
	sent, err := s.out.writeFrame(f)
	if sent.Seq > s.seq { // a new frame of the feed: not a placeholder of ours, nor a frame sent again
		if s.seq != 0 && s.gap == 0 {
			// A viewer without a rate cap should see every frame: those
			// published while it was still writing the last one are lost
			// to slowness. With a cap, skipping is the point, and the two
			// causes cannot be told apart, so nothing is counted.
			s.dropped.Add(sent.Seq - s.seq - 1)
		}
		s.seq = sent.Seq
		s.lastSent = time.Now()
	}
	sent.Release() // written: the hub may reuse its memory
	return err
}

// sink is where a stream's bytes go: each write is sent at once, within the
// write timeout.
type sink interface {
	write(p []byte) error
	// writeBuffers sends the buffers of b as one part (one writev on a
	// taken connection) and consumes b.
	writeBuffers(b *net.Buffers) error
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
//
// sent counts the bytes written, for the metrics.
func takeConn(ctx context.Context, w http.ResponseWriter, timeout time.Duration, sent *atomic.Uint64) (sink, context.Context) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		return &responseSink{w: w, rc: rc, timeout: timeout, sent: sent}, ctx
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
	return &connSink{conn: conn, timeout: timeout, head: head.Bytes(), gone: gone, sent: sent}, ctx
}

// connSink writes straight to a hijacked connection.
type connSink struct {
	conn    net.Conn
	timeout time.Duration
	head    []byte        // the response header, sent with the first write
	gone    chan struct{} // closed when the connection's reader has ended
	sent    *atomic.Uint64
}

func (c *connSink) write(p []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout)) // per write, not per response
	if c.head != nil {
		p = append(c.head, p...) // once: the header and the preamble in one packet
		c.head = nil
	}
	n, err := c.conn.Write(p)
	c.sent.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (c *connSink) writeBuffers(b *net.Buffers) error {
	if c.head != nil { // not expected: the preamble is written first
		if err := c.write(nil); err != nil {
			return err
		}
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	n, err := b.WriteTo(c.conn)
	c.sent.Add(uint64(n))
	if err != nil {
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
	sent    *atomic.Uint64
}

func (r *responseSink) write(p []byte) error {
	_ = r.rc.SetWriteDeadline(time.Now().Add(r.timeout)) // per write, not per response
	n, err := r.w.Write(p)
	r.sent.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := r.rc.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

func (r *responseSink) writeBuffers(b *net.Buffers) error {
	_ = r.rc.SetWriteDeadline(time.Now().Add(r.timeout))
	for _, p := range *b {
		n, err := r.w.Write(p)
		r.sent.Add(uint64(n))
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	*b = (*b)[len(*b):]
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

// join counts a new viewer of cameras (a wall watches several; each
// counts once), or refuses it past a cap (a cap <= 0 is none). leave must
// be called once when the viewer goes.
// open returns the number of streams open.
func (v *viewerCount) open() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.all
}

func (v *viewerCount) join(maxAll, maxCamera int, cameras ...string) (leave func(), err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if maxAll > 0 && v.all >= maxAll {
		return nil, fmt.Errorf("too many viewers: the server serves at most %d streams", maxAll)
	}
	for _, c := range cameras {
		if maxCamera > 0 && v.perCamera[c] >= maxCamera {
			return nil, fmt.Errorf("too many viewers of camera %q: at most %d", c, maxCamera)
		}
	}
	if v.perCamera == nil {
		v.perCamera = map[string]int{}
	}
	v.all++
	for _, c := range cameras {
		v.perCamera[c]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			v.mu.Lock()
			defer v.mu.Unlock()
			v.all--
			for _, c := range cameras {
				if v.perCamera[c]--; v.perCamera[c] == 0 {
					delete(v.perCamera, c)
				}
			}
		})
	}, nil
}
