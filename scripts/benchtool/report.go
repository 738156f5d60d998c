package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

func machineInfo() []string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	ff := "?"
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-version").Output(); err == nil {
		ff, _, _ = strings.Cut(string(out), "\n")
		if i := strings.Index(ff, " Copyright"); i > 0 {
			ff = ff[:i]
		}
	}
	return []string{
		fmt.Sprintf("%d CPUs (nproc), %s", runtime.NumCPU(), model),
		"kernel " + kernel,
		ff,
		"benchtool built with " + runtime.Version(),
	}
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", d.Seconds()*1e3)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", d.Seconds()*1e3)
	default:
		return fmt.Sprintf("%.2f ms", d.Seconds()*1e3)
	}
}

func yesNo(ok bool) string {
	if ok {
		return "**yes**"
	}
	return "**no**"
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return quantile(s, .5)
}

func (r *results) load(n int) *loadRes {
	for i := range r.loads {
		if i > 0 && r.loads[i].viewers == n && r.loads[i].err == nil {
			return &r.loads[i]
		}
	}
	return nil
}

func (r *results) writer(n int) *writerRes {
	for i := range r.writers {
		if r.writers[i].conns == n && r.writers[i].err == nil && r.writers[i].vs.frames > 0 {
			return &r.writers[i]
		}
	}
	return nil
}

// ratio returns the daemon's µs per viewer-frame, the floor's µs per write
// and their ratio at n viewers, ok when both were measured.
func (r *results) ratio(n int) (dmn, floor, x float64, ok bool) {
	l, w := r.load(n), r.writer(n)
	if l == nil || w == nil || l.vs.frames == 0 {
		return 0, 0, 0, false
	}
	dmn, floor = perFrameUS(l.daemon.self, l.vs), perFrameUS(w.cpu, w.vs)
	if floor <= 0 {
		return 0, 0, 0, false
	}
	return dmn, floor, dmn / floor, true
}

// others is the busy CPU of the machine not spent by the processes of the
// benchmark: other programs, and kernel work not charged to a process.
func (l *loadRes) others() float64 {
	o := l.machine - l.bench - l.cam - l.daemon.self - l.daemon.kids
	for _, cpu := range l.extra {
		o -= cpu
	}
	return max(0, o)
}

func (b *bench) report() string {
	r := &b.res
	o := b.o
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format+"\n", a...) }

	mode := "full"
	if o.quick {
		mode = "quick"
	}
	p("## rtsp2mjpeg benchmark (%s run, %s)", mode, r.started.UTC().Format("2006-01-02 15:04 MST"))
	p("")
	if o.source != "" {
		p("- daemon built from %s", o.source)
	}
	for _, l := range machineInfo() {
		p("- %s", l)
	}
	p("- load average (1, 5, 15 min) at start: %s; at end: %s", r.load0, r.load1)
	p("- camera: cmd/testcam %dx%d %d fps h264 (libx264 ultrafast), keyframe every %d frames unless said; daemon `--log-level warn`, defaults otherwise",
		o.width, o.height, o.fps, o.fps)
	p("- windows: %v per viewer load and floor (after %v of settling), %v per camera kind; whole run %v",
		o.window, o.settle, o.camWindow, r.elapsed.Round(time.Second))
	var others []float64
	for i := range r.loads {
		if r.loads[i].err == nil {
			others = append(others, r.loads[i].others())
		}
	}
	for i := range r.writers {
		if r.writers[i].err == nil {
			others = append(others, r.writers[i].others())
		}
	}
	if len(others) > 0 {
		var sum float64
		for _, x := range others {
			sum += x
		}
		p("- CPU busy outside the benchmark's processes during the load and floor windows (other programs, unattributed kernel work): mean %.2f, max %.2f CPU s/s (quiet machine: < 0.1); %d windows measured a second time because it exceeded %.2f, the quieter one kept",
			sum/float64(len(others)), slices.Max(others), r.retried, quietOthers)
	}
	p("- every process (testcam, daemon and its ffmpeg, ffmpeg alone, the writer, the benchtool's viewers) shares the same %d CPUs", runtime.NumCPU())
	p("")

	b.reportTargets(p)
	b.reportLoads(p)
	b.reportWriters(p)
	b.reportSnapshots(p)
	b.reportStartup(p)
	b.reportCams(p)
	b.reportWall(p)
	b.reportRelay(p)

	if len(r.errs) > 0 {
		p("### Errors")
		p("")
		for _, e := range r.errs {
			p("- %s", strings.ReplaceAll(e, "\n", " / "))
		}
		p("")
	}
	return w.String()
}

func (b *bench) reportTargets(p func(string, ...any)) {
	r := &b.res
	p("### Issue 4 targets")
	p("")
	p("| figure | measured | target | holds | peer (issue 4) |")
	p("|---|---|---|---|---|")
	nm := "not measured"
	for _, s := range r.startup {
		if len(s.first) == 0 {
			p("| first frame after daemon start, GOP %d | %s | | | |", s.gop, nm)
			continue
		}
		med := median(s.first)
		target, holds := "reported (≤ 750 ms + keyframe wait)", "—"
		if s.gop <= 4 {
			target, holds = "≤ 750 ms", yesNo(med <= 750*time.Millisecond)
		}
		p("| first frame after daemon start, GOP %d | %s (median of %d, %s–%s) | %s | %s | 2.9 s |",
			s.gop, ms(med), len(s.first), ms(slices.Min(s.first)), ms(slices.Max(s.first)), target, holds)
	}
	for _, od := range r.onDemand {
		target, holds := "reported (≤ 1 s + keyframe wait)", "—"
		if od.gop <= 4 {
			target, holds = "≤ 1 s", yesNo(len(od.lat) > 0 && quantile(od.lat, 1) <= time.Second)
		}
		if len(od.lat) == 0 {
			p("| first snapshot of an idle on-demand camera, GOP %d | %s | %s | | 3.0 s |", od.gop, nm, target)
			continue
		}
		p("| first snapshot of an idle on-demand camera, GOP %d | %s (median of %d, worst %s) | %s | %s | 3.0 s |",
			od.gop, ms(quantile(od.lat, .5)), len(od.lat), ms(quantile(od.lat, 1)), target, holds)
	}
	if s := r.snapIdle; s != nil && len(s.lat) > 0 {
		p("| /snapshot p50 / p99, camera streaming, no viewer | %s / %s (%d requests) | p99 ≤ 5 ms | %s | 67 / 72 ms |",
			ms(quantile(s.lat, .5)), ms(quantile(s.lat, .99)), len(s.lat), yesNo(quantile(s.lat, .99) <= 5*time.Millisecond))
	}
	for _, l := range r.loads[min(1, len(r.loads)):] {
		if s := l.snap; s != nil && len(s.lat) > 0 && l.err == nil {
			p("| /snapshot p50 / p99 at %d viewers | %s / %s (%d requests) | p99 ≤ 5 ms | %s | |",
				l.viewers, ms(quantile(s.lat, .5)), ms(quantile(s.lat, .99)), len(s.lat), yesNo(quantile(s.lat, .99) <= 5*time.Millisecond))
		}
	}
	if l := r.load(50); l != nil && len(l.vs.delays) > 0 {
		floor := ""
		p99 := quantile(l.vs.delays, .99)
		holds := yesNo(p99 <= 2*time.Millisecond)
		if w := r.writer(50); w != nil && len(w.vs.delays) > 0 {
			wp99 := quantile(w.vs.delays, .99)
			floor = fmt.Sprintf(" (bare writer, same readers: %s / %s)", ms(quantile(w.vs.delays, .5)), ms(wp99))
			if p99 > 2*time.Millisecond && wp99 > 2*time.Millisecond {
				holds += " (the bare writer is above 2 ms too: the measurement's own floor here)"
			}
		}
		p("| delay added by the daemon p50 / p99 at 50 viewers (X-Timestamp → the part's last byte in the viewer's socket, kernel timestamp) | %s / %s%s | p99 ≤ 2 ms | %s | |",
			ms(quantile(l.vs.delays, .5)), ms(p99), floor, holds)
		if len(l.vs.fanOut) > 0 {
			p("| … lower bound: the part's arrival at each viewer − its first arrival at any of the 50 (exact; the frame left the splitter before) | %s / %s | | | |",
				ms(quantile(l.vs.fanOut, .5)), ms(quantile(l.vs.fanOut, .99)))
		}
		if len(l.vs.readDelays) > 0 {
			p("| … the same, to the moment the viewer's reader (benchtool, on the same 2 CPUs) had the part | %s / %s | | | |",
				ms(quantile(l.vs.readDelays, .5)), ms(quantile(l.vs.readDelays, .99)))
		}
	}
	for _, n := range []int{50, 200} {
		if d, f, x, ok := r.ratio(n); ok {
			p("| daemon CPU per viewer-frame ÷ loopback write floor, %d viewers | %.1f µs ÷ %.1f µs = **%.2f×** | ≤ 1.15× | %s | 39 µs, 1.7–2× |",
				n, d, f, x, yesNo(x <= 1.15))
		} else {
			p("| daemon CPU per viewer-frame ÷ loopback write floor, %d viewers | %s | ≤ 1.15× | | 39 µs, 1.7–2× |", n, nm)
		}
	}
	if l := r.load(200); l != nil {
		p("| daemon RSS at 200 viewers (peak) | %.1f MB (%.1f MB) | ≤ 50 MB | %s | 30 MB |",
			float64(l.rssKB)/1024, float64(l.hwmKB)/1024, yesNo(float64(l.rssKB)/1024 <= 50))
	}
	if len(r.cams) > 0 {
		c := r.cams[0]
		if c.daemonErr == nil && c.aloneErr == nil && c.alone > 0 {
			x := c.daemonFF / c.alone
			p("| daemon's ffmpeg CPU ÷ ffmpeg alone (%s, same window, no viewer) | %.3f ÷ %.3f CPU s/s = %.2f× | ≤ 1.10× | %s | |",
				c.label, c.daemonFF, c.alone, x, yesNo(x <= 1.10))
		}
	}
	if len(r.loads) > 0 && r.loads[0].err == nil && r.loads[0].camFPS > 0 {
		l := r.loads[0]
		us := l.daemon.self * 1e6 / l.camFPS
		p("| daemon CPU per camera frame, no viewer (live, %.0f KB frames; pipe, split, publish, runtime) | %.0f µs | ≤ 50 µs (50 KB frame) | %s | |",
			l.frameBytes/1024, us, yesNo(us <= 50))
		for _, f := range r.readFloors {
			if f.err == nil && f.fps > 0 {
				p("| … the same camera's frames read from ffmpeg's pipe by %s alone, same window (floor) | %.0f µs | | | |", f.label, f.perFrameUS())
			}
		}
	}
	for _, c := range r.cams {
		if c.hasDaemon && strings.HasPrefix(c.label, "fps: 1") && c.daemonErr == nil {
			p("| a `fps: 1` camera decodes keyframes only (`-skip_frame nokey` in the daemon's ffmpeg) | %v | yes | %s | |",
				map[bool]string{true: "yes", false: "no"}[c.skipFrame], yesNo(c.skipFrame))
		}
	}
	if l := r.load(200); l != nil && len(r.loads) > 0 && r.loads[0].camFPS > 0 {
		p("| slowest viewer's fps at 200 viewers (camera: %.2f fps) | %.2f | every frame to every viewer | %s | |",
			r.loads[0].camFPS, quantile(l.vs.fps, 0), yesNo(quantile(l.vs.fps, 0) >= 0.95*r.loads[0].camFPS))
	}
	p("")
}

func (b *bench) reportLoads(p func(string, ...any)) {
	r := &b.res
	if len(r.loads) == 0 {
		return
	}
	p("### Viewer loads (one 720p15 camera, /video)")
	p("")
	p("| viewers | fps per viewer: min · median | worst gap: median viewer · worst viewer | daemon CPU s/s | its ffmpeg CPU s/s | daemon µs per viewer-frame: all · above no-viewer | daemon RSS (peak) | delay p50 · p99 | benchtool CPU s/s | testcam CPU s/s | machine busy s/s (others) | failed viewers |")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|")
	base := 0.0
	if r.loads[0].err == nil {
		base = r.loads[0].daemon.self
	}
	for i, l := range r.loads {
		if l.err != nil && l.vs.viewers == 0 && i > 0 {
			p("| %d | %s | | | | | | | | | | |", l.viewers, strings.ReplaceAll(l.err.Error(), "|", "/"))
			continue
		}
		kid := fmt.Sprintf("%.3f", l.daemon.kids)
		if l.daemon.kidsChanged {
			kid += " (ffmpeg restarted)"
		}
		mem := fmt.Sprintf("%.1f MB (%.1f MB)", float64(l.rssKB)/1024, float64(l.hwmKB)/1024)
		if i == 0 {
			p("| 0 | camera %.2f fps in | — | %.3f | %s | %.0f µs per camera frame | %s | — | %.3f | %.3f | %.2f (%.2f) | — |",
				l.camFPS, l.daemon.self, kid, l.daemon.self*1e6/max(l.camFPS, 1e-9), mem, l.bench, l.cam, l.machine, l.others())
			continue
		}
		vs := l.vs
		fail := fmt.Sprintf("%d", vs.failed)
		if vs.firstErr != nil {
			fail += " (" + strings.ReplaceAll(vs.firstErr.Error(), "|", "/") + ")"
		}
		if vs.noSignal > 0 {
			fail += fmt.Sprintf(", %d no-signal parts", vs.noSignal)
		}
		if l.err != nil {
			fail += "; " + l.err.Error()
		}
		p("| %d | %.2f · %.2f | %s · %s | %.3f | %s | %.1f · %.1f | %s | %s · %s | %.3f | %.3f | %.2f (%.2f) | %s |",
			l.viewers, quantile(vs.fps, 0), quantile(vs.fps, .5),
			ms(quantile(vs.gaps, .5)), ms(quantile(vs.gaps, 1)),
			l.daemon.self, kid, perFrameUS(l.daemon.self, vs), perFrameUS(l.daemon.self-base, vs),
			mem, ms(quantile(vs.delays, .5)), ms(quantile(vs.delays, .99)),
			l.bench, l.cam, l.machine, l.others(), fail)
	}
	p("")
	p("µs per viewer-frame = the daemon's own CPU time (all threads, from /proc) in the window ÷ camera frames delivered to all viewers;")
	p("\"above no-viewer\" first subtracts the daemon's CPU with the camera streaming and no viewer. Delay = arrival of the part's last byte in the viewer's")
	p("socket (the kernel's receive timestamp, SO_TIMESTAMPNS) − X-Timestamp (ms resolution, truncated: figures can be up to 1 ms high).")
	p("CPU is read from /proc/PID/task/*/schedstat (the time utime+stime of /proc/PID/stat add up to, in ns); the daemon's ffmpeg is found by PPid;")
	p("each CPU figure is that of the median of the window's three equal parts (this VM has bursts of a few seconds where everything costs more).")
	p("Machine busy is from /proc/stat; (others) is what neither the benchmark's processes nor their children spent: other programs, unattributed kernel work.")
	if r.meanFrame > 0 {
		p("Mean frame: %d bytes.", r.meanFrame)
	}
	p("")
}

func (b *bench) reportWriters(p func(string, ...any)) {
	r := &b.res
	if len(r.writers) == 0 {
		return
	}
	p("### Loopback write floor (`benchtool writer`, a separate process)")
	p("")
	p("| connections | part bytes | writer CPU s/s | floor µs per write | daemon µs per viewer-frame | daemon ÷ floor | fps per connection: min | worst gap | delay p50 · p99 | benchtool (readers) CPU s/s | machine busy s/s (others) |")
	p("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, w := range r.writers {
		if w.err != nil {
			p("| %d | %d | %s | | | | | | | | |", w.conns, w.size, strings.ReplaceAll(w.err.Error(), "|", "/"))
			continue
		}
		dmn, ratio := "—", "—"
		if d, _, x, ok := r.ratio(w.conns); ok {
			dmn, ratio = fmt.Sprintf("%.1f", d), fmt.Sprintf("%.2f×", x)
		}
		p("| %d | %d | %.3f | %.1f | %s | %s | %.2f | %s | %s · %s | %.3f | %.2f (%.2f) |",
			w.conns, w.size, w.cpu, perFrameUS(w.cpu, w.vs), dmn, ratio, quantile(w.vs.fps, 0),
			ms(quantile(w.vs.gaps, 1)), ms(quantile(w.vs.delays, .5)), ms(quantile(w.vs.delays, .99)), w.bench, w.machine, w.others())
	}
	p("")
	p("The writer accepts N connections, builds one part per tick (headers, the mean frame size of the run, next boundary) and writes it to each")
	p("connection in one Write from one goroutine per connection, woken by one channel close per frame: the least a Go server can do per viewer-frame.")
	p("Its delay column is what the measurement itself adds (reader scheduling, ms truncation).")
	p("")
}

func (b *bench) reportSnapshots(p func(string, ...any)) {
	r := &b.res
	p("### Snapshots")
	p("")
	p("| case | requests | p50 | p99 | max | failed |")
	p("|---|---|---|---|---|---|")
	row := func(name string, s *latRes) {
		if s == nil {
			return
		}
		errs := fmt.Sprintf("%d", s.failed)
		if s.firstErr != nil {
			errs += " (" + strings.ReplaceAll(s.firstErr.Error(), "|", "/") + ")"
		}
		if len(s.lat) == 0 {
			p("| %s | 0 | | | | %s |", name, errs)
			return
		}
		p("| %s | %d | %s | %s | %s | %s |", name, len(s.lat), ms(quantile(s.lat, .5)), ms(quantile(s.lat, .99)), ms(quantile(s.lat, 1)), errs)
	}
	row("/snapshot, camera streaming, no viewer (sequential, keep-alive)", r.snapIdle)
	for _, l := range r.loads {
		if l.snap != nil {
			row(fmt.Sprintf("/snapshot at %d viewers", l.viewers), l.snap)
		}
	}
	for _, od := range r.onDemand {
		row(fmt.Sprintf("first snapshot of an idle on-demand camera, GOP %d (ffmpeg not running, newest frame > 2 s old)", od.gop), &od.latRes)
	}
	p("")
}

func (b *bench) reportStartup(p func(string, ...any)) {
	r := &b.res
	if len(r.startup) == 0 {
		return
	}
	p("### Start to first frame (`rtsp2mjpeg --url`, a viewer connecting as soon as /healthz answers)")
	p("")
	p("| camera keyframe interval | starts | /healthz answers after (median) | first frame at the viewer after: median (min–max) |")
	p("|---|---|---|---|")
	for _, s := range r.startup {
		if len(s.first) == 0 {
			p("| %d frames | 0 | | %v |", s.gop, s.err)
			continue
		}
		p("| %d frames (%.2f s) | %d | %s | %s (%s–%s) |", s.gop, float64(s.gop)/float64(b.o.fps), len(s.first),
			ms(median(s.healthz)), ms(median(s.first)), ms(slices.Min(s.first)), ms(slices.Max(s.first)))
	}
	p("")
}

func (b *bench) reportCams(p func(string, ...any)) {
	r := &b.res
	if len(r.cams) == 0 {
		return
	}
	p("### ffmpeg CPU per camera (no viewer)")
	p("")
	p("| camera | daemon's ffmpeg CPU s/s | ffmpeg alone CPU s/s | daemon's ÷ alone | daemon itself CPU s/s | frames out /s | mean frame | cameras per core (ffmpeg + daemon) |")
	p("|---|---|---|---|---|---|---|---|")
	for _, c := range r.cams {
		dff, dself, fps, size, ratio, per := "—", "—", "—", "—", "—", "—"
		if c.hasDaemon {
			if c.daemonErr != nil {
				dff = strings.ReplaceAll(c.daemonErr.Error(), "|", "/")
			} else {
				dff, dself = fmt.Sprintf("%.3f", c.daemonFF), fmt.Sprintf("%.4f", c.daemonSelf)
				fps, size = fmt.Sprintf("%.2f", c.outFPS), fmt.Sprintf("%.1f KB", c.frameBytes/1024)
				if c.daemonFF+c.daemonSelf > 0 {
					per = fmt.Sprintf("%.0f", 1/(c.daemonFF+c.daemonSelf))
				}
			}
		}
		alone := "—"
		if c.hasAlone {
			if c.aloneErr != nil {
				alone = strings.ReplaceAll(c.aloneErr.Error(), "|", "/")
			} else {
				alone = fmt.Sprintf("%.3f", c.alone)
				if c.hasDaemon && c.daemonErr == nil && c.alone > 0 {
					ratio = fmt.Sprintf("%.2f×", c.daemonFF/c.alone)
				}
				if !c.hasDaemon && c.alone > 0 {
					per = fmt.Sprintf("%.0f (ffmpeg alone)", 1/c.alone)
				}
			}
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |", c.label, dff, alone, ratio, dself, fps, size, per)
	}
	p("")
	p("ffmpeg alone runs the daemon's own command line (pipeline.BuildArgs, same input options) with `/dev/null` for `pipe:1`, in the same")
	p("window as the daemon (both read the same testcam), so that background load weighs on both alike:")
	p("")
	p("```")
	for _, c := range r.cams {
		if c.aloneCmd != "" {
			p("%s", c.aloneCmd)
		}
	}
	p("```")
	p("")
}
