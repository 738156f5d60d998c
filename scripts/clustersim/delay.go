package main

import (
	"context"
	"hash/maphash"
	"net/textproto"
	"slices"
	"sync"
	"time"
)

// observers read each camera's main stream at the origin that owns it,
// for the origin's X-Timestamp of every JPEG: the reference against which
// the edges' copies of the byte-identical JPEG are timed.
type observers struct {
	mu    sync.Mutex                  // guards stamp
	stamp map[string]map[uint64]int64 // camera -> JPEG hash -> origin's X-Timestamp (Unix ms)
	wg    sync.WaitGroup
}

// watchOrigins starts one observer per camera at its origin (origin(cam)
// is that origin's base URL); each ends with ctx.
func watchOrigins(ctx context.Context, c *crowd, cams []string, origin func(cam string) string) *observers {
	o := &observers{stamp: map[string]map[uint64]int64{}}
	// Every camera's map before the first observer starts: an observer
	// reads o.stamp while the loop would still be adding to it.
	for _, cam := range cams {
		o.stamp[cam] = map[uint64]int64{}
	}
	for _, cam := range cams {
		o.wg.Go(func() {
			// One connection for the window: a failure leaves a gap in the
			// reference, which only lowers the number of matched frames.
			_, _ = readParts(ctx, c.client, origin(cam)+"/cameras/"+cam+"/video", func(h textproto.MIMEHeader, body []byte, _ time.Time) {
				if h.Get("X-No-Signal") == "1" {
					return
				}
				sum := maphash.Bytes(c.seed, body)
				st := parseStamp(h.Get("X-Timestamp"))
				o.mu.Lock()
				o.stamp[cam][sum] = st
				o.mu.Unlock()
			})
		})
	}
	return o
}

// hopDelays are the delays measured over a window.
type hopDelays struct {
	edge    []time.Duration // edge's X-Timestamp - origin's X-Timestamp of the same JPEG
	viewer  []time.Duration // viewer's receive time - origin's X-Timestamp of the same JPEG
	matched int
	missed  int // sampled viewers' JPEGs the origin's observer never saw
}

// delays matches the sampled viewers' JPEGs received in [from, to) with
// the origin's. Call after the observers ended.
func (o *observers) delays(c *crowd, from, to time.Time) hopDelays {
	o.wg.Wait()
	var d hopDelays
	for _, v := range c.viewers {
		if !v.sample {
			continue
		}
		parts, _ := v.snapshot()
		ref := o.stamp[v.cam]
		for _, p := range parts {
			if p.noSignal || p.at < from.UnixNano() || p.at >= to.UnixNano() {
				continue
			}
			st, ok := ref[p.hash]
			if !ok {
				d.missed++
				continue
			}
			d.matched++
			d.edge = append(d.edge, time.Duration(p.stamp-st)*time.Millisecond)
			d.viewer = append(d.viewer, time.Duration(p.at-st*int64(time.Millisecond)))
		}
	}
	slices.Sort(d.edge)
	slices.Sort(d.viewer)
	return d
}
