package httpapi

import (
	"bytes"
	"image/jpeg"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func TestFontGlyphs(t *testing.T) {
	for r, g := range font {
		for i, row := range g {
			if len(row) != glyphWidth {
				t.Errorf("glyph %q row %d is %d wide", r, i, len(row))
			}
			for _, c := range row {
				if c != '#' && c != '.' {
					t.Errorf("glyph %q row %d has %q", r, i, c)
				}
			}
		}
	}
	for _, r := range "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ :.?" {
		if _, ok := font[r]; !ok {
			t.Errorf("no glyph for %q", r)
		}
	}
}

func TestRenderNoSignal(t *testing.T) {
	for _, name := range []string{"door", "a-very-long-camera-name_with_underscores-0123456789", "ünïcode"} {
		b := renderNoSignal(name, "LAST FRAME 12S AGO")
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := img.Bounds().Size(); got.X != noSignalWidth || got.Y != noSignalHeight {
			t.Errorf("%s: size %v", name, got)
		}
	}
}

func TestNoSignalCache(t *testing.T) {
	n := newNoSignal("door", 2*time.Second)
	t0 := time.Now()
	last := pipeline.NewFrame([]byte("x"), t0.Add(-10*time.Second), 5)

	f1 := n.frame(last, t0)
	if !f1.NoSignal || f1.Seq != 0 {
		t.Fatalf("placeholder NoSignal %v, Seq %d", f1.NoSignal, f1.Seq)
	}
	if !bytes.Contains(f1.Part, []byte("\r\nX-No-Signal: 1\r\n")) {
		t.Errorf("part has no X-No-Signal header: %q", f1.Part[:100])
	}
	if f := n.frame(last, t0.Add(1900*time.Millisecond)); f != f1 {
		t.Error("re-rendered within the period")
	}
	if f := n.frame(last, t0.Add(2*time.Second)); f == f1 {
		t.Error("not re-rendered after the period")
	}
	f3 := n.frame(last, t0.Add(2*time.Second))
	if f := n.frame(pipeline.NewFrame([]byte("y"), t0, 6), t0.Add(2100*time.Millisecond)); f == f3 {
		t.Error("not re-rendered for a newer camera frame")
	}
	if f := n.frame(nil, t0); f == nil || !f.NoSignal {
		t.Error("no placeholder before any frame")
	}
}

func TestFormatAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0S"},
		{1500 * time.Millisecond, "1S"},
		{59 * time.Second, "59S"},
		{3*time.Minute + 7*time.Second, "3M 07S"},
		{2*time.Hour + 5*time.Minute, "2H 05M"},
		{50 * time.Hour, "2D 02H"},
	}
	for _, tt := range tests {
		if got := formatAge(tt.d); got != tt.want {
			t.Errorf("formatAge(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
