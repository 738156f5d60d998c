package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/scripts/procfs"
)

// clkTck is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on
// every Linux architecture Go runs on.
const clkTck = 100

// procStat is what the benchmark keeps of one process.
type procStat struct {
	ppid int
	comm string
	ns   int64 // CPU time of all threads, ns
}

// readStat reads pid's stat line, with its CPU time in ns from its threads
// when they can be read (10 ms steps otherwise).
func readStat(pid int) (procStat, error) {
	st, err := procfs.ReadStat(pid)
	if err != nil {
		return procStat{}, err
	}
	s := procStat{ppid: st.PPID, comm: st.Comm, ns: st.CPU.Nanoseconds()}
	if cpu, ok := procfs.ThreadsCPU(pid); ok {
		s.ns = cpu.Nanoseconds()
	}
	return s, nil
}

// childrenOf returns the children of pid, found by their PPid.
func childrenOf(pid int) map[int]procStat {
	kids := map[int]procStat{}
	for _, k := range procfs.Children(pid) {
		s := procStat{ppid: k.PPID, comm: k.Comm, ns: k.CPU.Nanoseconds()}
		if cpu, ok := procfs.ThreadsCPU(k.PID); ok {
			s.ns = cpu.Nanoseconds()
		}
		kids[k.PID] = s
	}
	return kids
}

// memKB returns VmRSS and VmHWM (peak RSS) of pid in KiB.
func memKB(pid int) (rss, hwm int64) {
	return max(0, procfs.Status(pid, "VmRSS")), max(0, procfs.Status(pid, "VmHWM"))
}

// machineTicks returns the busy and total CPU time of the machine (all
// cores) from /proc/stat, in 1/clkTck s.
func machineTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, s := range f[1:] {
		if i >= 8 { // guest time is already in user
			break
		}
		v, _ := strconv.ParseInt(s, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

func cmdline(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// cpuSnap is the CPU time (ns) of a few processes and their children, and of
// the machine, at one moment.
type cpuSnap struct {
	at        time.Time
	self      map[int]int64
	kids      map[int]map[int]procStat
	machBusy  int64
	machTotal int64
}

func takeSnap(roots ...int) cpuSnap {
	s := cpuSnap{at: time.Now(), self: map[int]int64{}, kids: map[int]map[int]procStat{}}
	for _, pid := range roots {
		if pid <= 0 {
			continue
		}
		if st, err := readStat(pid); err == nil {
			s.self[pid] = st.ns
		}
		s.kids[pid] = childrenOf(pid)
	}
	s.machBusy, s.machTotal = machineTicks()
	return s
}

// cpuUse is CPU seconds per wall second over a window.
type cpuUse struct {
	self, kids  float64
	kidsChanged bool // a child started or ended in the window
}

func (a cpuSnap) use(b cpuSnap, pid int) cpuUse {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return cpuUse{}
	}
	u := cpuUse{self: float64(b.self[pid]-a.self[pid]) / 1e9 / secs}
	var kt int64
	ka, kb := a.kids[pid], b.kids[pid]
	for p, s := range kb {
		if sa, ok := ka[p]; ok {
			kt += s.ns - sa.ns
		} else {
			kt += s.ns // started in the window: all its time is in it
			u.kidsChanged = true
		}
	}
	for p := range ka {
		if _, ok := kb[p]; !ok {
			u.kidsChanged = true // ended in the window: its last time is lost
		}
	}
	u.kids = float64(kt) / 1e9 / secs
	return u
}

// subWindows is how many parts a measured window is cut into: CPU figures
// are the median part's. This VM has bursts of a few seconds in which every
// process costs several times more for the same work (context switches
// above all); one burst in a 15 s window moved a figure by 50 % or more.
const subWindows = 3

// sleepSnaps sleeps dur in subWindows parts and returns the snapshots at
// the start and after each part.
func sleepSnaps(sleep func(time.Duration), dur time.Duration, roots func() []int) []cpuSnap {
	snaps := []cpuSnap{takeSnap(roots()...)}
	for range subWindows {
		sleep(dur / subWindows)
		snaps = append(snaps, takeSnap(roots()...))
	}
	return snaps
}

// medianUse is the CPU use of pid (self, and its children apart) in the
// median part of the window that snaps cut (each the median on its own).
func medianUse(snaps []cpuSnap, pid int) cpuUse {
	if len(snaps) < 2 {
		return cpuUse{}
	}
	var selfs, kids []float64
	var changed bool
	for i := 1; i < len(snaps); i++ {
		u := snaps[i-1].use(snaps[i], pid)
		selfs, kids = append(selfs, u.self), append(kids, u.kids)
		changed = changed || u.kidsChanged
	}
	slices.Sort(selfs)
	slices.Sort(kids)
	return cpuUse{self: selfs[len(selfs)/2], kids: kids[len(kids)/2], kidsChanged: changed}
}

// machine is the whole machine's busy CPU seconds per second.
func (a cpuSnap) machine(b cpuSnap) float64 {
	if b.machTotal <= a.machTotal {
		return 0
	}
	// total ticks grow by ncpu per tick of wall time.
	secs := b.at.Sub(a.at).Seconds()
	return float64(b.machBusy-a.machBusy) / clkTck / secs
}

// proc is a process started by the benchmark.
type proc struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	first   chan string // the first line of stdout
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop ends the process by its pid: SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	_ = p.cmd.Process.Kill()
	t2 := time.NewTimer(5 * time.Second)
	defer t2.Stop()
	select {
	case <-p.done:
	case <-t2.C:
	}
}

// tail returns the last n lines of the process's log (stdout and stderr).
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// procs is every process the benchmark started, to stop them all at the end.
type procs struct {
	dir string // logs
	mu  sync.Mutex
	all []*proc
	seq int
}

// firstLineWriter copies a process's stdout to its log and hands over its
// first line.
type firstLineWriter struct {
	w    io.Writer
	buf  []byte
	sent bool
	ch   chan string
}

func (f *firstLineWriter) Write(p []byte) (int, error) {
	if !f.sent {
		f.buf = append(f.buf, p...)
		if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
			f.ch <- strings.TrimSpace(string(f.buf[:i]))
			f.sent = true
			f.buf = nil
		} else if len(f.buf) > 64<<10 {
			f.buf = f.buf[:0]
		}
	}
	return f.w.Write(p)
}

func (ps *procs) start(name, bin string, args ...string) (*proc, error) {
	return ps.startIO(name, nil, nil, bin, args...)
}

// startPipe starts `from | to`: to reads from's stdout through a pipe.
func (ps *procs) startPipe(name string, from, to []string) (src, dst *proc, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer r.Close() // the children have their copies
	defer w.Close()
	if dst, err = ps.startIO(name+"-reader", r, nil, to[0], to[1:]...); err != nil {
		return nil, nil, err
	}
	if src, err = ps.startIO(name+"-source", nil, w, from[0], from[1:]...); err != nil {
		dst.stop(3 * time.Second)
		return nil, nil, err
	}
	return src, dst, nil
}

// startIO starts bin; stdin and stdout, when not nil, replace /dev/null and
// the log.
func (ps *procs) startIO(name string, stdin, stdout *os.File, bin string, args ...string) (*proc, error) {
	ps.mu.Lock()
	ps.seq++
	logPath := filepath.Join(ps.dir, fmt.Sprintf("%02d-%s.log", ps.seq, name))
	ps.mu.Unlock()
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), logPath: logPath, first: make(chan string, 1)}
	cmd.Stdout = &firstLineWriter{w: logf, ch: p.first}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stderr = logf
	// Own process group: a ^C reaches only the benchmark, which then stops
	// its children in order. Pdeathsig: none outlives a killed benchmark.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	return p, nil
}

// stopAll stops every process still running, newest first (the daemon
// before the camera it reads).
func (ps *procs) stopAll() {
	ps.mu.Lock()
	all := append([]*proc(nil), ps.all...)
	ps.mu.Unlock()
	for i := len(all) - 1; i >= 0; i-- {
		all[i].stop(6 * time.Second)
	}
}

// waitFirstLine waits for the first line p prints on stdout.
func waitFirstLine(ctx context.Context, p *proc, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l := <-p.first:
		return l, nil
	case <-p.done:
		select {
		case l := <-p.first:
			return l, nil
		default:
		}
		return "", fmt.Errorf("%s exited: %s", p.name, p.tail(10))
	case <-t.C:
		return "", fmt.Errorf("%s printed nothing within %v: %s", p.name, timeout, p.tail(10))
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// waitGone waits until none of pids is alive (zombies count as gone).
func waitGone(pids []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := 0
		for _, p := range pids {
			if procfs.Alive(p) {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("processes still alive")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
