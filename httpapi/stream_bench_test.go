package httpapi

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// loopback returns a connected TCP pair's writing end as a connSink, with
// a reader draining the other end until the sink is closed.
func loopback(b *testing.B) *connSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	out := &connSink{conn: conn, timeout: 10 * time.Second, gone: make(chan struct{})}
	close(out.gone) // no watcher in this benchmark
	b.Cleanup(func() {
		out.close()
		<-drained
	})
	return out
}

// BenchmarkWallWrite is the cost of one part of a 16-camera wall: the
// header with the camera's name built in the tile's buffer and one writev
// of header, shared JPEG and trailer, under the wall's lock, on a loopback
// TCP connection. The cameras take turns; each part is the newest frame
// of its camera's hub.
func BenchmarkWallWrite(b *testing.B) {
	for _, size := range []int{12 << 10, 50 << 10} { // a thumb, a 720p frame
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			out := loopback(b)
			wc := &wallConn{out: out, cancel: func() {}}
			const cameras = 16
			tiles := make([]*wallTile, cameras)
			for i := range tiles {
				cam := newFakeCamera(fmt.Sprintf("camera-%02d", i))
				thumb := cam.addProfile(pipeline.ThumbProfile)
				thumb.Publish(make([]byte, size), time.Now())
				tiles[i] = newWallTile(wc, feedOf{cam: cam, profile: pipeline.ThumbProfile, feed: thumb})
			}
			f := tiles[0].feed.Latest()
			sent, err := tiles[0].writeFrame(f)
			if err != nil {
				b.Fatal(err)
			}
			partSize := len(tiles[0].hdr) + len(sent.JPEG) + len(wallTrailer)
			sent.Release()
			b.SetBytes(int64(partSize))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				t := tiles[i%cameras]
				i++
				sent, err := t.writeFrame(t.feed.Latest())
				sent.Release()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStreamWrite is the per-viewer cost of one 50 KB part: one write
// of the shared, prebuilt part on a loopback TCP connection, as the stream
// does once it has taken the connection. A reader drains the other end.
func BenchmarkStreamWrite(b *testing.B) {
	out := loopback(b)
	f := pipeline.NewFrame(make([]byte, 50<<10), time.Now(), 1)
	b.SetBytes(int64(len(f.Part)))
	b.ReportAllocs()
	for b.Loop() {
		if err := out.write(f.Part); err != nil {
			b.Fatal(err)
		}
	}
}
