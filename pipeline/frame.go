package pipeline

import (
	"strconv"
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
}

// NewFrame builds a frame and its multipart part around jpeg. It makes one
// allocation and one copy of the image, paid once per frame, not per viewer.
func NewFrame(jpeg []byte, at time.Time, seq uint64) *Frame {
	return newFrame(jpeg, at, seq, false)
}

// NewNoSignalFrame builds a placeholder part carrying X-No-Signal: 1.
func NewNoSignalFrame(jpeg []byte, at time.Time) *Frame {
	return newFrame(jpeg, at, 0, true)
}

func newFrame(jpeg []byte, at time.Time, seq uint64, noSignal bool) *Frame {
	var hdr [160]byte
	h := append(hdr[:0], "Content-Type: image/jpeg\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(jpeg)), 10)
	h = append(h, "\r\nX-Timestamp: "...)
	h = AppendTimestamp(h, at)
	if noSignal {
		h = append(h, "\r\nX-No-Signal: 1"...)
	}
	h = append(h, "\r\n\r\n"...)
	part := make([]byte, 0, len(h)+len(jpeg)+len(partTrailer))
	part = append(part, h...)
	part = append(part, jpeg...)
	part = append(part, partTrailer...)
	return &Frame{
		Seq:      seq,
		At:       at,
		JPEG:     part[len(h) : len(h)+len(jpeg) : len(h)+len(jpeg)],
		Part:     part,
		NoSignal: noSignal,
	}
}

// AppendTimestamp appends t as unix seconds with milliseconds ("1700000000.123").
func AppendTimestamp(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}
