// Package procfs reads what the project's tests, benchmark and soak tool
// need from Linux's /proc: a process's stat line, its children (found by
// their parent pid, so that only processes of our own are ever looked at),
// its CPU time per thread, its memory and its open files.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clkTck is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on
// every Linux architecture Go runs on.
const clkTck = 100

// Stat is what /proc/PID/stat tells about one process.
type Stat struct {
	PID   int
	Comm  string
	State byte // R, S, D, Z, T...
	PPID  int
	CPU   time.Duration // utime+stime, in 10 ms steps
}

// Zombie tells a process that has exited and not been waited for.
func (s Stat) Zombie() bool { return s.State == 'Z' }

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	// comm is in parentheses and may hold spaces or parentheses itself.
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return Stat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[closing+1:]))
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 13 || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return Stat{
		PID:   pid,
		Comm:  string(b[open+1 : closing]),
		State: f[0][0],
		PPID:  ppid,
		CPU:   time.Duration(ut+st) * (time.Second / clkTck),
	}, nil
}

// Children returns the processes whose parent is ppid, zombies included.
func Children(ppid int) []Stat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []Stat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == ppid {
			continue
		}
		if s, err := ReadStat(pid); err == nil && s.PPID == ppid {
			kids = append(kids, s)
		}
	}
	return kids
}

// Alive tells whether pid exists and has not exited (a zombie has).
func Alive(pid int) bool {
	s, err := ReadStat(pid)
	return err == nil && !s.Zombie()
}

// ThreadsCPU sums the CPU time of pid's threads from
// /proc/PID/task/TID/schedstat (the scheduler's sum_exec_runtime, which
// utime+stime add up to, in ns instead of 10 ms steps). Threads that ended
// are missing from it; Go programs and ffmpeg keep theirs.
func ThreadsCPU(pid int) (time.Duration, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return 0, false
	}
	var sum int64
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread ended meanwhile
			}
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) < 1 {
			return 0, false
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return time.Duration(sum), true
}

// Status returns the number of a field of /proc/PID/status (VmRSS and
// VmHWM in KiB, Threads...), or -1 when the process or the field is gone.
func Status(pid int, key string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n
				}
			}
			return -1
		}
	}
	return -1
}

// FDs returns how many files pid has open, or -1.
func FDs(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
