package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/textproto"
	"time"
)

// seenFrame is one frame an arriving viewer got.
type seenFrame struct {
	at    time.Time // received whole
	stamp time.Time // its X-Timestamp: when the daemon published it
	pic   time.Time // when the reference got the same picture; zero: unknown
}

// arrivalRes is what one viewer arriving at a camera in standby saw.
type arrivalRes struct {
	cam      string
	first    time.Duration // arrival → first frame; -1: none
	firstAge time.Duration // how old the first frame's picture was at arrival
	live     time.Duration // arrival → first frame whose picture came after arrival; -1: none
	stamped  time.Duration // arrival → first frame with an X-Timestamp after arrival; -1: none
	back     time.Duration // how far the pictures went back in time; 0: never
	replayed int           // frames stamped after arrival whose picture is from before it
	stampErr time.Duration // the most such a frame's X-Timestamp was later than its picture
	unknown  int           // frames whose picture the reference never got
	frames   int
	err      error
}

// analyseArrival computes the figures of a viewer that arrived at t0 and
// got fs, in order.
func analyseArrival(t0 time.Time, fs []seenFrame) arrivalRes {
	r := arrivalRes{first: -1, live: -1, stamped: -1, frames: len(fs)}
	if len(fs) == 0 {
		return r
	}
	r.first = fs[0].at.Sub(t0)
	if !fs[0].pic.IsZero() {
		r.firstAge = t0.Sub(fs[0].pic)
	}
	var newest time.Time // the newest picture shown so far
	for _, f := range fs {
		if r.stamped < 0 && !f.stamp.Before(t0) {
			r.stamped = f.at.Sub(t0)
		}
		if f.pic.IsZero() {
			r.unknown++
			continue
		}
		if r.live < 0 && !f.pic.Before(t0) {
			r.live = f.at.Sub(t0)
		}
		if !f.stamp.Before(t0) && f.pic.Before(t0) {
			r.replayed++
			r.stampErr = max(r.stampErr, f.stamp.Sub(f.pic))
		}
		if newest.After(f.pic) {
			r.back = max(r.back, newest.Sub(f.pic))
		}
		if f.pic.After(newest) {
			newest = f.pic
		}
	}
	return r
}

// liveSeen tells whether a frame of fs shows a picture from after t0.
func liveSeen(t0 time.Time, fs []seenFrame) bool {
	for _, f := range fs {
		if !f.pic.IsZero() && !f.pic.Before(t0) {
			return true
		}
	}
	return false
}

// arrive opens the stream of cam, a camera in standby, and reads it until
// a live frame came or o.watchFor passed; then the viewer leaves.
func (b *bench) arrive(so siteOpts, d *daemon, cam string, ref *refIndex) arrivalRes {
	ctx, cancel := context.WithTimeout(b.ctx, so.watchFor)
	defer cancel()
	var fs []seenFrame
	var hashes []uint64
	t0 := time.Now()
	err := readParts(ctx, "http://"+d.addr+"/cameras/"+cam+"/video", so.watchFor,
		func(h textproto.MIMEHeader, body []byte, at time.Time) {
			f := seenFrame{at: at}
			if ts, ok := parseTimestampMs([]byte(h.Get("X-Timestamp"))); ok {
				f.stamp = time.UnixMilli(ts)
			}
			fs, hashes = append(fs, f), append(hashes, frameHash(body))
			ref.resolve(fs, hashes)
			if liveSeen(t0, fs) {
				cancel() // the viewer leaves
			}
		})
	b.sleep(200 * time.Millisecond) // the reference may get a picture a little after the viewer
	ref.resolve(fs, hashes)
	r := analyseArrival(t0, fs)
	r.cam = cam
	if err != nil && ctx.Err() == nil {
		r.err = fmt.Errorf("stream of %s: %w", cam, err)
	}
	return r
}

// arrivals runs o.arrivals viewers, one at a time, over the cameras in
// turn. Each arrives at a camera in standby, after the camera the one
// before watched is back in standby too (so that one viewers' decoder
// runs at a time), at a random point of the keyframe interval.
func (b *bench) arrivals(so siteOpts, d *daemon, cams []string, threads int, ref *refIndex) []arrivalRes {
	b.logf("decoder_threads %d: %d viewers arriving at cameras in standby", threads, so.arrivals)
	var rs []arrivalRes
	prev := ""
	for i := range so.arrivals {
		if b.ctx.Err() != nil {
			break
		}
		cam := cams[i%len(cams)]
		wait := []string{cam}
		if prev != "" && prev != cam {
			wait = append(wait, prev)
		}
		if _, err := b.waitCams(d, wait, 15*time.Second, "back in standby", inStandby); err != nil {
			rs = append(rs, arrivalRes{cam: cam, first: -1, live: -1, stamped: -1, err: err})
			break
		}
		b.sleep(time.Duration(rand.Int64N(int64(time.Second))))
		r := b.arrive(so, d, cam, ref)
		prev = cam
		rs = append(rs, r)
		b.logf("arrival %d at %s: first frame %v (picture %v old), live %v, X-Timestamp after arrival %v, back in time %v, %d replayed, %d unknown of %d",
			i+1, cam, ms(r.first), ms(r.firstAge), ms(r.live), ms(r.stamped), ms(r.back), r.replayed, r.unknown, r.frames)
		if r.err != nil {
			b.logf("arrival %d: %v", i+1, r.err)
		}
	}
	return rs
}
