package pipeline

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"
)

// DefaultMaxFrame bounds one frame; bigger ones are dropped.
const DefaultMaxFrame = 16 << 20

// readSize is the initial read buffer: several 720p frames, so most frames
// are parsed in place without moving them.
const readSize = 256 << 10

// minRead is the free space the buffer keeps for a read. Below it the
// buffer is compacted (or grown), so a frame that spans many small pipe
// reads (64 KiB on Linux) is not moved once per read.
const minRead = 32 << 10

// maxEmptyReads is how many (0, nil) reads in a row are tolerated before
// giving up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// JPEG marker bytes (ITU T.81, table B.1), each following an 0xFF.
const (
	mTEM = 0x01 // standalone
	mRST = 0xD0 // RST0..RST7 are 0xD0..0xD7, standalone
	mSOI = 0xD8
	mEOI = 0xD9
	mSOS = 0xDA
)

// splitState is where the parser stands in the byte stream.
type splitState uint8

const (
	stSeek    splitState = iota // outside frames, looking for an SOI
	stMarker                    // in a frame, at the FF of the next marker
	stSegment                   // in a frame, inside a segment body (rem bytes left)
	stScan                      // in a frame, in entropy-coded data after an SOS header
)

// Splitter cuts a stream of concatenated JPEGs (ffmpeg's image2pipe MJPEG)
// into frames. It parses the marker structure rather than looking for byte
// patterns, so FF D9 inside a segment (an EXIF thumbnail, a comment) does not
// end a frame, and it resynchronises on the next SOI after garbage or a torn
// frame.
//
// Frames are returned in place from one read buffer that is reused: in the
// steady state Next makes no allocation.
type Splitter struct {
	r   io.Reader
	max int    // frames longer than this are dropped
	lim int    // the buffer never grows past this: max + readSize
	buf []byte // buf[:end] holds data read and not yet discarded

	start int // offset of the current frame's SOI in buf (unless over)
	pos   int // parse position
	end   int // end of valid data in buf

	st   splitState
	next splitState // state after the current segment: stScan after SOS
	rem  int        // bytes left in the current segment body
	over bool       // the current frame passed max: its bytes are discarded as parsed
	sof  bool       // the current frame has had its SOF (frame header) segment

	// base is the stream offset of buf[0]; back is how many bytes were
	// searched again after invalid frames. Together they bound the work of
	// those searches (see invalid).
	base int64
	back int64

	err error // sticky error from r

	// The counters are atomic so that a status page may read them while
	// another goroutine calls Next.
	dropped atomic.Uint64
	garbage atomic.Uint64
}

// NewSplitter returns a splitter reading from r. Frames longer than maxFrame
// bytes are dropped; maxFrame <= 0 means DefaultMaxFrame.
func NewSplitter(r io.Reader, maxFrame int) *Splitter {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &Splitter{
		r:   r,
		max: maxFrame,
		lim: maxFrame + readSize,
		buf: make([]byte, readSize),
	}
}

// Next returns the next complete JPEG: it starts with FF D8 and ends with
// FF D9. The slice is only valid until the next call to Next, which reuses
// the buffer: callers copy it (Hub.Publish does).
//
// Next returns io.EOF at the end of input, also when the input ends inside
// garbage or a truncated frame (that frame is counted as dropped, not
// returned), and the reader's error otherwise.
func (s *Splitter) Next() ([]byte, error) {
	for {
		if f := s.parse(); f != nil {
			return f, nil
		}
		if s.err != nil {
			return nil, s.stop()
		}
		s.fill()
	}
}

// Dropped returns how many frames were dropped: torn (a new SOI before the
// EOI), structurally invalid, truncated at the end of input, or over the
// size limit.
func (s *Splitter) Dropped() uint64 { return s.dropped.Load() }

// Garbage returns how many bytes were skipped while looking for an SOI. The
// bytes of an invalid frame after its SOI are searched again, so they count
// here too.
func (s *Splitter) Garbage() uint64 { return s.garbage.Load() }

// stop accounts for the unparsed tail once the reader has failed or ended,
// and returns the error Next reports.
func (s *Splitter) stop() error {
	switch {
	case s.st == stSeek:
		s.skipped(s.end - s.pos) // at most a trailing FF
	default:
		s.dropped.Add(1) // truncated frame
	}
	s.st, s.over = stSeek, false
	s.base += int64(s.end)
	s.pos, s.start, s.end = 0, 0, 0
	return s.err
}

// parse advances through buf[pos:end] and returns the next good frame, or
// nil when it needs more data.
func (s *Splitter) parse() []byte {
	buf := s.buf[:s.end]
	for {
		switch s.st {
		case stSeek:
			if !s.seek(buf) {
				return nil
			}
		case stSegment:
			n := min(s.rem, len(buf)-s.pos)
			s.pos += n
			s.rem -= n
			if s.rem > 0 {
				return nil
			}
			s.st = s.next
		case stScan:
			if !s.scan(buf) {
				return nil
			}
		case stMarker:
			p := s.pos
			if p+1 >= len(buf) {
				return nil
			}
			if buf[p] != 0xFF {
				s.invalid()
				continue
			}
			// Any number of fill bytes (FF) may precede a marker; they
			// stay in the frame.
			for buf[p+1] == 0xFF {
				p++
				if p+1 >= len(buf) {
					s.pos = p
					return nil
				}
			}
			s.pos = p
			switch m := buf[p+1]; {
			case m == mEOI:
				s.pos = p + 2
				s.st = stSeek
				if s.over || s.pos-s.start > s.max {
					s.over = false
					s.dropped.Add(1)
					continue
				}
				return buf[s.start:s.pos]
			case m == mSOI:
				// A new frame began before this one ended: drop the
				// partial frame and restart at this SOI.
				s.dropped.Add(1)
				s.over = false
				s.sof = false
				s.start = p
				s.pos = p + 2
			case m == mTEM, m >= mRST && m <= mRST+7:
				s.pos = p + 2
			case m == 0x00:
				s.invalid() // stuffing where a marker must be
			default:
				if p+4 > len(buf) {
					return nil
				}
				n := int(buf[p+2])<<8 | int(buf[p+3])
				if n < 2 {
					s.invalid()
					continue
				}
				// A frame torn inside the length of its SOF or SOS header
				// takes the next frame's first bytes for the rest of the
				// length: check it against the header's count of
				// components (SOF: P, Y, X, then Nf; length 8+3×Nf.
				// SOS: Ns first, 1..4; length 6+2×Ns). Checked before any
				// state changes: with too few bytes yet, this marker is
				// parsed again after the next read.
				if isSOF(m) || m == mSOS {
					at := p + 4 // Ns
					if isSOF(m) {
						at = p + 9 // Nf
					}
					if at >= len(buf) {
						return nil
					}
					c := int(buf[at])
					if isSOF(m) && (c == 0 || n != 8+3*c) || m == mSOS && (c == 0 || c > 4 || n != 6+2*c) {
						s.invalid()
						continue
					}
				}
				// One frame header, before the first scan. A frame torn
				// inside a segment whose length then swallows the next
				// frame's SOI shows up as a second SOF or as a scan
				// without one: drop it, do not glue two frames together.
				if isSOF(m) {
					if s.sof {
						s.invalid()
						continue
					}
					s.sof = true
				} else if m == mSOS && !s.sof {
					s.invalid()
					continue
				}
				s.pos = p + 4
				s.rem = n - 2
				s.st = stSegment
				s.next = stMarker
				if m == mSOS {
					s.next = stScan
				}
			}
		}
	}
}

// skipped counts n bytes of garbage.
func (s *Splitter) skipped(n int) {
	if n > 0 {
		s.garbage.Add(uint64(n))
	}
}

// seek looks for an SOI from pos. It reports whether it found one; if not,
// pos is left where the search must go on (on a trailing FF).
func (s *Splitter) seek(buf []byte) bool {
	p := s.pos
	for {
		i := bytes.IndexByte(buf[p:], 0xFF)
		if i < 0 {
			s.skipped(len(buf) - s.pos)
			s.pos = len(buf)
			return false
		}
		p += i
		if p+1 >= len(buf) {
			s.skipped(p - s.pos)
			s.pos = p
			return false
		}
		if buf[p+1] == mSOI {
			s.skipped(p - s.pos)
			s.sof = false
			s.start = p
			s.pos = p + 2
			s.st = stMarker
			return true
		}
		p++
	}
}

// scan skips entropy-coded data from pos. In it, FF 00 is a stuffed FF and
// FF D0..D7 are restart markers; any other FF xx is a marker that ends the
// scan. It reports whether it reached such a marker (pos is on its FF); if
// not, pos is where scanning must go on.
func (s *Splitter) scan(buf []byte) bool {
	p := s.pos
	for {
		i := bytes.IndexByte(buf[p:], 0xFF)
		if i < 0 {
			s.pos = len(buf)
			return false
		}
		p += i
		if p+1 >= len(buf) {
			s.pos = p
			return false
		}
		switch c := buf[p+1]; {
		case c == 0x00, c >= mRST && c <= mRST+7:
			p += 2
		case c == 0xFF:
			p++ // fill byte: the marker is further on
		default:
			s.pos = p
			s.st = stMarker
			return true
		}
	}
}

// invalid drops the current frame and searches for an SOI again from the
// byte after its SOI, so that a real SOI among the bad bytes (say, the next
// frame, swallowed by a segment of a truncated one) is found.
//
// The search goes on from pos instead when the frame's bytes were discarded
// (it was over the limit), and when going back would make the bytes searched
// again outnumber the bytes read: crafted input nesting many SOIs in segments
// of frames that all end in the same long invalid scan would otherwise cost
// time quadratic in its length.
func (s *Splitter) invalid() {
	s.dropped.Add(1)
	if d := int64(s.pos - s.start - 2); !s.over && s.back+d <= s.base+int64(s.pos) {
		s.back += d
		s.pos = s.start + 2
	}
	s.over = false
	s.st = stSeek
}

// fill reads more data into buf, first discarding what is no longer needed
// and, when that leaves too little room, growing buf up to lim.
func (s *Splitter) fill() {
	inFrame := s.st != stSeek
	if inFrame && !s.over && s.pos-s.start > s.max {
		// Stop accumulating an oversize frame: keep parsing it to find its
		// end, but discard its bytes from now on.
		s.over = true
	}
	if len(s.buf)-s.end < minRead {
		keep := s.pos
		if inFrame && !s.over {
			keep = s.start
		}
		if keep > 0 {
			n := copy(s.buf, s.buf[keep:s.end])
			s.base += int64(keep)
			s.start -= keep
			s.pos -= keep
			s.end = n
		}
		if len(s.buf)-s.end < minRead && len(s.buf) < s.lim {
			nb := make([]byte, min(2*len(s.buf), s.lim))
			copy(nb, s.buf[:s.end])
			s.buf = nb
		}
	}
	for range maxEmptyReads {
		n, err := s.r.Read(s.buf[s.end:])
		if n < 0 || n > len(s.buf)-s.end {
			s.err = errBadRead
			return
		}
		s.end += n
		if err != nil {
			s.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	s.err = io.ErrNoProgress
}

// errBadRead reports a reader that returned an impossible count.
var errBadRead = errors.New("pipeline: reader returned an invalid count from Read")

// isSOF tells the start-of-frame markers C0..CF, which are not DHT (C4),
// JPG (C8) or DAC (CC).
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}
