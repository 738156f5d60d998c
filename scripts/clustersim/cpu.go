package main

import (
	"os"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/scripts/procfs"
)

// cpuMark is the CPU time of a process and of each of its children at
// one moment.
type cpuMark struct {
	at   time.Time
	self time.Duration
	kids map[int]time.Duration // by pid
}

func markCPU(pid int) cpuMark {
	m := cpuMark{at: time.Now(), kids: map[int]time.Duration{}}
	if s, err := procfs.ReadStat(pid); err == nil {
		m.self = s.CPU
	}
	for _, k := range procfs.Children(pid) {
		m.kids[k.PID] = k.CPU
	}
	return m
}

// cpuUse is a process's CPU use between two marks, in CPU-seconds per
// second: its own, and its children's (those alive at both marks: ffmpeg
// on an origin; the publisher ffmpeg of the synthetic camera for the tool).
type cpuUse struct {
	self, kids float64
	nKids      int
}

func (a cpuMark) to(b cpuMark) cpuUse {
	sec := b.at.Sub(a.at).Seconds()
	if sec <= 0 {
		return cpuUse{}
	}
	u := cpuUse{self: (b.self - a.self).Seconds() / sec}
	var kids time.Duration
	for pid, t := range b.kids {
		if t0, ok := a.kids[pid]; ok {
			kids += t - t0
			u.nKids++
		}
	}
	u.kids = kids.Seconds() / sec
	return u
}

// selfPID is this tool's pid: the synthetic camera's server and the
// viewers run in it.
var selfPID = os.Getpid()
