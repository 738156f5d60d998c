package pipeline

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"
)

// testTS encodes seconds of a test pattern as MPEG-TS with a keyframe
// every gop frames, as a camera in standby copies its stream.
func testTS(t *testing.T, seconds, gop int) []byte {
	t.Helper()
	needFFmpeg(t)
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=320x240:rate=10", "-t", itoa(seconds), "-c:v", "libx264", "-g", itoa(gop),
		"-pix_fmt", "yuv420p", "-f", "mpegts", "pipe:1").Output()
	if err != nil {
		t.Fatalf("make MPEG-TS: %v", err)
	}
	return out
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

// TestGOPBuffer: fed the stream in random cuts (and junk between), the
// buffer keeps the packets from the last keyframe, and what a decoder
// attached now gets decodes from its first byte.
func TestGOPBuffer(t *testing.T) {
	ts := testTS(t, 3, 10) // keyframes at 0, 1 and 2 s
	g := newGOPBuffer()
	rest := ts
	for len(rest) > 0 {
		n := min(len(rest), 1+rand.IntN(1000))
		g.Write(rest[:n])
		rest = rest[n:]
	}
	if g.pmtPID < 0 || g.pat == nil || g.pmt == nil {
		t.Fatalf("PAT/PMT not found: pmt PID %d", g.pmtPID)
	}
	if len(g.gop) == 0 || len(g.gop)%tsPacket != 0 || !randomAccess(g.gop) {
		t.Fatalf("GOP of %d bytes, starting with a keyframe %v", len(g.gop), len(g.gop) > 0 && randomAccess(g.gop))
	}
	if len(g.gop) >= len(ts)/2 {
		t.Errorf("GOP holds %d of %d bytes: more than the last keyframe's", len(g.gop), len(ts))
	}
	f, skip := g.attach(8)
	// The last GOP: keyframe at 2 s, newest frame at 2.9 s (10 fps).
	if skip < 850*time.Millisecond || skip > 950*time.Millisecond {
		t.Errorf("skip %v, want 900ms: from the GOP's keyframe to its newest frame", skip)
	}
	start, ok := f.next()
	if !ok {
		t.Fatal("no start")
	}
	// Then live packets: the first GOP again, as if the camera went on.
	g.Write(append([]byte{0x00, 0x12}, ts[:len(ts)/3]...)) // junk before a packet: resync
	more, _ := f.next()
	g.detach(f)
	if _, ok := f.next(); ok {
		t.Error("next after detach")
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "mpegts", "-i", "pipe:0",
		"-fps_mode", "passthrough", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1")
	cmd.Stdin = bytes.NewReader(append(start, more...))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("decode the attached stream: %v", err)
	}
	if n := bytes.Count(out, []byte{0xff, 0xd8, 0xff}); n < 10 {
		t.Errorf("%d pictures decoded from the attached stream, want at least the GOP's 10", n)
	}
}

// TestGOPBufferLaggingFeed: a decoder that reads nothing is not waited
// for; once it reads again it gets a keyframe first.
func TestGOPBufferLaggingFeed(t *testing.T) {
	ts := testTS(t, 3, 10)
	g := newGOPBuffer()
	g.Write(ts[:len(ts)/3])
	f, _ := g.attach(1) // the start fills the queue
	for i := 0; i < len(ts); i += 4 * tsPacket {
		g.Write(ts[i:min(len(ts), i+4*tsPacket)]) // never blocks
	}
	if !f.lagging {
		t.Fatal("a full queue did not make the feed lag")
	}
	f.next()    // the start
	g.Write(ts) // from the stream's first keyframe
	b, ok := f.next()
	if !ok || len(b) < 3*tsPacket || int(b[1]&0x1f)<<8|int(b[2]) != 0 || !randomAccess(b[2*tsPacket:]) {
		t.Fatalf("after lagging: %d bytes, want PAT, PMT then a keyframe", len(b))
	}
	g.detach(f)
}

// needFFmpeg skips a test that runs the real ffmpeg where it is missing,
// but fails in CI, which must install it.
func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ffmpeg is not installed; CI must install it (scripts/setup.sh)")
		}
		t.Skip("ffmpeg not installed")
	}
}

// The buffer reads the copied stream's type from its PMT: an MJPEG camera's
// copy (private data) is known not to decode back, so standby runs no
// viewers' decoder for it.
func TestGOPBufferStreamType(t *testing.T) {
	needFFmpeg(t)
	h264 := newGOPBuffer()
	h264.Write(testTS(t, 1, 5))
	if h264.esType != 0x1b || h264.intraOnly() {
		t.Errorf("H.264 copy: stream_type %#x, intraOnly %v; want 0x1b, false", h264.esType, h264.intraOnly())
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=160x120:rate=10:duration=1", "-c:v", "mjpeg", "-f", "mpegts", "pipe:1").Output()
	if err != nil {
		t.Fatal(err)
	}
	mjpeg := newGOPBuffer()
	if mjpeg.intraOnly() {
		t.Error("intraOnly before any PMT")
	}
	mjpeg.Write(out)
	if mjpeg.esType != 0x06 || !mjpeg.intraOnly() {
		t.Errorf("MJPEG copy: stream_type %#x, intraOnly %v; want 0x06, true", mjpeg.esType, mjpeg.intraOnly())
	}
}

// FuzzGOPBuffer: whatever bytes come down standby's pipe, the buffer
// neither panics nor hands a decoder a start that is not whole packets.
func FuzzGOPBuffer(f *testing.F) {
	pkt := func(pid int, start bool, payload ...byte) []byte {
		p := make([]byte, tsPacket)
		p[0], p[1], p[2], p[3] = 0x47, byte(pid>>8&0x1f), byte(pid), 0x10
		if start {
			p[1] |= 0x40
		}
		copy(p[4:], payload)
		return p
	}
	// A PAT naming PMT 0x1000, a PMT with one H.264 stream, a keyframe
	// packet (adaptation field with the random access indicator).
	pat := pkt(0, true, 0, 0x00, 0xb0, 0x0d, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0x00)
	pmt := pkt(0x1000, true, 0, 0x02, 0xb0, 0x12, 0, 1, 0xc1, 0, 0, 0xe1, 0, 0xf0, 0, 0x1b, 0xe1, 0, 0xf0, 0)
	key := pkt(0x100, true)
	key[3], key[4], key[5] = 0x30, 7, 0x40
	f.Add(append(append(append([]byte{}, pat...), pmt...), key...), uint8(7))
	f.Add([]byte{0x47, 0x40, 0, 0x30, 0xff, 0xff}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		g := newGOPBuffer()
		step := int(cut)%200 + 1
		for i := 0; i < len(data); i += step {
			g.Write(data[i:min(i+step, len(data))])
		}
		g.intraOnly()
		if feed, _ := g.attach(4); feed != nil {
			defer g.detach(feed)
			if b, ok := feed.next(); ok && len(b)%tsPacket != 0 {
				t.Fatalf("a feed's start of %d bytes is not whole packets", len(b))
			}
		}
	})
}
