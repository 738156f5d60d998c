package main

import (
	"errors"
	"testing"
	"time"
)

// A viewer arriving at a camera in standby: the newest keyframe at once,
// then the decoder's replay of the buffered GOP (stamped when published,
// pictured before the arrival), then live pictures.
func TestAnalyseArrival(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const msec = time.Millisecond
	fs := []seenFrame{
		{at: at(2 * msec), stamp: at(-400 * msec), pic: at(-400 * msec)},   // the newest keyframe
		{at: at(250 * msec), stamp: at(240 * msec), pic: at(-1400 * msec)}, // replayed: back 1 s
		{at: at(260 * msec), stamp: at(255 * msec), pic: at(-330 * msec)},  // replayed
		{at: at(270 * msec), stamp: at(265 * msec)},                        // not found at the reference
		{at: at(300 * msec), stamp: at(295 * msec), pic: at(10 * msec)},    // live
	}
	r := analyseArrival(t0, fs)
	want := arrivalRes{first: 2 * msec, firstAge: 400 * msec, live: 300 * msec, stamped: 250 * msec,
		back: time.Second, replayed: 2, stampErr: 1640 * msec, unknown: 1, frames: 5}
	if r != want {
		t.Errorf("analyseArrival =\n%+v, want\n%+v", r, want)
	}
	if !liveSeen(t0, fs) || liveSeen(t0, fs[:4]) {
		t.Error("liveSeen: want true with the live frame only")
	}
}

// An arrival without a live frame within the watch counts as slower than
// any that had one, so that it is not dropped from the p99.
func TestStatsOfNoLive(t *testing.T) {
	rs := []arrivalRes{
		{first: time.Millisecond, live: 200 * time.Millisecond, stamped: 150 * time.Millisecond, frames: 3},
		{first: 2 * time.Millisecond, live: -1, stamped: -1, frames: 1},
		{first: -1, live: -1, stamped: -1, err: errTest},
	}
	st := statsOf(rs)
	if st.n != 2 || st.failed != 1 {
		t.Fatalf("n %d failed %d, want 2 and 1", st.n, st.failed)
	}
	if got := quantile(st.live, .99); got != noLive {
		t.Errorf("live p99 = %v, want noLive", got)
	}
	if got := quantile(st.live, .5); got != 200*time.Millisecond {
		t.Errorf("live p50 = %v, want 200ms", got)
	}
}

var errTest = errors.New("stream ended")
