package main

import (
	"testing"
	"time"
)

// The fan-out of a frame is measured from its first arrival at any viewer;
// a frame that reached one viewer only says nothing.
func TestFanOut(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	got := fanOut([]arrival{
		{100, t0.Add(3 * time.Millisecond)},
		{100, t0.Add(1 * time.Millisecond)},
		{100, t0.Add(2 * time.Millisecond)},
		{167, t0.Add(70 * time.Millisecond)}, // alone
		{233, t0.Add(140 * time.Millisecond)},
		{233, t0.Add(140*time.Millisecond + 500*time.Microsecond)},
	})
	want := []time.Duration{0, 0, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("fanOut = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fanOut = %v, want %v", got, want)
		}
	}
}

// One burst in one part of a window does not move the figure: the median
// part's CPU is kept, for the process and its children apart.
func TestMedianUse(t *testing.T) {
	const pid, kid = 10, 11
	t0 := time.Unix(1700000000, 0)
	snap := func(sec int, selfNs, kidNs int64) cpuSnap {
		return cpuSnap{at: t0.Add(time.Duration(sec) * time.Second),
			self: map[int]int64{pid: selfNs},
			kids: map[int]map[int]procStat{pid: {kid: {ppid: pid, ns: kidNs}}}}
	}
	ms := int64(time.Millisecond)
	snaps := []cpuSnap{
		snap(0, 0, 0),
		snap(5, 10*ms, 500*ms),   // 2 ms/s, 100 ms/s
		snap(10, 70*ms, 1000*ms), // a burst: 12 ms/s
		snap(15, 85*ms, 1600*ms), // 3 ms/s, 120 ms/s
	}
	u := medianUse(snaps, pid)
	if d := u.self - 0.003; d > 1e-9 || d < -1e-9 {
		t.Errorf("self = %v CPU s/s, want 0.003 (the median part's)", u.self)
	}
	if d := u.kids - 0.1; d > 1e-9 || d < -1e-9 {
		t.Errorf("kids = %v CPU s/s, want 0.1", u.kids)
	}
	if u.kidsChanged {
		t.Error("kidsChanged with the same child throughout")
	}
}
