package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync/atomic"
	"time"
)

// partReadSize is the initial read buffer of a PartReader: a few part
// headers and most of a 720p frame per read. It grows to hold a whole part
// when one is bigger.
const partReadSize = 64 << 10

// minPartRead is the free space the buffer keeps for a read; below it the
// buffer is compacted or grown, so a part arriving in many small reads is not
// moved once per read.
const minPartRead = 16 << 10

// maxLine bounds a header or boundary line. A longer run of bytes without a
// line end is garbage (binary data outside a JPEG), skipped in pieces.
const maxLine = 4 << 10

// maxBoundary bounds a declared boundary (RFC 2046 allows 70 characters). A
// longer one cannot be a real camera's, and is ignored: the boundary is then
// taken from the stream.
const maxBoundary = 200

// Part is one JPEG of an MJPEG-over-HTTP stream.
type Part struct {
	// JPEG runs from SOI to EOI. It is only valid until the next call to
	// Next, which reuses its memory.
	JPEG []byte
	// NoSignal marks a placeholder (header X-No-Signal: 1), as rtsp2mjpeg
	// sends while its camera is down: a relay must not take it for a
	// camera frame.
	NoSignal bool
	// Timestamp is the part's X-Timestamp, seconds with a fraction; the
	// zero time when absent or unparsable. rtsp2mjpeg sends unix time;
	// mjpg-streamer and ESP32 firmwares send the capture clock, often
	// seconds since boot: only rtsp2mjpeg's is a wall-clock time.
	Timestamp time.Time
}

// PartReader reads the JPEG parts of an MJPEG-over-HTTP body
// (multipart/x-mixed-replace), as cameras send it rather than as RFC 2046
// describes it. ffmpeg's mpjpeg demuxer, mime/multipart and go2rtc's reader
// each fail on some of those cameras (notes/scaleout-and-inputs.md 2.2):
//
//   - The boundary comes from the Content-Type, quoted or not, declared with
//     or without the leading dashes of its lines; when the parameter is
//     missing, unparsable or never seen in the stream, the first line that
//     starts with "--" gives it. A boundary line may have any number of
//     leading dashes. The closing boundary ends the stream.
//   - The boundary before the first part is optional (ESP32 firmwares, go2rtc
//     #545): a body may start with part headers or with the JPEG itself.
//     Header lines without a boundary start a part too, and so does an SOI.
//   - Header names are matched in any case; lines may end in LF only; the
//     part Content-Type and unknown headers are ignored (the JPEG decides).
//   - With a Content-Length the body is taken whole, which is the fast path.
//     When those bytes are not SOI...EOI (trailing blanks aside), the length
//     was wrong: they are read again as a part without one.
//   - Without a Content-Length (a Mobotix, go2rtc#1833) the JPEG's end is
//     found by parsing its markers, as the Splitter does, never by looking
//     for the boundary: "\r\n--boundary" may well occur inside JPEG data.
//   - Garbage between parts, before the JPEG in a part, and parts with no
//     JPEG are skipped; torn, invalid or oversize JPEGs are dropped, and the
//     reader resynchronises on the next boundary, header or SOI.
//
// The Splitter itself cannot find a part's end: it would skip the next
// boundary and headers as garbage before the next SOI. PartReader parses
// JPEG markers the same way, with the same checks, and stops at the EOI:
// it never reads past a part, since a live server may send the bytes after
// it only with the next frame.
//
// It reads into one buffer of its own, as the Splitter does, rather than
// through a bufio.Reader, because it must go back: to read a body again when
// its Content-Length was wrong, and to search a dropped JPEG's bytes for the
// part it swallowed. Both are then free. JPEGs are returned in place: Next
// makes no allocation and does not copy the JPEG.
type PartReader struct {
	r   io.Reader
	max int    // JPEGs longer than this are dropped
	lim int    // the buffer never grows past this: max + partReadSize
	buf []byte // buf[:end] holds data read and not yet dropped

	pos  int   // parse position
	end  int   // end of valid data in buf
	mark int   // offset in buf of the SOI of the JPEG being read, kept by fill; -1 when none
	base int64 // stream offset of buf[0]

	jstart int64 // stream offset of the SOI of the JPEG being read
	back   int64 // bytes searched again after dropped JPEGs; bounded by base+pos
	rerr   error // sticky error from r

	bnd     []byte // the boundary without its leading dashes; nil until known
	matched bool   // bnd has been seen in the stream, so it is kept

	st partState
	h  partHeader // headers of the part being read

	err error // sticky: once set, Next returns it

	// The counters are atomic so that a status page may read them while
	// another goroutine calls Next.
	skipped atomic.Uint64
	garbage atomic.Uint64
}

// partState is where the reader stands between two JPEGs.
type partState uint8

const (
	psSeek    partState = iota // after a JPEG: looking for a boundary, headers or an SOI
	psHeaders                  // after a boundary line or a first header line
	psBody                     // after the blank line ending headers with no length: looking for the SOI
)

// partHeader holds what the reader keeps of a part's headers.
type partHeader struct {
	length   int // Content-Length; -1 when absent or not a number
	noSignal bool
	ts       time.Time
	seen     bool // a header line was read: the part has begun
	junk     bool // the body had bytes that were no JPEG
}

var noHeader = partHeader{length: -1}

// NewPartReader returns a reader of body, an MJPEG-over-HTTP response body
// whose Content-Type header is contentType.
func NewPartReader(body io.Reader, contentType string) *PartReader {
	return &PartReader{
		r:    body,
		max:  DefaultMaxFrame,
		lim:  DefaultMaxFrame + partReadSize,
		buf:  make([]byte, partReadSize),
		mark: -1,
		h:    noHeader,
		bnd:  boundaryParam(contentType),
	}
}

// Skipped returns how many parts were dropped: with a body that holds no
// JPEG, or a JPEG that was torn, structurally invalid or over the size
// limit (DefaultMaxFrame).
func (r *PartReader) Skipped() uint64 { return r.skipped.Load() }

// Garbage returns how many bytes were skipped outside parts and JPEGs. The
// bytes of a dropped JPEG after its SOI are searched again for the next part,
// so they count here too.
func (r *PartReader) Garbage() uint64 { return r.garbage.Load() }

// Next returns the next part's JPEG, valid until the next call, whether it
// is a placeholder (X-No-Signal: 1), and its X-Timestamp if any.
//
// It returns io.EOF when the body ends between parts or at the closing
// boundary, an error wrapping io.ErrUnexpectedEOF when it ends inside a part,
// and the body's read error otherwise, wrapped. Errors are sticky.
func (r *PartReader) Next() (Part, error) {
	for r.err == nil {
		kind, line, n := r.token()
		switch kind {
		case tokEnd:
			r.err = r.stopped(r.rerr)
		case tokSOI:
			if r.st == psHeaders && r.h.length >= 0 { // headers with no blank line after them
				if p, ok := r.lengthBody(); ok {
					return p, nil
				}
			} else if p, ok := r.markerBody(); ok {
				return p, nil
			}
		case tokJunk:
			r.junk(n)
		case tokLine:
			b := r.boundaryLine(line)
			switch {
			case b != notBoundary:
				if r.st == psBody && r.h.junk {
					r.skipped.Add(1) // a part with no JPEG in it
				}
				if b == closingBoundary {
					r.err = io.EOF // do not wait for an epilogue on a live connection
					break
				}
				r.st, r.h = psHeaders, noHeader
			case len(line) == 0:
				// A blank line ends the headers. Elsewhere it is the line
				// end after a JPEG, or one too many: not garbage.
				if r.st != psHeaders {
					break
				}
				r.st = psBody
				if r.h.length >= 0 {
					if p, ok := r.lengthBody(); ok {
						return p, nil
					}
				}
			case r.st != psBody && r.header(line):
				r.st = psHeaders
			default:
				r.junk(n)
			}
		}
	}
	return Part{}, r.err
}

// junk counts n bytes that are neither framing nor JPEG.
func (r *PartReader) junk(n int) {
	r.garbage.Add(uint64(n))
	if r.st == psBody {
		r.h.junk = true
	}
}

// stopped turns the error that ended the search for a part into the one Next
// reports.
func (r *PartReader) stopped(err error) error {
	if err != io.EOF {
		return fmt.Errorf("pipeline: MJPEG stream: read: %w", err)
	}
	switch {
	case r.st == psHeaders && r.h.seen:
		return cutError("in a part's headers", err)
	case r.st == psBody && (r.h.seen || r.h.junk):
		return cutError("before a part's JPEG", err)
	}
	return io.EOF // between parts, or right after a boundary
}

// cutError reports a read error inside a part; the body ending there is
// io.ErrUnexpectedEOF.
func cutError(where string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("pipeline: MJPEG stream cut %s: %w", where, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("pipeline: MJPEG stream: read %s: %w", where, err)
}

// lengthBody takes the body of a part with a Content-Length. It reports
// whether it holds a JPEG to return; if not, the part was dropped, or its
// bytes are left to be read again as a part without a length.
func (r *PartReader) lengthBody() (Part, bool) {
	h, n := r.h, r.h.length
	r.st, r.h = psSeek, noHeader
	if n > r.max {
		for left := n; left > 0; {
			if r.pos == r.end && !r.fill() {
				r.err = cutError(fmt.Sprintf("after %d of the %d bytes of an oversize part", n-left, n), r.rerr)
				return Part{}, false
			}
			k := min(left, r.end-r.pos)
			r.pos += k
			left -= k
		}
		r.skipped.Add(1)
		return Part{}, false
	}
	if !r.need(n) {
		r.err = cutError(fmt.Sprintf("after %d of the %d bytes of a part", r.end-r.pos, n), r.rerr)
		return Part{}, false
	}
	body := r.buf[r.pos : r.pos+n]
	j := n
	for j > 0 && isBlank(body[j-1]) { // some servers count the line end after the JPEG
		j--
	}
	if j >= 4 && body[0] == 0xFF && body[1] == mSOI && body[j-2] == 0xFF && body[j-1] == mEOI {
		r.pos += n
		return Part{JPEG: body[:j:j], NoSignal: h.noSignal, Timestamp: h.ts}, true
	}
	// The length was wrong, or the JPEG has junk before it or is no JPEG:
	// the same bytes, still in buf and not yet parsed, are read as a part
	// without a length.
	h.length = -1
	r.st, r.h = psBody, h
	return Part{}, false
}

// isBlank tells the bytes a server may leave after a JPEG inside its
// Content-Length: line ends, spaces and zero padding.
func isBlank(c byte) bool {
	return c == '\r' || c == '\n' || c == ' ' || c == '\t' || c == 0
}

// markerBody reads the JPEG at an SOI by its markers. It reports whether it
// got one; if not, the part was dropped (and Next goes on) or r.err is set.
func (r *PartReader) markerBody() (Part, bool) {
	h := r.h
	r.st, r.h = psSeek, noHeader
	jpeg, ok := r.readJPEG()
	if r.err != nil || !ok {
		return Part{}, false
	}
	return Part{JPEG: jpeg, NoSignal: h.noSignal, Timestamp: h.ts}, true
}

// readJPEG parses the JPEG at the SOI at pos up to and with its EOI, and
// reads nothing past it: a live server may send the next boundary only with
// the next frame. Like the Splitter it skips segments whole (an EXIF
// thumbnail's FF D9 does not end the frame), reads scan data up to the next
// real marker, and checks the frame and scan headers so that a torn frame is
// not glued to the next one.
//
// It returns the JPEG in place, or false for one it dropped (over the limit,
// torn by a new SOI, invalid: counted) or cut by the end of the stream
// (r.err set).
func (r *PartReader) readJPEG() ([]byte, bool) {
	r.mark, r.jstart = r.pos, r.base+int64(r.pos)
	r.pos += 2
	defer func() { r.mark = -1 }()
	sof := false
	for {
		if !r.need(2) {
			return r.cut()
		}
		b := r.buf[r.pos:r.end]
		if b[0] != 0xFF {
			return r.invalid()
		}
		m := b[1]
		switch {
		case m == 0xFF: // fill byte before a marker: part of the frame
			r.pos++
		case m == mEOI:
			r.pos += 2
			if r.jlen() > int64(r.max) {
				r.skipped.Add(1)
				return nil, false
			}
			return r.buf[r.mark:r.pos:r.pos], true
		case m == mSOI, m == 0x00:
			return r.invalid()
		case m == mTEM, m >= mRST && m <= mRST+7:
			r.pos += 2
		default:
			if !r.need(4) {
				return r.cut()
			}
			n := int(r.buf[r.pos+2])<<8 | int(r.buf[r.pos+3])
			// As in Splitter.parse: check SOF and SOS lengths against their
			// component counts (SOF: 8+3×Nf, Nf at 9; SOS: 6+2×Ns, Ns at 4,
			// 1..4), and one SOF before the first SOS. The lengths are
			// checked first so that no read waits for bytes past the
			// segment.
			switch {
			case n < 2, isSOF(m) && n < 11, m == mSOS && n < 8:
				return r.invalid()
			case isSOF(m):
				if !r.need(10) {
					return r.cut()
				}
				if c := int(r.buf[r.pos+9]); sof || c == 0 || n != 8+3*c {
					return r.invalid()
				}
				sof = true
			case m == mSOS:
				if !r.need(5) {
					return r.cut()
				}
				if c := int(r.buf[r.pos+4]); !sof || c == 0 || c > 4 || n != 6+2*c {
					return r.invalid()
				}
			}
			if !r.skip(2 + n) {
				return r.cut()
			}
			if m == mSOS && !r.scan() {
				return r.cut()
			}
		}
	}
}

// jlen is the length of the JPEG being read so far.
func (r *PartReader) jlen() int64 { return r.base + int64(r.pos) - r.jstart }

// cut ends a JPEG that the end of the stream (or a read error) cut.
func (r *PartReader) cut() ([]byte, bool) {
	r.err = cutError(fmt.Sprintf("in a JPEG after %d bytes", r.jlen()), r.rerr)
	return nil, false
}

// invalid drops the JPEG being read and goes back to the byte after its SOI,
// to search the bytes again for the next part: a frame torn inside a
// segment may have swallowed the next boundary and headers, or a whole
// frame. A torn frame (a new SOI before the EOI) has swallowed at least the
// boundary line and headers before that SOI.
//
// It does not go back over an oversize JPEG, whose bytes are gone, nor when
// that would make the bytes searched again outnumber the bytes read: crafted
// input (SOIs nested in the segments of frames that are all invalid at the
// same far point) would otherwise cost time quadratic in its length, as
// Splitter.invalid explains.
func (r *PartReader) invalid() ([]byte, bool) {
	r.skipped.Add(1)
	if d := r.jlen() - 2; d+2 <= int64(r.max) && r.back+d <= r.base+int64(r.pos) {
		r.back += d
		r.pos = r.mark + 2 // in buf still: fill keeps a JPEG within the limit
	}
	return nil, false
}

// scan skips entropy-coded data up to the marker that ends it, leaving pos
// on that marker's FF. In scan data FF 00 is a stuffed FF, FF D0..D7 are
// restart markers and FF FF is fill. It reports false if the input ended
// first.
func (r *PartReader) scan() bool {
	for {
		buf := r.buf[:r.end]
		p := r.pos
		for {
			i := bytes.IndexByte(buf[p:], 0xFF)
			if i < 0 {
				p = len(buf)
				break
			}
			p += i
			if p+1 >= len(buf) {
				break // the FF is looked at again once the byte after it is here
			}
			c := buf[p+1]
			if c == 0x00 || c >= mRST && c <= mRST+7 {
				p += 2
				continue
			}
			if c == 0xFF {
				p++
				continue
			}
			r.pos = p
			return true
		}
		r.pos = p
		if !r.fill() {
			return false
		}
	}
}

// skip advances pos by n bytes, reading them as needed. It reports false if
// the input ended first.
func (r *PartReader) skip(n int) bool {
	for n > 0 {
		if r.pos == r.end && !r.fill() {
			return false
		}
		k := min(n, r.end-r.pos)
		r.pos += k
		n -= k
	}
	return true
}

// need reads until n bytes from pos are in buf. It reports false if the
// input ended first.
func (r *PartReader) need(n int) bool {
	for r.end-r.pos < n {
		if !r.fill() {
			return false
		}
	}
	return true
}

// fill reads more data into buf, first dropping what is no longer needed
// (everything before pos, or before the SOI of the JPEG being read) and,
// when that leaves less than minPartRead free, growing buf up to lim. It
// reports whether it read anything; if not, rerr says why.
//
// A JPEG's bytes are kept until it passes the limit; from then on it is
// only parsed to find its end, so the buffer holds at most about max bytes
// of it. A part body (at most max, or skipped) and a line (maxLine) are
// kept from pos. So buf never needs more than lim.
func (r *PartReader) fill() bool {
	if r.rerr != nil {
		return false
	}
	if r.mark >= 0 && r.jlen() > int64(r.max) {
		r.mark = -1 // oversize: stop keeping it
	}
	if len(r.buf)-r.end < minPartRead {
		keep := r.pos
		if r.mark >= 0 {
			keep = r.mark
		}
		if keep > 0 {
			n := copy(r.buf, r.buf[keep:r.end])
			r.base += int64(keep)
			r.pos -= keep
			if r.mark >= 0 {
				r.mark -= keep
			}
			r.end = n
		}
		if len(r.buf)-r.end < minPartRead && len(r.buf) < r.lim {
			nb := make([]byte, min(2*len(r.buf), r.lim))
			copy(nb, r.buf[:r.end])
			r.buf = nb
		}
	}
	for range maxEmptyReads {
		n, err := r.r.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			r.rerr = errBadRead
			return false
		}
		r.end += n
		if err != nil {
			r.rerr = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	r.rerr = io.ErrNoProgress
	return false
}

// tokKind is what the input holds at the reader's position between JPEGs.
type tokKind uint8

const (
	tokEnd  tokKind = iota // no more input: rerr says why
	tokSOI                 // FF D8, left at pos
	tokLine                // a line, read; the text without its line end
	tokJunk                // bytes that are neither, read
)

// token reads the next line, or junk, or finds an SOI, and returns it with
// the number of bytes read. A line stops before an FF, since header and
// boundary lines are ASCII: a JPEG right after junk with no line end is not
// swallowed. The line is only valid until the next read.
func (r *PartReader) token() (tokKind, []byte, int) {
	if !r.need(1) {
		return tokEnd, nil, 0
	}
	if r.buf[r.pos] == 0xFF {
		if r.need(2) && r.buf[r.pos+1] == mSOI {
			return tokSOI, nil, 0
		}
		r.pos++
		return tokJunk, nil, 1
	}
	for from := 0; ; {
		win := r.buf[r.pos:min(r.end, r.pos+maxLine)]
		if i := indexLineEnd(win, from); i >= 0 {
			if win[i] == '\n' {
				r.pos += i + 1
				return tokLine, trimLine(win[:i]), i + 1
			}
			r.pos += i // up to an FF: the next token looks at it
			return tokJunk, nil, i
		}
		if len(win) == maxLine {
			r.pos += maxLine
			return tokJunk, nil, maxLine
		}
		from = len(win) // searched already: a line arriving in many reads is scanned once
		if !r.fill() {
			if r.rerr != io.EOF {
				return tokEnd, nil, 0
			}
			// A last line without its line end: "--x--" often comes so.
			line := r.buf[r.pos:r.end]
			r.pos = r.end
			return tokLine, trimLine(line), len(line)
		}
	}
}

// indexLineEnd returns the index of the first LF or FF in b[from:], or -1.
// One pass that stops at the first of either: two IndexByte calls would
// scan far past a near FF for a LF, once per token.
func indexLineEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if c := b[i]; c == '\n' || c == 0xFF {
			return i
		}
	}
	return -1
}

// trimLine drops a line's trailing CR and blanks.
func trimLine(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Boundary line kinds.
const (
	notBoundary = iota
	isBoundary
	closingBoundary
)

// boundaryLine tells whether line (trimmed) is a boundary line. Any number
// of leading dashes is accepted: servers that declare boundary=--x write
// "--x" or "----x". Until the boundary has been seen in the stream, a line
// starting with "--" that is not it replaces it: the parameter was missing,
// unparsable or wrong. A known boundary is also found after junk on its
// line (padding after a JPEG with no line end), which counts as garbage.
func (r *PartReader) boundaryLine(line []byte) int {
	if len(line) < 3 || line[0] != '-' || line[1] != '-' {
		if len(r.bnd) == 0 {
			return notBoundary
		}
		kind := isBoundary
		if bytes.HasSuffix(line, dashes) && !bytes.HasSuffix(line, r.bnd) {
			kind, line = closingBoundary, line[:len(line)-2]
		}
		end := len(line) - len(r.bnd)
		if end < 2 || !bytes.HasSuffix(line, r.bnd) || line[end-1] != '-' || line[end-2] != '-' {
			return notBoundary
		}
		r.junk(len(bytes.TrimRight(line[:end], "-")))
		r.matched = true
		return kind
	}
	tok := bytes.TrimLeft(line, "-")
	if len(tok) == 0 {
		return notBoundary
	}
	switch {
	case bytes.Equal(tok, r.bnd):
		r.matched = true
		return isBoundary
	case len(r.bnd) > 0 && len(tok) == len(r.bnd)+2 && bytes.HasPrefix(tok, r.bnd) && bytes.HasSuffix(tok, dashes):
		return closingBoundary
	case !r.matched && len(tok) <= maxBoundary:
		r.bnd = append(r.bnd[:0:0], tok...) // once per stream: a fresh slice, not the parameter's
		r.matched = true
		return isBoundary
	}
	return notBoundary
}

var dashes = []byte("--")

// boundaryParam returns the boundary parameter of a Content-Type without
// its leading dashes, or nil. It falls back to a plain search for
// "boundary=" when mime cannot parse the header (a space in an unquoted
// value, a missing quote).
func boundaryParam(contentType string) []byte {
	var b string
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		b = params["boundary"]
	} else {
		b = rawBoundary(contentType)
	}
	b = strings.TrimLeft(strings.TrimSpace(b), "-")
	if b == "" || len(b) > maxBoundary {
		return nil
	}
	return []byte(b)
}

// rawBoundary finds boundary=VALUE in s, VALUE ending at ';' or the end,
// with blanks and quotes trimmed.
func rawBoundary(s string) string {
	const key = "boundary="
	for i := 0; i+len(key) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(key)], key) {
			v := s[i+len(key):]
			if j := strings.IndexByte(v, ';'); j >= 0 {
				v = v[:j]
			}
			return strings.Trim(v, "\"' \t")
		}
	}
	return ""
}

// Header names a PartReader reads, compared in any case.
var (
	hContentLength = []byte("Content-Length")
	hTimestamp     = []byte("X-Timestamp")
	hNoSignal      = []byte("X-No-Signal")
	vTrue          = []byte("true")
)

// header parses line if it is a header line ("Name: value", the name a
// token) into r.h, and reports whether it was one.
func (r *PartReader) header(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 || i > 64 {
		return false
	}
	name := line[:i]
	for _, c := range name {
		if !isTokenChar(c) {
			return false
		}
	}
	v := bytes.TrimSpace(line[i+1:])
	switch {
	case bytes.EqualFold(name, hContentLength):
		r.h.length = parseLength(v)
	case bytes.EqualFold(name, hTimestamp):
		r.h.ts = parseTimestamp(v)
	case bytes.EqualFold(name, hNoSignal):
		r.h.noSignal = string(v) == "1" || bytes.EqualFold(v, vTrue)
	}
	r.h.seen = true
	return true
}

// isTokenChar tells the characters of an HTTP header name (RFC 9110 tchar).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseLength parses a Content-Length; -1 when it is not a plain number of
// at most 12 digits (a terabyte: a length no camera sends is no length).
func parseLength(v []byte) int {
	if len(v) == 0 || len(v) > 12 {
		return -1
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// parseTimestamp parses unix seconds with an optional fraction
// ("1700000000.123", as AppendTimestamp writes it); the zero time if v is
// not that.
func parseTimestamp(v []byte) time.Time {
	sec, i := int64(0), 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		if i == 12 {
			return time.Time{}
		}
		sec = sec*10 + int64(v[i]-'0')
	}
	if i == 0 {
		return time.Time{}
	}
	var nsec int64
	if i < len(v) {
		if v[i] != '.' {
			return time.Time{}
		}
		scale := int64(1e9)
		for i++; i < len(v); i++ {
			c := v[i]
			if c < '0' || c > '9' {
				return time.Time{}
			}
			if scale > 1 {
				scale /= 10
				nsec += int64(c-'0') * scale
			}
		}
	}
	return time.Unix(sec, nsec)
}
