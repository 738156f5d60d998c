package httpapi

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// BenchmarkStreamWrite is the per-viewer cost of one 50 KB part: one write
// of the shared, prebuilt part on a loopback TCP connection, as the stream
// does once it has taken the connection. A reader drains the other end.
func BenchmarkStreamWrite(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
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
	f := pipeline.NewFrame(make([]byte, 50<<10), time.Now(), 1)
	out := &connSink{conn: conn, timeout: 10 * time.Second, gone: make(chan struct{})}
	close(out.gone) // no watcher in this benchmark
	b.SetBytes(int64(len(f.Part)))
	b.ReportAllocs()
	for b.Loop() {
		if err := out.write(f.Part); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	out.close()
	<-done
}
