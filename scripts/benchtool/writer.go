package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// buildPart returns one MJPEG part as the daemon sends it (DESIGN.md "The
// MJPEG stream"): headers, the image and the next boundary, in one buffer.
func buildPart(jpeg []byte, at time.Time) []byte {
	h := make([]byte, 0, 128)
	h = append(h, "Content-Type: image/jpeg\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(jpeg)), 10)
	h = append(h, "\r\nX-Timestamp: "...)
	ms := at.UnixMilli()
	h = strconv.AppendInt(h, ms/1000, 10)
	h = append(h, '.', byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
	h = append(h, "\r\n\r\n"...)
	part := make([]byte, 0, len(h)+len(jpeg)+len(partTrailer))
	part = append(part, h...)
	part = append(part, jpeg...)
	return append(part, partTrailer...)
}

const (
	boundary    = "frame"
	preamble    = "--" + boundary + "\r\n"
	partTrailer = "\r\n--" + boundary + "\r\n"
)

// tick is one frame of the bare writer; ready is closed once part and next
// are set, which wakes every connection's goroutine at once (as the hub does).
type tick struct {
	part  []byte
	next  *tick
	ready chan struct{}
}

// cmdWriter is the loopback write floor: the least a Go server can spend to
// send a frame to a viewer. It accepts --conns connections, answers each
// with an MJPEG response header, then writes, --fps times a second, one
// shared part (buildPart: headers, --size bytes, next boundary) to
// each connection in one Write, from one goroutine per connection. No write
// deadline, no copy per connection. It prints its address first, then runs
// until SIGTERM/SIGINT or --duration.
func cmdWriter(args []string) error {
	fs := flag.NewFlagSet("writer", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	conns := fs.Int("conns", 50, "connections to accept before writing")
	size := fs.Int("size", 30<<10, "JPEG bytes per part")
	fps := fs.Float64("fps", 15, "parts per second per connection")
	maxDur := fs.Duration("duration", 2*time.Minute, "stop after this long at most")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conns < 1 || *size < 4 || !(*fps > 0) {
		return errors.New("writer: want --conns >= 1, --size >= 4, --fps > 0")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxDur)
	defer cancel()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().String())

	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	cs := make([]net.Conn, 0, *conns)
	defer func() {
		for _, c := range cs {
			_ = c.Close()
		}
	}()
	for len(cs) < *conns {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("accepted %d of %d connections: %w", len(cs), *conns, err)
		}
		cs = append(cs, c)
	}

	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = byte(i*7 + 1)
	}
	payload[0], payload[1], payload[*size-2], payload[*size-1] = 0xFF, 0xD8, 0xFF, 0xD9
	head := []byte("HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=" +
		boundary + "\r\nConnection: close\r\n\r\n" + preamble)

	var writes, failed atomic.Int64
	var wg sync.WaitGroup
	first := &tick{ready: make(chan struct{})}
	for _, c := range cs {
		wg.Go(func() {
			buf := make([]byte, 4096)
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(buf); err != nil { // the request, sent in one packet
				failed.Add(1)
				return
			}
			if _, err := c.Write(head); err != nil {
				failed.Add(1)
				return
			}
			for t := first; ; t = t.next {
				select {
				case <-t.ready:
				case <-ctx.Done():
					return
				}
				if _, err := c.Write(t.part); err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					return
				}
				writes.Add(1)
			}
		})
	}

	every := time.Duration(float64(time.Second) / *fps)
	tk := time.NewTicker(every)
	defer tk.Stop()
	cur := first
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tk.C:
			cur.part = buildPart(payload, now)
			cur.next = &tick{ready: make(chan struct{})}
			close(cur.ready)
			cur = cur.next
		}
	}
	cancel()
	for _, c := range cs {
		_ = c.Close()
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "writer: %d writes, %d connections failed\n", writes.Load(), failed.Load())
	return nil
}
