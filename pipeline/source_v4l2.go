package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// listFormatsTimeout bounds ffmpeg -list_formats (a webcam answers in
// about 0.1 s), or the camera's start_timeout when that is shorter.
const listFormatsTimeout = 5 * time.Second

// v4l2Source is a local webcam read through Video4Linux2 (/dev/videoN).
// The kernel lets one program at a time capture from it.
//
// Before a run that leaves the input format to auto, it asks the device
// which formats it offers (ffmpeg -list_formats) and picks mjpeg when it
// can: a UVC webcam then sends its own JPEGs, which are forwarded as they
// are, instead of raw frames that the USB link carries at a few fps only
// and that must be encoded. The answer is kept until a run fails or the
// camera's config changes (a new source).
type v4l2Source struct {
	device string // /dev/videoN

	mu      sync.Mutex   // guards the fields below
	formats []v4l2Format // the device's formats at the last probe that found some
	fresh   bool         // formats may be used without asking again
	at      uint64       // the camera's restarts when they were listed
}

func (s *v4l2Source) input(c CameraConfig, longProbe bool) (map[string]string, string) {
	kw := map[string]string{"f": "v4l2"}
	if c.InputFormat != "" {
		kw["input_format"] = c.InputFormat
	}
	if c.VideoSize != "" {
		kw["video_size"] = c.VideoSize
	}
	if c.Framerate > 0 {
		kw["framerate"] = strconv.FormatFloat(c.Framerate, 'f', -1, 64)
	}
	// No -thread_queue_size: ffmpeg 5.1 reads a single input on its main
	// thread, and the option sizes the queues of input threads, which it
	// starts only with several inputs.
	lowDelayProbe(kw, longProbe)
	return kw, s.device
}

// watch: the device node exists and opens. A TCP dial means nothing here;
// an unplugged webcam's node is gone, and comes back when it is plugged in
// again. Opening a device that another program reads still succeeds: a
// busy device is left to the backoff.
func (s *v4l2Source) watch() func(ctx context.Context) bool {
	return func(context.Context) bool {
		f, err := os.OpenFile(s.device, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return false
		}
		f.Close()
		return true
	}
}

// unreachable: the device node is missing (unplugged, or not passed to the
// container); the camera restarts as soon as watch sees it again.
func (*v4l2Source) kind(CameraConfig) string { return "webcam" }

func (*v4l2Source) unreachable(err error) bool {
	var d *deviceError
	return errors.As(err, &d) && d.gone
}

// run settles what auto leaves open (the input format, the codec), runs
// ffmpeg, and explains a failure in the words of a webcam's user.
func (s *v4l2Source) run(ctx context.Context, c *Camera, cfg CameraConfig, redact *Redactor) (time.Duration, error) {
	cfg, err := s.prepare(ctx, c, cfg)
	if err != nil {
		c.stderr.Reset(redact) // the log's stderr tail is not that of an older run
		return 0, err
	}
	healthy, err := c.runOnce(ctx, cfg, redact)
	if err != nil && ctx.Err() == nil {
		if d := explainV4L2(s.device, cfg, s.offered(), err); d != nil {
			err = d
		}
	}
	return healthy, err
}

// prepare returns cfg with its input format and codec decided. It fails
// only when listing the formats showed that ffmpeg cannot open the device
// (missing, no permission, not a webcam); when the listing fails in
// another way, ffmpeg picks the format and the camera encodes.
func (s *v4l2Source) prepare(ctx context.Context, c *Camera, cfg CameraConfig) (CameraConfig, error) {
	auto := cfg.Codec == CodecAuto
	if cfg.InputFormat == "" && cfg.Codec != CodecCopy {
		formats, err := s.listFormats(ctx, c, cfg)
		if err != nil {
			if ctx.Err() != nil {
				return cfg, ctx.Err()
			}
			if d := explainV4L2(s.device, cfg, "", err); d != nil {
				return cfg, d
			}
			c.log.WithError(err).Warn("webcam: cannot list its formats; ffmpeg picks one, and the camera encodes")
		}
		cfg.InputFormat = pickInputFormat(formats, cfg.VideoSize)
	}
	cfg = chooseV4L2Codec(cfg)
	if auto {
		c.setCodec(cfg.Codec) // for the status
	}
	c.log.WithFields(logrus.Fields{"input_format": cfg.InputFormat, "codec": cfg.Codec}).Debug("webcam settings")
	return cfg, nil
}

// listFormats returns the device's formats: those listed before, unless a
// run failed since (the device may have changed: unplugged, another one
// plugged in), else a new listing.
func (s *v4l2Source) listFormats(ctx context.Context, c *Camera, cfg CameraConfig) ([]v4l2Format, error) {
	c.mu.Lock()
	restarts := c.restarts
	c.mu.Unlock()
	s.mu.Lock()
	if s.fresh && s.at == restarts {
		defer s.mu.Unlock()
		return s.formats, nil
	}
	s.fresh = false
	s.mu.Unlock()

	timeout := min(cfg.StartTimeout, listFormatsTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &capBuffer{max: 64 << 10}
	cmd := ffmpegCommand(ctx, cfg.FFmpeg, listFormatsArgs(s.device), out)
	waited, err := StartOwned(cmd)
	if err != nil {
		return nil, fmt.Errorf("start ffmpeg -list_formats: %w", err)
	}
	werr := <-waited
	formats := parseV4L2Formats(out.b.String())
	if len(formats) == 0 {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("ffmpeg -list_formats: no answer within %s", timeout)
		}
		return nil, fmt.Errorf("ffmpeg -list_formats (%v): %s", werr, lastLines(out.b.String(), 2))
	}
	// ffmpeg exits with status 1 after listing ("Immediate exit requested"):
	// the formats are the answer.
	s.mu.Lock()
	s.formats, s.fresh, s.at = formats, true, restarts
	s.mu.Unlock()
	c.log.WithField("formats", describeFormats(formats)).Info("webcam formats")
	return formats, nil
}

// offered describes the formats of the last listing, for a message; "" if
// none.
func (s *v4l2Source) offered() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return describeFormats(s.formats)
}

// v4l2Format is one format a V4L2 device offers, as ffmpeg -list_formats
// prints it.
type v4l2Format struct {
	name       string   // ffmpeg's name: mjpeg, yuyv422, h264; "Unsupported" when it has none
	compressed bool     // mjpeg, h264...; else raw pixels
	emulated   bool     // converted by libv4l, not sent by the device
	sizes      []string // as printed: "640x480", or a range "{16-1920, 8}x{16-1080, 8}"
}

// parseV4L2Formats reads the formats out of the stderr of ffmpeg -f v4l2
// -list_formats all, whose lines look like
//
//	[video4linux2,v4l2 @ 0x5581f7c4e700] Compressed:       mjpeg :          Motion-JPEG : 640x480 1280x720
//	[video4linux2,v4l2 @ 0x5581f7c4e700] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 160x120
//
// (libavdevice/v4l2.c, list_formats). Other lines are skipped; nil when
// there is no format line.
func parseV4L2Formats(out string) []v4l2Format {
	var formats []v4l2Format
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") { // the log prefix
			_, rest, ok := strings.Cut(line, "] ")
			if !ok {
				continue
			}
			line = strings.TrimSpace(rest)
		}
		kind, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var f v4l2Format
		switch strings.TrimSpace(kind) {
		case "Raw":
		case "Compressed":
			f.compressed = true
		default:
			continue
		}
		name, rest, ok := strings.Cut(rest, " : ")
		f.name = strings.TrimSpace(name)
		if !ok || f.name == "" || strings.ContainsAny(f.name, " \t") {
			continue
		}
		// The description may hold colons ("YUYV 4:2:2") but not " :".
		_, tail, ok := strings.Cut(rest, " :")
		if !ok {
			continue
		}
		if t, ok := strings.CutPrefix(strings.TrimSpace(tail), "Emulated :"); ok {
			f.emulated, tail = true, t
		}
		for _, size := range sizeTokens(tail) {
			if _, _, ok := parseSize(size); ok || isSizeRange(size) {
				f.sizes = append(f.sizes, size)
			}
		}
		formats = append(formats, f)
	}
	return formats
}

// sizeTokens splits a list of sizes on spaces outside braces: a range
// "{16-1920, 8}x{16-1080, 8}" is one token.
func sizeTokens(s string) []string {
	var out []string
	depth, start := 0, -1
	for i, r := range s {
		switch {
		case r == '{':
			depth++
		case r == '}':
			depth--
		case r == ' ' && depth <= 0:
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// parseSize reads "WxH".
func parseSize(s string) (w, h int, ok bool) {
	ws, hs, found := strings.Cut(s, "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	return w, h, found && errW == nil && errH == nil && w > 0 && h > 0
}

// sizeRange reads a stepwise size "{minW-maxW, stepW}x{minH-maxH, stepH}".
type sizeRange struct{ minW, maxW, stepW, minH, maxH, stepH int }

func parseSizeRange(s string) (r sizeRange, ok bool) {
	n, err := fmt.Sscanf(s, "{%d-%d, %d}x{%d-%d, %d}", &r.minW, &r.maxW, &r.stepW, &r.minH, &r.maxH, &r.stepH)
	return r, err == nil && n == 6
}

func isSizeRange(s string) bool {
	_, ok := parseSizeRange(s)
	return ok
}

func (r sizeRange) holds(w, h int) bool {
	in := func(v, lo, hi, step int) bool {
		return v >= lo && v <= hi && (step <= 0 || (v-lo)%step == 0)
	}
	return in(w, r.minW, r.maxW, r.stepW) && in(h, r.minH, r.maxH, r.stepH)
}

// offers tells whether f lists size (WxH); a format that lists no size
// might have any.
func (f v4l2Format) offers(size string) bool {
	w, h, ok := parseSize(size)
	if !ok || len(f.sizes) == 0 {
		return true
	}
	for _, s := range f.sizes {
		if s == size {
			return true
		}
		if r, ok := parseSizeRange(s); ok && r.holds(w, h) {
			return true
		}
	}
	return false
}

// pickInputFormat returns the input_format for a device that lists
// formats: mjpeg when it offers it (at size, when size is set), else a raw
// format at size, else mjpeg at another size (the driver picks the
// nearest), else "": ffmpeg takes the device's default.
func pickInputFormat(formats []v4l2Format, size string) string {
	var mjpeg bool
	for _, f := range formats {
		if f.compressed && f.name == "mjpeg" {
			if size == "" || f.offers(size) {
				return "mjpeg"
			}
			mjpeg = true
		}
	}
	if size != "" {
		for _, f := range formats {
			if !f.compressed && f.name != "Unsupported" && f.offers(size) {
				return f.name
			}
		}
	}
	if mjpeg {
		return "mjpeg"
	}
	return ""
}

// chooseV4L2Codec settles codec auto for a webcam: copy when it sends
// JPEGs that need no filter (no fps cap, no width), else mjpeg (encode).
// A copy camera without an input format asks for mjpeg.
func chooseV4L2Codec(cfg CameraConfig) CameraConfig {
	switch cfg.Codec {
	case CodecCopy:
		if cfg.InputFormat == "" {
			cfg.InputFormat = "mjpeg"
		}
	case CodecAuto:
		if cfg.InputFormat == "mjpeg" && cfg.FPS == 0 && cfg.Width == 0 {
			cfg.Codec = CodecCopy
		} else {
			cfg.Codec = CodecMJPEG
		}
	}
	return cfg
}

// describeFormats lists formats and their first sizes for a message:
// "mjpeg (640x480 1280x720), yuyv422 (640x480)".
func describeFormats(formats []v4l2Format) string {
	const maxSizes = 8
	var parts []string
	for _, f := range formats {
		if f.name == "Unsupported" {
			continue
		}
		sizes := f.sizes
		more := ""
		if len(sizes) > maxSizes {
			sizes, more = sizes[:maxSizes], " …"
		}
		if len(sizes) == 0 {
			parts = append(parts, f.name)
			continue
		}
		parts = append(parts, f.name+" ("+strings.Join(sizes, " ")+more+")")
	}
	return strings.Join(parts, ", ")
}

// deviceError is a webcam failure in its user's words: what happened and
// what to do, then ffmpeg's own error.
type deviceError struct {
	msg  string
	gone bool  // the device node is missing: restart as soon as it is back
	err  error // ffmpeg's error, with the tail of its stderr
}

func (e *deviceError) Error() string { return e.msg + "; " + e.err.Error() }

func (e *deviceError) Unwrap() error { return e.err }

// explainV4L2 reads ffmpeg's error (with its stderr tail) on a webcam, and
// returns what it means and what to do; nil when it is nothing known.
// offered describes the device's formats, "" when unknown.
func explainV4L2(device string, cfg CameraConfig, offered string, err error) *deviceError {
	msg := err.Error()
	has := func(s string) bool { return strings.Contains(msg, s) }
	list := "ffmpeg -f v4l2 -list_formats all -i " + device
	d := &deviceError{err: err}
	switch {
	case has(device + ": No such file or directory"):
		d.gone = true
		d.msg = device + " does not exist: plug the webcam in (the camera starts as soon as it appears), " +
			"or check its number with v4l2-ctl --list-devices; in Docker, pass the device to the container (devices: in docker-compose.yml)"
	case has("Device or resource busy"):
		d.msg = device + " is busy: another program is reading it (only one reader at a time); " +
			"stop that program, or have it watch this camera's stream instead"
	case has("Permission denied"):
		d.msg = device + ": permission denied: run the daemon as a member of the video group (in Docker: group_add: [video])"
	case has("Not a video capture device"):
		d.msg = device + " is not a video capture device (a webcam may have a second node, for metadata): " +
			"try another /dev/videoN; v4l2-ctl --list-devices lists them"
	case has("No such device"):
		d.gone = true // unplugged while ffmpeg had it open
		d.msg = device + " went away (unplugged?): the camera starts again as soon as it is back"
	case has("Inappropriate ioctl for device"):
		d.msg = device + " is not a V4L2 video device: want a webcam's /dev/videoN (v4l2-ctl --list-devices lists them)"
	case has("No such input format"):
		d.msg = fmt.Sprintf("input_format %q is not a format name ffmpeg knows: use one that %s lists", cfg.InputFormat, list)
	case has("Cannot find a proper format"), has("VIDIOC_S_FMT"), has("VIDIOC_S_PARM"):
		d.msg = device + " refuses " + asked(cfg)
		if offered != "" {
			d.msg += ": it offers " + offered
		}
		d.msg += "; set input_format, video_size and framerate to what " + list + " lists"
	default:
		return nil
	}
	return d
}

// asked describes the format asked of a device.
func asked(cfg CameraConfig) string {
	var a []string
	if cfg.InputFormat != "" {
		a = append(a, "input_format "+cfg.InputFormat)
	}
	if cfg.VideoSize != "" {
		a = append(a, "video_size "+cfg.VideoSize)
	}
	if cfg.Framerate > 0 {
		a = append(a, "framerate "+strconv.FormatFloat(cfg.Framerate, 'f', -1, 64))
	}
	if len(a) == 0 {
		return "the format ffmpeg asked for"
	}
	return strings.Join(a, ", ")
}

// capBuffer keeps the first max bytes written to it.
type capBuffer struct {
	b   bytes.Buffer
	max int
}

func (w *capBuffer) Write(p []byte) (int, error) {
	if room := w.max - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// lastLines returns the last n lines of s that are not blank, joined.
func lastLines(s string, n int) string {
	var out []string
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append([]string{l}, out...)
		}
	}
	return strings.Join(out, " | ")
}
