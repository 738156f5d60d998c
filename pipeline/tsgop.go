package pipeline

import (
	"sync"
	"time"
)

// tsPacket is the size of an MPEG-TS packet.
const tsPacket = 188

// maxGOP bounds the bytes kept of one GOP: a camera whose keyframes stop
// (or come minutes apart) must not grow memory without end.
const maxGOP = 16 << 20

// gopBuffer keeps what a decoder started at any moment needs to show a
// picture at once: the MPEG-TS packets of the camera's current GOP, from
// the last packet with the random access indicator (a keyframe's first),
// with the stream's PAT and PMT before them. A camera in standby copies its
// stream into it while it decodes keyframes only (standby.go); a viewer's
// full decoder starts from it rather than from a new RTSP session, which
// would wait for the camera's next keyframe.
type gopBuffer struct {
	mu     sync.Mutex // guards the fields below
	pat    []byte     // the newest PAT packet; nil before one
	pmt    []byte     // the newest PMT packet
	pmtPID int        // -1 before a PAT named it
	gop    []byte     // packets from the last keyframe; nil when none yet
	feed   *tsFeed    // the running decoder's, or nil
	part   []byte     // a packet cut by the end of the last write

	video   int   // PID of the video: the keyframes'; -1 before one
	esType  int   // stream_type of the PMT's first stream; -1 before a PMT
	gopPTS  int64 // PTS of the GOP's keyframe, 90 kHz; -1 when unknown
	lastPTS int64 // PTS of the newest video frame; -1 when unknown
}

func newGOPBuffer() *gopBuffer {
	return &gopBuffer{pmtPID: -1, video: -1, esType: -1, gopPTS: -1, lastPTS: -1}
}

// Write takes the bytes of the stream as they come, in any cut.
func (g *gopBuffer) Write(p []byte) (int, error) {
	n := len(p)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.part) > 0 {
		need := tsPacket - len(g.part)
		if len(p) < need {
			g.part = append(g.part, p...)
			return n, nil
		}
		g.part = append(g.part, p[:need]...)
		g.packet(g.part)
		g.part = g.part[:0]
		p = p[need:]
	}
	for len(p) > 0 {
		if p[0] != 0x47 { // lost sync: find the next packet start
			i := 1
			for i < len(p) && p[i] != 0x47 {
				i++
			}
			p = p[i:]
			continue
		}
		if len(p) < tsPacket {
			g.part = append(g.part[:0], p...)
			break
		}
		g.packet(p[:tsPacket])
		p = p[tsPacket:]
	}
	if g.feed != nil {
		g.feed.flush()
	}
	return n, nil
}

// packet takes one whole packet; g.mu is held.
func (g *gopBuffer) packet(pkt []byte) {
	pid := int(pkt[1]&0x1f)<<8 | int(pkt[2])
	switch {
	case pid == 0:
		g.pat = append(g.pat[:0], pkt...)
		if p := patPMT(pkt); p >= 0 {
			g.pmtPID = p
		}
	case pid == g.pmtPID:
		g.pmt = append(g.pmt[:0], pkt...)
		if t := pmtStreamType(pkt); t >= 0 {
			g.esType = t
		}
	}
	if randomAccess(pkt) {
		g.gop = append(g.gop[:0], pkt...)
		g.video = pid
		g.gopPTS = pesPTS(pkt)
		g.lastPTS = g.gopPTS
	} else if g.gop != nil {
		if pid == g.video {
			if pts := pesPTS(pkt); pts >= 0 {
				g.lastPTS = pts
			}
		}
		if len(g.gop)+tsPacket > maxGOP {
			g.gop = nil // wait for the next keyframe
		} else {
			g.gop = append(g.gop, pkt...)
		}
	}
	if g.feed != nil {
		g.feed.packet(pkt, g)
	}
}

// randomAccess tells whether pkt has the random access indicator: ffmpeg's
// MPEG-TS muxer sets it on the first packet of each keyframe.
func randomAccess(pkt []byte) bool {
	afc := pkt[3] >> 4 & 3
	return (afc == 2 || afc == 3) && pkt[4] > 0 && pkt[5]&0x40 != 0
}

// pesPTS returns the PTS (90 kHz) of the PES that starts in pkt, or -1
// when no PES starts there or it has no PTS.
func pesPTS(pkt []byte) int64 {
	i := unitStart(pkt)
	// 00 00 01 stream_id length(2) flags(2) header_length(1) PTS(5)
	if i < 0 || i+14 > tsPacket || pkt[i] != 0 || pkt[i+1] != 0 || pkt[i+2] != 1 || pkt[i+7]&0x80 == 0 {
		return -1
	}
	b := pkt[i+9:]
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// unitStart returns the index in pkt of the payload when a PES or a PSI
// section starts in it (payload_unit_start_indicator), past the
// adaptation field; -1 otherwise.
func unitStart(pkt []byte) int {
	if pkt[1]&0x40 == 0 {
		return -1
	}
	i := 4
	if afc := pkt[3] >> 4 & 3; afc == 2 || afc == 3 {
		i += 1 + int(pkt[4])
	}
	if i >= tsPacket {
		return -1
	}
	return i
}

// sectionStart returns the index in pkt of the table_id of the PSI
// section (PAT, PMT) that starts in it, or -1 when none starts there.
func sectionStart(pkt []byte) int {
	i := unitStart(pkt)
	if i < 0 {
		return -1
	}
	i += 1 + int(pkt[i]) // pointer field
	if i >= tsPacket {
		return -1
	}
	return i
}

// patPMT returns the PID of the first program's PMT in a PAT packet, or -1.
func patPMT(pkt []byte) int {
	i := sectionStart(pkt)
	if i < 0 || i+3 > tsPacket {
		return -1
	}
	// table_id, section_length (12 bits), then ts_id(2) version(1)
	// section_number(1) last_section(1): programs of 4 bytes, then a CRC.
	end := min(i+3+(int(pkt[i+1]&0x0f)<<8|int(pkt[i+2]))-4, tsPacket)
	for j := i + 8; j+4 <= end; j += 4 {
		program := int(pkt[j])<<8 | int(pkt[j+1])
		if program != 0 { // 0 is the network PID
			return int(pkt[j+2]&0x1f)<<8 | int(pkt[j+3])
		}
	}
	return -1
}

// pmtStreamType returns the stream_type of the first elementary stream in
// a PMT packet, or -1. Standby copies one stream (-map 0:v:0).
func pmtStreamType(pkt []byte) int {
	i := sectionStart(pkt)
	// table_id(1) section_length(2) program_number(2) version(1)
	// section_number(1) last_section(1) PCR_PID(2) program_info_length(2)
	if i < 0 || i+12 > tsPacket || pkt[i] != 0x02 {
		return -1
	}
	j := i + 12 + (int(pkt[i+10]&0x0f)<<8 | int(pkt[i+11]))
	if j+5 > tsPacket {
		return -1
	}
	return int(pkt[j])
}

// decodableTS tells whether a decoder reads back a stream of this
// stream_type from MPEG-TS: MPEG-1/2 video, MPEG-4 Part 2, H.264, HEVC.
// ffmpeg's muxer writes MJPEG as private data (0x06), which no demuxer
// takes for video.
func decodableTS(streamType int) bool {
	switch streamType {
	case 0x01, 0x02, 0x10, 0x1b, 0x24:
		return true
	}
	return false
}

// intraOnly tells whether the stream copied is known not to be one a
// decoder reads back (MJPEG: every frame a keyframe, so the keyframe
// JPEGs of standby are all of the camera's frames already).
func (g *gopBuffer) intraOnly() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.esType >= 0 && !decodableTS(g.esType)
}

// attach starts a feed for a decoder: the PAT, PMT and GOP held now, then
// every packet that comes. It returns nil before the stream has a
// keyframe. Only one feed runs at a time; a new one replaces the old.
//
// skip is how much of the GOP is past: from its keyframe to its newest
// frame. The decoder decodes it (a picture needs its keyframe) but shows
// none of it: the viewer has the newest keyframe already, and the frames
// in between are older than what it shows next (0 when unknown).
func (g *gopBuffer) attach(queue int) (f *tsFeed, skip time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gop == nil || g.pat == nil || g.pmt == nil {
		return nil, 0
	}
	if g.gopPTS >= 0 && g.lastPTS >= 0 {
		d := (g.lastPTS - g.gopPTS) & (1<<33 - 1) // the PTS wraps at 33 bits
		if d < 90000*60 {                         // not a jump of the camera's clock
			skip = time.Duration(d) * time.Second / 90000
		}
	}
	f = &tsFeed{ch: make(chan []byte, queue), done: make(chan struct{})}
	start := make([]byte, 0, 2*tsPacket+len(g.gop))
	start = append(append(append(start, g.pat...), g.pmt...), g.gop...)
	f.ch <- start
	if g.feed != nil {
		g.feed.close()
	}
	g.feed = f
	return f, skip
}

// detach ends f's feed, if it is still the running one.
func (g *gopBuffer) detach(f *tsFeed) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.feed == f {
		g.feed = nil
	}
	f.close()
}

// tsFeed carries the packets to one decoder's stdin. A decoder that falls
// behind is not waited for (the camera's reader must not block): packets
// are dropped until the next keyframe, from which it goes on.
type tsFeed struct {
	ch      chan []byte
	done    chan struct{}
	once    sync.Once
	lagging bool   // dropping until the next keyframe
	batch   []byte // packets gathered in this write, sent at flush
}

func (f *tsFeed) close() { f.once.Do(func() { close(f.done) }) }

// packet adds one packet to the batch of this write; the gopBuffer's
// mutex is held.
func (f *tsFeed) packet(pkt []byte, g *gopBuffer) {
	if f.lagging {
		if !randomAccess(pkt) {
			return
		}
		f.lagging = false
		f.batch = append(append(f.batch, g.pat...), g.pmt...)
	}
	f.batch = append(f.batch, pkt...)
}

// flush queues the batch, or starts dropping when the decoder is behind.
func (f *tsFeed) flush() {
	if len(f.batch) == 0 {
		return
	}
	select {
	case f.ch <- f.batch:
	default:
		f.lagging = true
	}
	f.batch = nil // sent or dropped: the channel's reader owns it now
}

// next returns the next bytes to write to the decoder, or false once the
// feed is closed.
func (f *tsFeed) next() ([]byte, bool) {
	select {
	case b := <-f.ch:
		return b, true
	case <-f.done:
		return nil, false
	}
}
