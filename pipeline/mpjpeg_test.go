package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// mk concatenates strings, byte slices and ints (written in decimal) into a
// stream.
func mk(items ...any) []byte {
	var b []byte
	for _, it := range items {
		switch v := it.(type) {
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		case int:
			b = fmt.Appendf(b, "%d", v)
		default:
			panic(fmt.Sprintf("mk: %T", it))
		}
	}
	return b
}

// gotPart is a Part with its JPEG copied.
type gotPart struct {
	jpeg     []byte
	noSignal bool
	ts       time.Time
}

// readParts runs a PartReader to its end and returns copies of its parts
// and the error that ended it. maxFrame 0 keeps the default limit.
func readParts(t testing.TB, in io.Reader, ct string, maxFrame int) ([]gotPart, *PartReader, error) {
	t.Helper()
	r := NewPartReader(in, ct)
	if maxFrame > 0 {
		r.max, r.lim = maxFrame, maxFrame+partReadSize
	}
	var parts []gotPart
	for {
		p, err := r.Next()
		if err != nil {
			if p.JPEG != nil {
				t.Errorf("Next returned a JPEG with error %v", err)
			}
			return parts, r, err
		}
		j := p.JPEG
		if len(j) < 4 || j[0] != 0xFF || j[1] != 0xD8 || j[len(j)-2] != 0xFF || j[len(j)-1] != 0xD9 {
			t.Fatalf("part %d is not SOI...EOI: % x", len(parts), j[:min(len(j), 16)])
		}
		parts = append(parts, gotPart{bytes.Clone(j), p.NoSignal, p.Timestamp})
		if len(parts) > 1e5 {
			t.Fatal("too many parts")
		}
	}
}

func TestPartReader(t *testing.T) {
	a := testJPEG(t, 64, 48, 1, 40)
	b := testJPEG(t, 40, 32, 2, 10)
	c := testJPEG(t, 16, 16, 3, 0)
	// tricky holds, in a comment and in an EXIF thumbnail, what a parser
	// that looks for the boundary or for FF D9 would take for the end.
	tricky := withSegments(a,
		seg(0xFE, []byte("\r\n--x\r\nContent-Type: image/jpeg\r\n\r\n\r\n--x--\r\n")),
		seg(0xE1, []byte("Exif\x00\x00"), testJPEG(t, 8, 8, 4, 0)))
	aScan := endOfHeaders(t, a)
	const ct = "multipart/x-mixed-replace; boundary=x"
	const jp = "Content-Type: image/jpeg\r\n"
	// part is a well-formed part with a Content-Length.
	part := func(j []byte) []byte { return mk("--x\r\n", jp, "Content-Length: ", len(j), "\r\n\r\n", j, "\r\n") }
	// bare is a part without a Content-Length.
	bare := func(j []byte) []byte { return mk("--x\r\n", jp, "\r\n", j, "\r\n") }

	tests := []struct {
		name    string
		ct      string
		in      []byte
		max     int
		want    [][]byte
		err     error // io.EOF unless set
		skipped uint64
		garbage int // -1: not checked
	}{
		{name: "empty", ct: ct, in: nil},
		{name: "length", ct: ct, in: mk(part(a), part(b), part(c)), want: [][]byte{a, b, c}},
		{name: "no length", ct: ct, in: mk(bare(a), bare(b), bare(c)), want: [][]byte{a, b, c}},
		{name: "no length, boundary and FF D9 inside the JPEG", ct: ct, in: mk(bare(tricky), bare(b)), want: [][]byte{tricky, b}},
		{name: "length, boundary and FF D9 inside the JPEG", ct: ct, in: mk(part(tricky), part(b)), want: [][]byte{tricky, b}},
		{name: "mixed", ct: ct, in: mk(part(a), bare(b), part(c)), want: [][]byte{a, b, c}},

		// Servers as they write it (from their sources).
		{
			// esp32-camera's CameraWebServer app_httpd.c: the boundary, with a
			// line end before it, then headers and the JPEG, per frame.
			name: "ESP32 CameraWebServer", ct: "multipart/x-mixed-replace;boundary=123456789000000000000987654321",
			in: mk("\r\n--123456789000000000000987654321\r\nContent-Type: image/jpeg\r\nContent-Length: ", len(a), "\r\nX-Timestamp: 1700000000.123456\r\n\r\n", a,
				"\r\n--123456789000000000000987654321\r\nContent-Type: image/jpeg\r\nContent-Length: ", len(b), "\r\nX-Timestamp: 1700000000.223456\r\n\r\n", b),
			want: [][]byte{a, b},
		},
		{
			// mjpg-streamer's output_http: the first boundary with the
			// response headers, the next one right after each JPEG.
			name: "mjpg-streamer", ct: "multipart/x-mixed-replace;boundary=boundarydonotcross",
			in: mk("--boundarydonotcross\r\n", "Content-Type: image/jpeg\r\nContent-Length: ", len(a), "\r\nX-Timestamp: 1700000000.123456\r\n\r\n", a,
				"\r\n--boundarydonotcross\r\n", "Content-Type: image/jpeg\r\nContent-Length: ", len(b), "\r\nX-Timestamp: 1700000000.223456\r\n\r\n", b, "\r\n--boundarydonotcross\r\n"),
			want: [][]byte{a, b},
		},
		{
			// yoursunny/esp32cam before its fix (esp32cam#67): no boundary
			// before the first part.
			name: "esp32cam without a first boundary", ct: "multipart/x-mixed-replace;boundary=e8b8c539-047d-4777-a985-fbba6edff11e",
			in: mk("Content-Type: image/jpeg\r\nContent-Length: ", len(a), "\r\n\r\n", a, "\r\n--e8b8c539-047d-4777-a985-fbba6edff11e\r\n",
				"Content-Type: image/jpeg\r\nContent-Length: ", len(b), "\r\n\r\n", b, "\r\n--e8b8c539-047d-4777-a985-fbba6edff11e\r\n"),
			want: [][]byte{a, b},
		},

		// The boundary parameter.
		{
			name: "quoted boundary", ct: `multipart/x-mixed-replace; boundary="my:bnd"`,
			in:   mk("--my:bnd\r\n", jp, "\r\n", a, "\r\n--my:bnd\r\n", jp, "\r\n", b),
			want: [][]byte{a, b},
		},
		{
			name: "unquoted, no space", ct: "multipart/x-mixed-replace;boundary=ipcamera",
			in:   mk("--ipcamera\r\n", jp, "\r\n", a, "\r\n--ipcamera\r\n", jp, "\r\n", b),
			want: [][]byte{a, b},
		},
		{
			name: "declared with dashes, lines as declared", ct: "multipart/x-mixed-replace;boundary=--myboundary",
			in:   mk("--myboundary\r\n", jp, "\r\n", a, "\r\n--myboundary\r\n", jp, "\r\n", b, "\r\n--myboundary--\r\n"),
			want: [][]byte{a, b},
		},
		{
			name: "declared with dashes, lines with two more", ct: `multipart/x-mixed-replace; boundary="--myboundary"`,
			in:   mk("----myboundary\r\n", jp, "\r\n", a, "\r\n----myboundary\r\n", jp, "\r\n", b, "\r\n----myboundary--\r\n", part(c)),
			want: [][]byte{a, b},
		},
		{
			name: "no boundary parameter", ct: "multipart/x-mixed-replace",
			in:   mk("--abc123\r\n", jp, "\r\n", a, "\r\n--abc123\r\n", jp, "\r\n", b, "\r\n--abc123--"),
			want: [][]byte{a, b},
		},
		{
			name: "unparsable parameter", ct: "multipart/x-mixed-replace;boundary=video boundary--",
			in:   mk("--video boundary--\r\n", jp, "\r\n", a, "\r\n--video boundary--\r\n", jp, "\r\n", b),
			want: [][]byte{a, b},
		},
		{name: "no content type", ct: "", in: mk(part(a), part(b)), want: [][]byte{a, b}},
		{
			name: "declared boundary never sent", ct: "multipart/x-mixed-replace; boundary=foo",
			in:   mk("--bar\r\n", jp, "\r\n", a, "\r\n--bar\r\n", jp, "\r\n", b, "\r\n--bar--\r\n", part(c)),
			want: [][]byte{a, b},
		},

		// Framing.
		{name: "headers first, no boundary", ct: ct, in: mk(jp, "Content-Length: ", len(a), "\r\n\r\n", a, "\r\n", part(b)), want: [][]byte{a, b}},
		{name: "JPEG first, no boundary", ct: ct, in: mk(a, "\r\n", bare(b)), want: [][]byte{a, b}},
		{name: "JPEGs with no framing at all", ct: ct, in: mk(a, b, c), want: [][]byte{a, b, c}},
		{name: "headers with no boundaries", ct: ct, in: mk("Content-Length: ", len(a), "\r\n\r\n", a, "Content-Length: ", len(b), "\r\n\r\n", b), want: [][]byte{a, b}},
		{name: "doubled boundary", ct: ct, in: mk("--x\r\n", part(a), "--x\r\n\r\n", part(b)), want: [][]byte{a, b}},
		{name: "closing boundary", ct: ct, in: mk(part(a), part(b), "--x--\r\n", part(c)), want: [][]byte{a, b}},
		{name: "closing boundary without line end", ct: ct, in: mk(part(a), "--x--"), want: [][]byte{a}},
		{
			name: "header names in any case", ct: ct,
			in: mk("--x\r\nCONTENT-TYPE: image/jpeg\r\ncontent-length: ", len(a), "\r\n\r\n", a,
				"\r\n--x\r\ncontent-type:image/jpeg\r\nCoNtEnT-LeNgTh:", len(b), "  \r\n\r\n", b),
			want: [][]byte{a, b},
		},
		{
			name: "LF only", ct: ct,
			in:   mk("--x\n", "Content-Type: image/jpeg\n", "Content-Length: ", len(a), "\n\n", a, "\n--x\ncontent-type: image/jpeg\n\n", b, "\n--x--\n"),
			want: [][]byte{a, b},
		},
		{
			name: "extra headers", ct: ct,
			in: mk("--x\r\nContent-Type: image/jpeg\r\nX-Frame: 1\r\nCache-Control: no-cache\r\nX-Resolution: 64x48\r\nContent-Length: ",
				len(a), "\r\nX-Timestamp: 1700000000.123\r\n\r\n", a, "\r\n"),
			want: [][]byte{a},
		},
		{
			name: "no part content type, image/jpg", ct: ct,
			in:   mk("--x\r\nContent-Length: ", len(a), "\r\n\r\n", a, "\r\n--x\r\nContent-Type: image/jpg\r\n\r\n", b, "\r\n--x\r\n\r\n", c),
			want: [][]byte{a, b, c},
		},
		{name: "no blank line after the headers", ct: ct, in: mk("--x\r\nContent-Length: ", len(a), "\r\n", a, "--x\ncontent-type: image/jpeg\n", b), want: [][]byte{a, b}},

		// Content-Length that does not fit.
		{
			name: "length too short", ct: ct,
			in:   mk("--x\r\n", jp, "Content-Length: ", len(a)-100, "\r\n\r\n", a, "\r\n", part(b)),
			want: [][]byte{a, b}, garbage: 0,
		},
		{
			name: "length too long", ct: ct,
			in:   mk("--x\r\n", jp, "Content-Length: ", len(a)+30, "\r\n\r\n", a, "\r\n", part(b), part(c)),
			want: [][]byte{a, b, c}, garbage: 0,
		},
		{
			name: "length counts the line end", ct: ct,
			in:   mk("--x\r\nContent-Length: ", len(a)+2, "\r\n\r\n", a, "\r\n--x\r\nContent-Length: ", len(b)+4, "\r\n\r\n", b, "\x00\x00\r\n", part(c)),
			want: [][]byte{a, b, c}, garbage: 0,
		},
		{
			name: "length of a frame torn short", ct: ct,
			in:   mk("--x\r\nX-Timestamp: 1\r\nContent-Length: ", len(a), "\r\n\r\n", a[:aScan+200], "\r\n", part(b), part(c)),
			want: [][]byte{b, c}, skipped: 1, garbage: -1,
		},
		{name: "length 0", ct: ct, in: mk("--x\r\nContent-Length: 0\r\n\r\n", part(a)), want: [][]byte{a}, garbage: 0},
		{name: "length not a number", ct: ct, in: mk("--x\r\nContent-Length: 12kB\r\n\r\n", a, "\r\n", part(b)), want: [][]byte{a, b}, garbage: 0},

		// Garbage.
		{name: "junk after the JPEG", ct: ct, in: mk(part(a), "junk\r\nmore junk\r\n", part(b)), want: [][]byte{a, b}, garbage: 6 + 11},
		{name: "binary junk between JPEGs", ct: ct, in: mk(a, "\x00\x01\xFF\x00\xFF", b, "ab\xFF"), want: [][]byte{a, b}, garbage: 5 + 3},
		{name: "junk before the JPEG", ct: ct, in: mk("--x\r\n", jp, "\r\njunk", a, "\r\n", part(b)), want: [][]byte{a, b}, garbage: 4},
		{
			name: "junk before the JPEG, in the length", ct: ct,
			in:   mk("--x\r\nContent-Length: ", len(a)+6, "\r\n\r\njunk\r\n", a, "\r\n", part(b)),
			want: [][]byte{a, b}, garbage: 6,
		},
		{name: "junk before the first boundary", ct: ct, in: mk("HTTP/1.0 200 OK\r\n\x00\x00", part(a)), want: [][]byte{a}, garbage: 19},
		{name: "junk before a boundary on its line", ct: ct, in: mk(part(a), "\x00\x00\x00--x\r\n\r\n", b, "pad--x--\r\n", part(c)), want: [][]byte{a, b}, garbage: 6},
		{name: "junk after the last part", ct: ct, in: mk(part(a), "\xFF\xFFtrailing"), want: [][]byte{a}, garbage: 10},
		{
			name: "part not a JPEG, with length", ct: ct,
			in:   mk("--x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello\r\n", part(b)),
			want: [][]byte{b}, skipped: 1, garbage: 7,
		},
		{
			name: "part not a JPEG, no length", ct: ct,
			in:   mk("--x\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n", bare(b)),
			want: [][]byte{b}, skipped: 1, garbage: 14,
		},
		{name: "torn JPEG, no length", ct: ct, in: mk(bare(a[:aScan+300]), bare(b)), want: [][]byte{b}, skipped: 1, garbage: -1},
		{name: "invalid JPEG, no length", ct: ct, in: mk(bare([]byte("\xFF\xD8\xFF\x00junk")), bare(b)), want: [][]byte{b}, skipped: 1, garbage: -1},
		{name: "torn JPEG, no framing", ct: ct, in: mk(a[:aScan+300], b), want: [][]byte{b}, skipped: 1, garbage: -1},

		// Size.
		{name: "oversize with length", ct: ct, in: mk(part(a), part(c), part(a)), max: len(a) - 1, want: [][]byte{c}, skipped: 2},
		{name: "oversize, no length", ct: ct, in: mk(bare(a), bare(c), bare(a)), max: len(a) - 1, want: [][]byte{c}, skipped: 2},
		{name: "exactly the limit", ct: ct, in: mk(bare(c), part(c)), max: len(c), want: [][]byte{c, c}},

		// The end.
		{name: "ends after a boundary", ct: ct, in: mk(part(a), "--x\r\n"), want: [][]byte{a}},
		{name: "ends after a JPEG", ct: ct, in: mk(part(a), "--x\r\n", jp, "\r\n", b), want: [][]byte{a, b}},
		{name: "cut in the JPEG, length", ct: ct, in: mk(part(a), "--x\r\nContent-Length: ", len(b), "\r\n\r\n", b[:100]), want: [][]byte{a}, err: io.ErrUnexpectedEOF},
		{name: "cut in the JPEG, no length", ct: ct, in: mk(part(a), "--x\r\n\r\n", b[:len(b)-1]), want: [][]byte{a}, err: io.ErrUnexpectedEOF},
		{name: "cut in a segment", ct: ct, in: mk(part(a), "--x\r\n\r\n", b[:20]), want: [][]byte{a}, err: io.ErrUnexpectedEOF},
		{name: "cut in the headers", ct: ct, in: mk(part(a), "--x\r\nContent-Type: ima"), want: [][]byte{a}, err: io.ErrUnexpectedEOF},
		{name: "cut after the headers", ct: ct, in: mk(part(a), "--x\r\n", jp, "\r\n"), want: [][]byte{a}, err: io.ErrUnexpectedEOF},
		{name: "cut in an oversize part", ct: ct, in: mk(part(c), part(a)[:len(a)/2]), max: len(c), want: [][]byte{c}, err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				parts, r, err := readParts(t, rd.new(tt.in), tt.ct, tt.max)
				want := tt.err
				if want == nil {
					want = io.EOF
				}
				if !errors.Is(err, want) || want == io.EOF && err != io.EOF {
					t.Errorf("err = %v, want %v", err, want)
				}
				if len(parts) != len(tt.want) {
					t.Fatalf("got %d parts, want %d", len(parts), len(tt.want))
				}
				for i, p := range parts {
					if !bytes.Equal(p.jpeg, tt.want[i]) {
						t.Errorf("part %d: %d bytes differ from the %d bytes sent", i, len(p.jpeg), len(tt.want[i]))
					}
				}
				if r.Skipped() != tt.skipped {
					t.Errorf("Skipped() = %d, want %d", r.Skipped(), tt.skipped)
				}
				if tt.garbage >= 0 && r.Garbage() != uint64(tt.garbage) {
					t.Errorf("Garbage() = %d, want %d", r.Garbage(), tt.garbage)
				}
				if _, again := r.Next(); again != err {
					t.Errorf("Next after the end = %v, want the same %v", again, err)
				}
			})
		}
	}
}

// TestPartReaderOwnStream reads what this daemon serves at
// /cameras/NAME/video, built by NewFrame as the server builds it: a relay
// must see the placeholders for what they are, and the capture times.
func TestPartReaderOwnStream(t *testing.T) {
	a := testJPEG(t, 64, 48, 1, 40)
	b := testJPEG(t, 40, 32, 2, 10)
	t0 := time.UnixMilli(1_700_000_000_123)
	frames := []*Frame{
		NewFrame(a, t0, 1),
		NewNoSignalFrame(b, t0.Add(1500*time.Millisecond)),
		NewFrame(b, t0.Add(2*time.Second+7*time.Millisecond), 2),
	}
	in := []byte(StreamPreamble)
	for _, f := range frames {
		in = append(in, f.Part...)
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			parts, r, err := readParts(t, rd.new(in), "multipart/x-mixed-replace; boundary="+Boundary, 0)
			if err != io.EOF {
				t.Fatalf("err = %v, want io.EOF", err)
			}
			if len(parts) != len(frames) {
				t.Fatalf("got %d parts, want %d", len(parts), len(frames))
			}
			for i, f := range frames {
				p := parts[i]
				if !bytes.Equal(p.jpeg, f.JPEG) || p.noSignal != f.NoSignal || p.ts.UnixMilli() != f.At.UnixMilli() {
					t.Errorf("part %d: %d bytes, no signal %v, at %v; want %d, %v, %v",
						i, len(p.jpeg), p.noSignal, p.ts, len(f.JPEG), f.NoSignal, f.At)
				}
			}
			if r.Skipped() != 0 || r.Garbage() != 0 {
				t.Errorf("skipped %d, garbage %d", r.Skipped(), r.Garbage())
			}
		})
	}
}

// TestPartReaderHeaders checks the headers a part carries, and that a torn
// frame does not take the next part's headers with it.
func TestPartReaderHeaders(t *testing.T) {
	a := testJPEG(t, 64, 48, 1, 40)
	b := testJPEG(t, 40, 32, 2, 10)
	torn := a[:endOfHeaders(t, a)+300]
	ts := func(s string) time.Time { return parseTimestamp([]byte(s)) }
	tests := []struct {
		name     string
		in       []byte
		want     []gotPart
		skipped  uint64
		tsString string
	}{
		{
			name: "timestamps and no signal",
			in: mk("--x\r\nX-Timestamp: 1700000000.5\r\n\r\n", a, "\r\n--x\r\nx-no-signal: 1\r\nX-TIMESTAMP: 1700000001\r\n\r\n", b,
				"\r\n--x\r\nX-No-Signal: 0\r\nX-Timestamp: 17e8\r\n\r\n", a, "\r\n--x\r\nX-No-Signal: true\r\n\r\n", b),
			want: []gotPart{
				{a, false, time.Unix(1700000000, 5e8)},
				{b, true, time.Unix(1700000001, 0)},
				{a, false, time.Time{}},
				{b, true, time.Time{}},
			},
		},
		{
			name:    "torn frame keeps the next part's headers",
			in:      mk("--x\r\nX-Timestamp: 1\r\n\r\n", torn, "\r\n--x\r\nX-No-Signal: 1\r\nX-Timestamp: 2.25\r\n\r\n", b),
			want:    []gotPart{{b, true, time.Unix(2, 25e7)}},
			skipped: 1,
		},
		{
			name:    "a part's headers do not stay for the next",
			in:      mk("--x\r\nX-No-Signal: 1\r\nX-Timestamp: 3\r\n\r\nhello\r\n--x\r\n\r\n", a),
			want:    []gotPart{{a, false, time.Time{}}},
			skipped: 1,
		},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				parts, r, err := readParts(t, rd.new(tt.in), "multipart/x-mixed-replace;boundary=x", 0)
				if err != io.EOF {
					t.Fatalf("err = %v", err)
				}
				if len(parts) != len(tt.want) {
					t.Fatalf("got %d parts, want %d", len(parts), len(tt.want))
				}
				for i, w := range tt.want {
					p := parts[i]
					if !bytes.Equal(p.jpeg, w.jpeg) || p.noSignal != w.noSignal || !p.ts.Equal(w.ts) {
						t.Errorf("part %d: %d bytes, no signal %v, at %v; want %d, %v, %v",
							i, len(p.jpeg), p.noSignal, p.ts, len(w.jpeg), w.noSignal, w.ts)
					}
				}
				if r.Skipped() != tt.skipped {
					t.Errorf("Skipped() = %d, want %d", r.Skipped(), tt.skipped)
				}
			})
		}
	}
	for in, want := range map[string]time.Time{
		"1700000000.123":        time.UnixMilli(1700000000123),
		"1700000000.123456789":  time.Unix(1700000000, 123456789),
		"1700000000.1234567891": time.Unix(1700000000, 123456789),
		"0":                     time.Unix(0, 0),
		"":                      {},
		".5":                    {},
		"1700000000,5":          {},
		"-1":                    {},
		"1234567890123":         {},
	} {
		if got := ts(in); !got.Equal(want) || got.IsZero() != want.IsZero() {
			t.Errorf("parseTimestamp(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestBoundaryParam(t *testing.T) {
	for ct, want := range map[string]string{
		"multipart/x-mixed-replace; boundary=frame":              "frame",
		"multipart/x-mixed-replace;boundary=--myboundary":        "myboundary",
		`multipart/x-mixed-replace; boundary="--my boundary"`:    "my boundary",
		`Multipart/X-Mixed-Replace; BOUNDARY="a:b"; charset=x`:   "a:b",
		"multipart/x-mixed-replace;boundary=video boundary--":    "video boundary--",
		`multipart/x-mixed-replace; boundary="unclosed; foo=bar`: "unclosed",
		"multipart/x-mixed-replace":                              "",
		"multipart/x-mixed-replace; boundary=":                   "",
		"multipart/x-mixed-replace; boundary=----":               "",
		"": "",
		"multipart/x-mixed-replace; boundary=" + strings.Repeat("b", maxBoundary+1): "",
	} {
		if got := string(boundaryParam(ct)); got != want {
			t.Errorf("boundaryParam(%q) = %q, want %q", ct, got, want)
		}
	}
}

// TestPartReaderHugePart sends parts over the real 16 MiB limit and checks
// that they are skipped without being held in memory.
func TestPartReaderHugePart(t *testing.T) {
	a := testJPEG(t, 64, 48, 1, 40)
	const huge = DefaultMaxFrame + 1<<20
	var segs []byte
	for len(segs) < huge {
		segs = append(segs, seg(0xE2, make([]byte, 65000))...)
	}
	bigJPEG := withSegments(a, segs)
	tests := []struct {
		name   string
		in     []byte
		maxBuf int // bound on the read buffer
	}{
		{"length", mk("--x\r\nContent-Length: ", huge, "\r\n\r\n", make([]byte, huge), "\r\n--x\r\n\r\n", a), 1 << 20},
		{"no length", mk("--x\r\n\r\n", bigJPEG, "\r\n--x\r\n\r\n", a), DefaultMaxFrame + partReadSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, r, err := readParts(t, &chunkReader{data: tt.in, rng: rand.New(rand.NewPCG(1, 2)), max: 100 << 10}, "multipart/x-mixed-replace; boundary=x", 0)
			if err != io.EOF || len(parts) != 1 || !bytes.Equal(parts[0].jpeg, a) || r.Skipped() != 1 {
				t.Fatalf("got %d parts, %d skipped, err %v; want 1 part, 1 skipped, io.EOF", len(parts), r.Skipped(), err)
			}
			if len(r.buf) > tt.maxBuf {
				t.Errorf("read buffer grew to %d bytes, want at most %d", len(r.buf), tt.maxBuf)
			}
		})
	}
}

type failReader struct{ err error }

func (f failReader) Read([]byte) (int, error) { return 0, f.err }

func TestPartReaderReadError(t *testing.T) {
	a := testJPEG(t, 16, 16, 1, 0)
	boom := errors.New("connection reset")
	for name, in := range map[string][]byte{
		"between parts": mk("--x\r\n\r\n", a, "\r\n"),
		"in the JPEG":   mk("--x\r\n\r\n", a, "\r\n--x\r\n\r\n", a[:50]),
		"in the length": mk("--x\r\n\r\n", a, "\r\n--x\r\nContent-Length: 99\r\n\r\n", a[:50]),
	} {
		t.Run(name, func(t *testing.T) {
			parts, _, err := readParts(t, io.MultiReader(bytes.NewReader(in), failReader{boom}), "", 0)
			if len(parts) != 1 || !errors.Is(err, boom) {
				t.Errorf("got %d parts, err %v; want 1, %v", len(parts), err, boom)
			}
		})
	}
}

// stepReader gives its chunks one per read, then fails: reading past the
// last chunk is reading ahead.
type stepReader struct{ chunks [][]byte }

var errReadAhead = errors.New("read past the data sent so far")

func (s *stepReader) Read(p []byte) (int, error) {
	if len(s.chunks) == 0 {
		return 0, errReadAhead
	}
	n := copy(p, s.chunks[0])
	if s.chunks[0] = s.chunks[0][n:]; len(s.chunks[0]) == 0 {
		s.chunks = s.chunks[1:]
	}
	return n, nil
}

// TestPartReaderNoReadAhead checks that Next returns a part as soon as its
// last byte is in: a live server may send the bytes after a JPEG (its line
// end, the next boundary) only with the next frame, a frame interval later.
func TestPartReaderNoReadAhead(t *testing.T) {
	a := testJPEG(t, 64, 48, 1, 40)
	at := time.UnixMilli(1_700_000_000_000)
	for name, chunks := range map[string][][]byte{
		"length":          {mk("--x\r\nContent-Length: ", len(a), "\r\n\r\n"), a[:100], a[100:]},
		"no length":       {mk("--x\r\nContent-Type: image/jpeg\r\n\r\n"), a[:100], a[100:]},
		"no boundary":     {a},
		"fill before EOI": {mk("--x\r\n\r\n", a[:len(a)-2], "\xFF\xFF\xFF\xD9")},
		"own stream":      {[]byte(StreamPreamble), NewFrame(a, at, 1).Part},
	} {
		t.Run(name, func(t *testing.T) {
			r := NewPartReader(&stepReader{chunks: chunks}, "multipart/x-mixed-replace; boundary=x")
			p, err := r.Next()
			if err != nil || len(p.JPEG) < len(a)-2 {
				t.Fatalf("Next = %d bytes, %v; want the JPEG", len(p.JPEG), err)
			}
			if _, err := r.Next(); !errors.Is(err, errReadAhead) {
				t.Errorf("second Next: %v, want %v", err, errReadAhead)
			}
		})
	}
}

func TestPartReaderBadReaders(t *testing.T) {
	if _, err := NewPartReader(zeroReader{}, "").Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("zero reads: %v, want io.ErrNoProgress", err)
	}
	if _, err := NewPartReader(badReader{}, "").Next(); !errors.Is(err, errBadRead) {
		t.Errorf("bad count: %v, want errBadRead", err)
	}
}

// TestPartReaderNoAllocs checks that a part costs no allocation once the
// buffers are sized, with and without Content-Length.
func TestPartReaderNoAllocs(t *testing.T) {
	a := testJPEG(t, 320, 240, 1, 30)
	b := testJPEG(t, 320, 240, 2, 30)
	at := time.UnixMilli(1_700_000_000_000)
	streams := map[string][]byte{
		"length":    mk(NewFrame(a, at, 1).Part, NewNoSignalFrame(b, at).Part, "junk"),
		"no length": mk("--frame\r\nContent-Type: image/jpeg\r\nX-Timestamp: 1.5\r\n\r\n", a, "\r\n--frame\r\n\r\n", b, "\r\n"),
	}
	for name, s := range streams {
		t.Run(name, func(t *testing.T) {
			r := NewPartReader(&loopReader{data: s}, "multipart/x-mixed-replace; boundary=frame")
			for range 100 { // warm up
				if _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per part, want 0", allocs)
			}
		})
	}
}

// BenchmarkPartReader measures reading 50 KB parts (720p with mild noise,
// as in BenchmarkSplitter) with Content-Length (this daemon's own stream,
// taken whole) and without (found by their markers), from reads as large as
// asked and from 16 KiB reads, as a socket gives them.
func BenchmarkPartReader(b *testing.B) {
	var withLen, noLen []byte
	at := time.UnixMilli(1_700_000_000_000)
	for i := range 4 {
		j := testJPEG(b, 1280, 720, uint64(i+1), 3)
		withLen = append(withLen, NewFrame(j, at, uint64(i+1)).Part...)
		noLen = append(noLen, mk("--frame\r\nContent-Type: image/jpeg\r\n\r\n", j, "\r\n")...)
	}
	for _, c := range []struct {
		name  string
		data  []byte
		chunk int // bytes per read; 0: as many as asked
	}{
		{"length", withLen, 0},
		{"length/read16k", withLen, 16 << 10},
		{"nolength", noLen, 0},
		{"nolength/read16k", noLen, 16 << 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			const parts = 4
			in := &cappedReader{loopReader: loopReader{data: c.data}, chunk: c.chunk}
			if c.chunk == 0 {
				in.chunk = 1 << 30
			}
			r := NewPartReader(in, "multipart/x-mixed-replace; boundary=frame")
			n := 0
			for range 2 * parts {
				p, err := r.Next()
				if err != nil {
					b.Fatal(err)
				}
				n += len(p.JPEG)
			}
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				for range parts {
					if _, err := r.Next(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(n)/(2*parts), "B/part")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*parts), "allocs/part")
			if r.Skipped() != 0 || r.Garbage() != 0 {
				b.Errorf("skipped %d, garbage %d", r.Skipped(), r.Garbage())
			}
		})
	}
}

// FuzzPartReader checks that the reader never panics, that every JPEG it
// returns is SOI...EOI and within the limit, that its memory stays bounded,
// that it ends with io.EOF or io.ErrUnexpectedEOF, and that how the body is
// cut into reads does not change what it returns.
func FuzzPartReader(f *testing.F) {
	a := testJPEG(f, 16, 16, 1, 20)
	b := testJPEG(f, 8, 8, 2, 0)
	const ct = "multipart/x-mixed-replace; boundary=x"
	f.Add(mk("--x\r\nContent-Type: image/jpeg\r\nContent-Length: ", len(a), "\r\n\r\n", a, "\r\n--x\r\n\r\n", b, "\r\n--x--"), ct)
	f.Add(mk("Content-Length: ", len(a)-9, "\n\n", a, "\n--y\nX-No-Signal: 1\n\n", a[:len(a)/2], "--y\n\n", b), "")
	f.Add(mk("junk\xFF\x00", a, "--x\r\nContent-Length: 3\r\n\r\nabc", b), ct)
	f.Add(mk("--x\r\n\r\n", withSegments(a, seg(0xFE, []byte("\r\n--x\r\n"))), "----x\r\n"), `multipart/x-mixed-replace; boundary="--x"`)
	f.Fuzz(func(t *testing.T, data []byte, ct string) {
		maxFrame := 64 + len(data)/3
		whole, rw, err := readParts(t, bytes.NewReader(data), ct, maxFrame)
		if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v", err)
		}
		if len(whole) > len(data)/2+1 {
			t.Fatalf("%d parts from %d bytes", len(whole), len(data))
		}
		for i, p := range whole {
			if len(p.jpeg) > maxFrame {
				t.Fatalf("part %d has %d bytes, limit %d", i, len(p.jpeg), maxFrame)
			}
		}
		if len(rw.buf) > maxFrame+partReadSize {
			t.Fatalf("read buffer grew to %d bytes for a limit of %d", len(rw.buf), maxFrame)
		}
		one, ro, err1 := readParts(t, iotest.OneByteReader(bytes.NewReader(data)), ct, maxFrame)
		if (err1 == io.EOF) != (err == io.EOF) || len(one) != len(whole) || ro.Skipped() != rw.Skipped() || ro.Garbage() != rw.Garbage() {
			t.Fatalf("one byte reads: %d parts, %d skipped, %d garbage, %v; whole: %d, %d, %d, %v",
				len(one), ro.Skipped(), ro.Garbage(), err1, len(whole), rw.Skipped(), rw.Garbage(), err)
		}
		for i := range one {
			if !bytes.Equal(one[i].jpeg, whole[i].jpeg) || one[i].noSignal != whole[i].noSignal || !one[i].ts.Equal(whole[i].ts) {
				t.Fatalf("one byte reads: part %d differs", i)
			}
		}
	})
}

// TestPartReaderFFmpegMuxer reads what ffmpeg's mpjpeg muxer writes
// ("Content-length", boundary "ffmpeg", the boundary before each part):
//
//	ffmpeg -f lavfi -i testsrc2=size=160x120:rate=10 -t 0.5 -c:v mjpeg -q:v 5 -f mpjpeg ffmpeg_mpjpeg.mjpeg
func TestPartReaderFFmpegMuxer(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mpjpeg", "ffmpeg_mpjpeg.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			parts, r, err := readParts(t, rd.new(data), "multipart/x-mixed-replace;boundary=ffmpeg", 0)
			if err != io.EOF || len(parts) != 5 || r.Skipped() != 0 || r.Garbage() != 0 {
				t.Fatalf("got %d parts, %d skipped, %d garbage, err %v; want 5, 0, 0, io.EOF", len(parts), r.Skipped(), r.Garbage(), err)
			}
			for i, p := range parts {
				if _, err := jpeg.Decode(bytes.NewReader(p.jpeg)); err != nil {
					t.Errorf("part %d: %v", i, err)
				}
			}
		})
	}
}

// TestPartReaderFFmpegFrames reads the real ffmpeg frames of the Splitter's
// tests in parts without a length, and checks they decode.
func TestPartReaderFFmpegFrames(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "ffmpeg_320x240.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	frames, _, err := splitAll(t, bytes.NewReader(data), 0)
	if err != io.EOF || len(frames) == 0 {
		t.Fatalf("split: %d frames, %v", len(frames), err)
	}
	var in []byte
	for _, f := range frames {
		in = mk(in, "--ffmpeg\r\nContent-type: image/jpeg\r\n\r\n", f, "\r\n")
	}
	parts, r, err := readParts(t, bytes.NewReader(in), "multipart/x-mixed-replace;boundary=ffmpeg", 0)
	if err != io.EOF || len(parts) != len(frames) || r.Skipped() != 0 || r.Garbage() != 0 {
		t.Fatalf("got %d parts of %d, %d skipped, %d garbage, err %v", len(parts), len(frames), r.Skipped(), r.Garbage(), err)
	}
	for i, p := range parts {
		if !bytes.Equal(p.jpeg, frames[i]) {
			t.Errorf("part %d differs", i)
		}
		if _, err := jpeg.Decode(bytes.NewReader(p.jpeg)); err != nil {
			t.Errorf("part %d: %v", i, err)
		}
	}
}
