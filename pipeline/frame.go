package pipeline

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Boundary is the multipart boundary of every MJPEG stream (DESIGN.md).
const Boundary = "frame"

// StreamPreamble opens every MJPEG response body.
const StreamPreamble = "--" + Boundary + "\r\n"

// partTrailer ends a part and opens the next one in the same write, so a
// browser shows the frame as soon as it arrives (Chromium bug 527446).
const partTrailer = "\r\n--" + Boundary + "\r\n"

// Frame is one JPEG as published by a hub. It is shared by every viewer and
// nobody writes to it after it is published.
type Frame struct {
	Seq  uint64    // 1 for the first frame of a hub, then +1 per frame
	At   time.Time // capture time: when the frame left the splitter
	JPEG []byte    // the image, a subslice of Part
	// Part is the whole multipart part: headers, JPEG and the next boundary.
	// Each viewer writes it as is, in one write, with no copy.
	Part []byte
	// NoSignal marks a generated placeholder, not a camera frame.
	NoSignal bool

	// A hub recycles the memory of Part once nobody holds the frame, so
	// that a camera's frames do not cost a fresh 50 KB allocation (page
	// faults and GC work) each. nil for frames made outside a hub.
	pool *partPool
	refs atomic.Int32
}

// Release gives back a frame got from Hub.Next or Hub.Latest, once its
// bytes are written. Its Part and JPEG must not be used after it; Seq and
// At stay valid. A frame never released is only left to the garbage
// collector.
func (f *Frame) Release() {
	if f == nil || f.pool == nil {
		return
	}
	switch n := f.refs.Add(-1); {
	case n == 0:
		f.pool.put(f.Part)
	case n < 0:
		panic("pipeline: frame released more often than it was got")
	}
}

// partPool keeps a few part buffers of one hub for reuse.
type partPool struct {
	mu   sync.Mutex // guards free
	free [][]byte
}

const pooledParts = 4 // enough for the newest frame, one being written and spares

func (p *partPool) get(n int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.free) > 0 {
		b := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		if cap(b) >= n {
			return b[:0]
		}
	}
	return make([]byte, 0, n+n/4) // headroom: the next frames vary in size
}

func (p *partPool) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < pooledParts {
		p.free = append(p.free, b)
	}
}

// NewFrame builds a frame and its multipart part around jpeg. It makes one
// allocation and one copy of the image, paid once per frame, not per viewer.
func NewFrame(jpeg []byte, at time.Time, seq uint64) *Frame {
	return newFrame(jpeg, at, seq, false, nil)
}

// NewNoSignalFrame builds a placeholder part carrying X-No-Signal: 1.
func NewNoSignalFrame(jpeg []byte, at time.Time) *Frame {
	return newFrame(jpeg, at, 0, true, nil)
}

func newFrame(jpeg []byte, at time.Time, seq uint64, noSignal bool, pool *partPool) *Frame {
	var hdr [160]byte
	h := append(hdr[:0], "Content-Type: image/jpeg\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(jpeg)), 10)
	h = append(h, "\r\nX-Timestamp: "...)
	h = AppendTimestamp(h, at)
	if noSignal {
		h = append(h, "\r\nX-No-Signal: 1"...)
	}
	h = append(h, "\r\n\r\n"...)
	size := len(h) + len(jpeg) + len(partTrailer)
	var part []byte
	if pool != nil {
		part = pool.get(size)
	} else {
		part = make([]byte, 0, size)
	}
	part = append(part, h...)
	part = append(part, jpeg...)
	part = append(part, partTrailer...)
	f := &Frame{
		Seq:      seq,
		At:       at,
		JPEG:     part[len(h) : len(h)+len(jpeg) : len(h)+len(jpeg)],
		Part:     part,
		NoSignal: noSignal,
		pool:     pool,
	}
	f.refs.Store(1) // the maker's reference: the hub's while it is the newest
	return f
}

// AppendTimestamp appends t as unix seconds with milliseconds ("1700000000.123").
func AppendTimestamp(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}
