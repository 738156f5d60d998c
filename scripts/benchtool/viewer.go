package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxDelays bounds the delays one viewer keeps per window.
const maxDelays = 8192

// viewer is one MJPEG client: a goroutine with a minimal multipart reader
// that counts parts by Content-Length (no mime/multipart, no copy of the
// image: it is discarded from the read buffer).
type viewer struct {
	conn    net.Conn
	first   chan struct{} // closed on the first camera frame
	done    chan struct{} // closed when the reader ends
	closing atomic.Bool

	mu         sync.Mutex // guards the fields below
	firstAt    time.Time
	measuring  bool
	frames     int64
	bytes      int64
	noSignal   int64
	last       time.Time
	maxGap     time.Duration
	delays     []time.Duration // at the part's arrival in the socket
	readDelays []time.Duration // when the reader had it
	arrivals   []arrival
	err        error
}

// startViewer connects to addr (host:port) and streams path.
func startViewer(ctx context.Context, addr, path string) (*viewer, error) {
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	v := &viewer{conn: conn, first: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(v.done)
		err := v.read(addr, path)
		v.mu.Lock()
		v.err = err
		v.mu.Unlock()
		_ = conn.Close()
	}()
	return v, nil
}

func (v *viewer) close() {
	v.closing.Store(true)
	_ = v.conn.Close()
	<-v.done
}

// failed returns why the stream ended on its own, nil while it runs or when
// close ended it.
func (v *viewer) failed() error {
	select {
	case <-v.done:
	default:
		return nil
	}
	if v.closing.Load() {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err == nil {
		return errors.New("stream ended")
	}
	return v.err
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// hasPrefixFold reports whether b starts with lower, ASCII case-insensitively.
func hasPrefixFold(b []byte, lower string) bool {
	if len(b) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// parseUint parses the decimal digits of b after leading spaces.
func parseUint(b []byte) (int64, []byte, bool) {
	b = bytes.TrimLeft(b, " \t")
	var n int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 18; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:], i > 0
}

// parseTimestampMs parses "1700000000.123" into unix milliseconds.
func parseTimestampMs(b []byte) (int64, bool) {
	sec, rest, ok := parseUint(b)
	if !ok {
		return 0, false
	}
	ms := sec * 1000
	if len(rest) > 0 && rest[0] == '.' {
		scale := int64(100)
		for _, c := range rest[1:] {
			if c < '0' || c > '9' || scale == 0 {
				break
			}
			ms += int64(c-'0') * scale
			scale /= 10
		}
	}
	return ms, true
}

func (v *viewer) read(host, path string) error {
	if _, err := io.WriteString(v.conn, "GET "+path+" HTTP/1.1\r\nHost: "+host+
		"\r\nUser-Agent: rtsp2mjpeg-benchtool\r\n\r\n"); err != nil {
		return err
	}
	var src io.Reader = v.conn
	rx, hasRx := newRxConn(v.conn)
	if hasRx {
		src = rx
	}
	br := bufio.NewReaderSize(src, 64<<10)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("status line: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.")) || len(line) < 12 || string(line[9:12]) != "200" {
		return fmt.Errorf("answer %q", trimEOL(line))
	}
	for i := 0; ; i++ { // response headers
		if line, err = br.ReadSlice('\n'); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		if len(trimEOL(line)) == 0 {
			break
		}
		if i > 100 {
			return errors.New("too many headers")
		}
	}
	for {
		// The boundary line; blank lines before it are the end of the last part.
		for i := 0; ; i++ {
			if line, err = br.ReadSlice('\n'); err != nil {
				return err
			}
			t := trimEOL(line)
			if len(t) == 0 {
				continue
			}
			if bytes.HasPrefix(t, []byte("--")) {
				break
			}
			if i > 4 {
				return fmt.Errorf("no boundary, got %q", t)
			}
		}
		n, ts, noSig := int64(-1), int64(-1), false
		for i := 0; ; i++ { // part headers
			if line, err = br.ReadSlice('\n'); err != nil {
				return err
			}
			t := trimEOL(line)
			if len(t) == 0 {
				break
			}
			switch {
			case hasPrefixFold(t, "content-length:"):
				if x, _, ok := parseUint(t[len("content-length:"):]); ok {
					n = x
				}
			case hasPrefixFold(t, "x-timestamp:"):
				if x, ok := parseTimestampMs(t[len("x-timestamp:"):]); ok {
					ts = x
				}
			case hasPrefixFold(t, "x-no-signal:"):
				noSig = true
			}
			if i > 32 {
				return errors.New("too many part headers")
			}
		}
		if n < 0 {
			return errors.New("part without Content-Length")
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
		// The part is whole when its last byte reached the socket: the
		// read that brought it is the last one made.
		now := time.Now()
		arrived := now
		if hasRx && !rx.lastRx.IsZero() {
			arrived = rx.lastRx
		}
		v.record(now, arrived, n, ts, noSig)
	}
}

// record counts a part the viewer now has whole.
func (v *viewer) record(now, arrived time.Time, n, tsMs int64, noSig bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if noSig {
		v.noSignal++
		return
	}
	if v.firstAt.IsZero() {
		v.firstAt = now
		close(v.first)
	}
	if v.measuring {
		v.frames++
		v.bytes += n
		if !v.last.IsZero() {
			if g := now.Sub(v.last); g > v.maxGap {
				v.maxGap = g
			}
		}
		if tsMs > 0 && len(v.delays) < maxDelays {
			v.delays = append(v.delays, arrived.Sub(time.UnixMilli(tsMs)))
			v.readDelays = append(v.readDelays, now.Sub(time.UnixMilli(tsMs)))
			v.arrivals = append(v.arrivals, arrival{tsMs, arrived})
		}
	}
	v.last = now
}

// arrival is when one frame (by its X-Timestamp) reached one viewer.
type arrival struct {
	tsMs int64
	at   time.Time
}

// fanOut returns, for every arrival of a frame that reached more than one
// viewer, how long after its first arrival at any viewer it came: the
// spread of the daemon's writes of one frame. The frame left the splitter
// before its first arrival, so this is a lower bound of the delay the
// daemon adds, exact where the X-Timestamp one is up to 1 ms high.
func fanOut(all []arrival) []time.Duration {
	first := map[int64]time.Time{}
	count := map[int64]int{}
	for _, a := range all {
		if f, ok := first[a.tsMs]; !ok || a.at.Before(f) {
			first[a.tsMs] = a.at
		}
		count[a.tsMs]++
	}
	var out []time.Duration
	for _, a := range all {
		if count[a.tsMs] > 1 {
			out = append(out, a.at.Sub(first[a.tsMs]))
		}
	}
	slices.Sort(out)
	return out
}

// viewStats are the figures of a group of viewers over a window.
type viewStats struct {
	viewers    int
	secs       float64
	fps        []float64       // per viewer, sorted
	gaps       []time.Duration // worst gap per viewer, sorted
	frames     int64
	bytes      int64
	noSignal   int64
	delays     []time.Duration // all, sorted: at arrival in the viewer's socket
	readDelays []time.Duration // all, sorted: when the viewer's reader had the part
	fanOut     []time.Duration // sorted: see fanOut
	failed     int             // viewers whose stream ended on its own
	firstErr   error
}

func beginWindow(vs []*viewer) time.Time {
	for _, v := range vs {
		v.mu.Lock()
		v.measuring = true
		v.frames, v.bytes, v.noSignal, v.maxGap = 0, 0, 0, 0
		v.delays = v.delays[:0]
		v.readDelays = v.readDelays[:0]
		v.arrivals = v.arrivals[:0]
		v.mu.Unlock()
	}
	return time.Now()
}

func endWindow(vs []*viewer, start time.Time) viewStats {
	end := time.Now()
	st := viewStats{viewers: len(vs), secs: end.Sub(start).Seconds()}
	var arrivals []arrival
	for _, v := range vs {
		v.mu.Lock()
		v.measuring = false
		gap := v.maxGap // and the time since the last frame: a stall at the end
		if v.last.IsZero() {
			gap = max(gap, end.Sub(start))
		} else {
			gap = max(gap, end.Sub(v.last))
		}
		st.fps = append(st.fps, float64(v.frames)/st.secs)
		st.gaps = append(st.gaps, gap)
		st.frames += v.frames
		st.bytes += v.bytes
		st.noSignal += v.noSignal
		st.delays = append(st.delays, v.delays...)
		st.readDelays = append(st.readDelays, v.readDelays...)
		arrivals = append(arrivals, v.arrivals...)
		v.mu.Unlock()
		if err := v.failed(); err != nil {
			st.failed++
			if st.firstErr == nil {
				st.firstErr = err
			}
		}
	}
	slices.Sort(st.fps)
	slices.Sort(st.gaps)
	slices.Sort(st.delays)
	slices.Sort(st.readDelays)
	st.fanOut = fanOut(arrivals)
	return st
}

// quantile of sorted xs, nearest rank.
func quantile[T any](xs []T, q float64) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	i := int(q*float64(len(xs))+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

// rampUp connects n more viewers to addr+path and waits until each has a
// first frame, bounded by timeout.
func rampUp(ctx context.Context, addr, path string, n int, timeout time.Duration) ([]*viewer, error) {
	vs := make([]*viewer, 0, n)
	for range n {
		v, err := startViewer(ctx, addr, path)
		if err != nil {
			return vs, fmt.Errorf("viewer %d: %w", len(vs)+1, err)
		}
		vs = append(vs, v)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for i, v := range vs {
		select {
		case <-v.first:
		case <-v.done:
			return vs, fmt.Errorf("viewer %d ended before its first frame: %v", i+1, v.failed())
		case <-t.C:
			return vs, fmt.Errorf("viewer %d: no first frame within %v", i+1, timeout)
		case <-ctx.Done():
			return vs, ctx.Err()
		}
	}
	return vs, nil
}

func closeAll(vs []*viewer) {
	for _, v := range vs {
		v.closing.Store(true)
		_ = v.conn.Close()
	}
	for _, v := range vs {
		<-v.done
	}
}
