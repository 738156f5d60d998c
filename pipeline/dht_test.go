package pipeline

import (
	"bytes"
	"image"
	"image/jpeg"
	"strings"
	"testing"
)

// stripDHT removes every DHT segment before the first SOS, as an AVI1
// webcam frame comes.
func stripDHT(t *testing.T, jpg []byte) []byte {
	t.Helper()
	out := []byte{0xFF, 0xD8}
	p := 2
	for {
		if p+4 > len(jpg) || jpg[p] != 0xFF {
			t.Fatal("test JPEG has no SOS")
		}
		m := jpg[p+1]
		if m == mSOS {
			return append(out, jpg[p:]...)
		}
		n := int(jpg[p+2])<<8 | int(jpg[p+3])
		if m != mDHT {
			out = append(out, jpg[p:p+2+n]...)
		}
		p += 2 + n
	}
}

func decodePixels(t *testing.T, jpg []byte) *image.YCbCr {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return img.(*image.YCbCr)
}

func TestWithHuffmanTablesRestoresStripped(t *testing.T) {
	orig := testJPEG(t, 96, 64, 7, 40)
	avi1 := stripDHT(t, orig)
	if bytes.Contains(avi1[:endOfHeaders(t, avi1)], []byte{0xFF, mDHT}) {
		t.Fatal("stripDHT left a DHT")
	}
	_, err := jpeg.Decode(bytes.NewReader(avi1))
	if err == nil || !strings.Contains(err.Error(), "Huffman") {
		t.Fatalf("decoding a frame without DHT: err = %v, want a Huffman table error", err)
	}

	fixed := WithHuffmanTables(avi1)
	// Go's encoder writes the K.3 tables as one segment right before its SOS,
	// so putting them back gives the original bytes.
	if !bytes.Equal(fixed, orig) {
		t.Errorf("restored frame (%d bytes) differs from the original (%d bytes)", len(fixed), len(orig))
	}
	a, b := decodePixels(t, orig), decodePixels(t, fixed)
	if !bytes.Equal(a.Y, b.Y) || !bytes.Equal(a.Cb, b.Cb) || !bytes.Equal(a.Cr, b.Cr) {
		t.Error("restored frame decodes to other pixels")
	}
	if len(avi1) > 2 && &fixed[0] == &avi1[0] {
		t.Error("the input was not copied")
	}
}

// TestWithHuffmanTablesAVI1 checks a frame shaped like a webcam's: an AVI1
// APP0, fill bytes and a restart interval before the SOS, no DHT.
func TestWithHuffmanTablesAVI1(t *testing.T) {
	orig := testJPEG(t, 32, 32, 3, 10)
	stripped := stripDHT(t, orig)
	app0 := seg(0xE0, []byte("AVI1\x00"), make([]byte, 9))
	fill := []byte{0xFF, 0xFF}
	avi1 := withSegments(stripped, app0, fill)
	fixed := WithHuffmanTables(avi1)
	sosAt := bytes.LastIndex(stripped[:endOfHeaders(t, stripped)], []byte{0xFF, mSOS}) + len(app0) + len(fill)
	want := cat(avi1[:sosAt], stdDHT, avi1[sosAt:])
	if !bytes.Equal(fixed, want) {
		t.Fatal("tables not inserted right before the SOS")
	}
	if _, err := jpeg.Decode(bytes.NewReader(fixed)); err != nil {
		t.Errorf("decode: %v", err)
	}
}

func TestWithHuffmanTablesKeepsTables(t *testing.T) {
	orig := testJPEG(t, 48, 32, 2, 20)
	got := WithHuffmanTables(orig)
	if &got[0] != &orig[0] || len(got) != len(orig) {
		t.Error("a JPEG with tables was copied or changed")
	}
	// Tables only after the first SOS (a progressive frame's later scans)
	// do not count: the first scan needs them.
	late := cat([]byte{0xFF, 0xD8}, sof, sos, []byte{1, 2}, stdDHT, sos, []byte{3}, []byte{0xFF, 0xD9})
	if got := WithHuffmanTables(late); len(got) != len(late)+len(stdDHT) {
		t.Errorf("tables after the first SOS: got %d bytes, want %d", len(got), len(late)+len(stdDHT))
	}
}

// TestDHTSegmentIsGos pins stdDHT to the segment Go's encoder writes for a
// colour image: the same K.3 tables with the same ids.
func TestDHTSegmentIsGos(t *testing.T) {
	orig := testJPEG(t, 16, 16, 1, 0)
	i := bytes.Index(orig, []byte{0xFF, mDHT})
	if i < 0 || i+len(stdDHT) > len(orig) {
		t.Fatal("no DHT in Go's output")
	}
	if !bytes.Equal(orig[i:i+len(stdDHT)], stdDHT) {
		t.Error("stdDHT differs from Go's encoder's DHT segment")
	}
	if n := int(stdDHT[2])<<8 | int(stdDHT[3]); n != 0x1A2 {
		t.Errorf("segment length = %#x, want 0x1a2", n)
	}
}

func TestWithHuffmanTablesGarbage(t *testing.T) {
	for _, in := range [][]byte{
		nil,
		{},
		{0xFF},
		{0xFF, 0xD8},
		[]byte("not a jpeg at all"),
		{0xFF, 0xD8, 0xFF},
		{0xFF, 0xD8, 0xFF, 0xE0, 0x00},
		{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xDA},
		{0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF},
		{0xFF, 0xD8, 0x00, 0xDA},
		{0xFF, 0xD8, 0xFF, 0xD9},
		{0xFF, 0xD8, 0xFF, 0xD0, 0xFF, 0x01, 0xFF, 0xFF},
	} {
		got := WithHuffmanTables(in)
		if !bytes.Equal(got, in) {
			t.Errorf("% x: changed to % x", in, got)
		}
	}
	// A bare SOS after SOI still gets tables: it is the one thing asked.
	in := []byte{0xFF, 0xD8, 0xFF, 0xDA}
	if got := WithHuffmanTables(in); !bytes.Equal(got, cat(in[:2], stdDHT, in[2:])) {
		t.Errorf("bare SOS: % x", got)
	}
}

// FuzzWithHuffmanTables checks that any input comes back either as itself or
// with stdDHT inserted once, and is never modified.
func FuzzWithHuffmanTables(f *testing.F) {
	orig := testJPEG(f, 16, 16, 1, 10)
	f.Add(orig)
	f.Add(cat([]byte{0xFF, 0xD8}, seg(0xE0, []byte("AVI1\x00")), []byte{0xFF, 0xFF, 0xFF, 0xD0}, sof, sos, []byte{1, 2, 0xFF, 0xD9}))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xDA})
	f.Fuzz(func(t *testing.T, in []byte) {
		keep := bytes.Clone(in)
		got := WithHuffmanTables(in)
		if !bytes.Equal(in, keep) {
			t.Fatal("input modified")
		}
		if len(got) == len(in) {
			if !bytes.Equal(got, in) {
				t.Fatal("same length but different bytes")
			}
			return
		}
		// The tables go in at an SOS marker's FF, and start with FF C4: the
		// first byte that differs is the one after that FF.
		d := 0
		for d < len(in) && got[d] == in[d] {
			d++
		}
		i := d - 1
		if len(got) != len(in)+len(stdDHT) || i < 2 || !bytes.Equal(got[i:i+len(stdDHT)], stdDHT) || !bytes.Equal(cat(got[:i], got[i+len(stdDHT):]), in) {
			t.Fatalf("output is not the input with the tables inserted")
		}
	})
}
