package pipeline

import (
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Codec choices for a camera (DESIGN.md "Config file").
const (
	CodecAuto  = "auto"  // copy when ffprobe finds MJPEG, else re-encode
	CodecMJPEG = "mjpeg" // always re-encode to MJPEG
	CodecCopy  = "copy"  // the camera already sends MJPEG: forward its JPEGs
)

// CameraConfig is everything one camera needs.
type CameraConfig struct {
	Name     string
	URL      string
	FPS      float64 // 0: the camera's rate; else ffmpeg caps output fps
	Width    int     // 0: the camera's size; else scale, keep aspect
	Quality  int     // ffmpeg -q:v, 2 (best) .. 31
	OnDemand bool    // when_idle: stop: no ffmpeg while nobody watches
	Standby  bool    // when_idle: standby: keyframes only while nobody watches (standby.go)
	// DecoderThreads is ffmpeg's -threads for decoding the camera; 0 is
	// ffmpeg's own choice (one per core, more or less). One thread per
	// camera can cost less in all on a box of many cameras.
	DecoderThreads int
	IdleTimeout    time.Duration
	StartTimeout   time.Duration
	StallTimeout   time.Duration
	RTSPTransport  string // tcp|udp
	Codec          string // auto|mjpeg|copy
	FFmpeg         string // path to the ffmpeg binary
	FFprobe        string // path to ffprobe, for codec auto; "" re-encodes
	// A webcam's capture settings (url /dev/videoN), each "" or 0 for the
	// device's own; a config error on other kinds. Codec auto with no
	// InputFormat asks for mjpeg when the device offers it (source_v4l2.go).
	// Poll makes an http(s) camera a still-image one: its URL answers one
	// JPEG, fetched this often (0: the URL is a stream).
	Poll        time.Duration
	InputFormat string  // ffmpeg's -input_format: mjpeg, yuyv422...
	VideoSize   string  // WIDTHxHEIGHT, as 1280x720
	Framerate   float64 // frames per second asked of the device
	// Profiles are the camera's extra outputs, in config order (DESIGN.md
	// "Profiles"); DefaultProfiles without config.
	Profiles []ProfileConfig
}

// ProfileConfig is a named extra output of a camera: smaller or slower
// JPEGs for a wall of tiles, say. Without URL it is one more output of the
// camera's own ffmpeg, encoded once from the frames it decodes anyway; with
// URL it is the camera's substream, read by an ffmpeg of its own.
type ProfileConfig struct {
	Name    string
	URL     string  // "": an output of the camera's ffmpeg; else the substream's URL
	FPS     float64 // 0: the source's rate
	Width   int     // 0: the source's size; else scale, keep aspect
	Quality int     // ffmpeg -q:v, 2..31; 0: the camera's quality
}

// ThumbProfile is the name of the built-in profile that the page's wall of
// tiles streams by default.
const ThumbProfile = "thumb"

// MainProfile names a camera's main stream where a profile is expected
// (?profile=main): it is not a profile and cannot be configured.
const MainProfile = "main"

// DefaultProfiles returns the profiles every camera has without config: a
// thumb of 320 px at 5 fps, which costs about a tenth of a full 720p15
// stream on the network.
func DefaultProfiles() []ProfileConfig {
	return []ProfileConfig{{Name: ThumbProfile, Width: 320, FPS: 5, Quality: 7}}
}

// Profile returns the camera's profile called name.
func (c CameraConfig) Profile(name string) (ProfileConfig, bool) {
	for _, p := range c.Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return ProfileConfig{}, false
}

// Equal reports whether c and o configure the camera alike.
func (c CameraConfig) Equal(o CameraConfig) bool {
	if !slices.Equal(c.Profiles, o.Profiles) {
		return false
	}
	c.Profiles, o.Profiles = nil, nil
	return reflect.DeepEqual(c, o) // every other field is comparable
}

// DefaultCameraConfig returns the defaults of DESIGN.md for a camera.
func DefaultCameraConfig(name, rawURL string) CameraConfig {
	return CameraConfig{
		Name:          name,
		URL:           rawURL,
		Quality:       5,
		IdleTimeout:   30 * time.Second,
		StartTimeout:  20 * time.Second,
		StallTimeout:  5 * time.Second,
		RTSPTransport: "tcp",
		Codec:         CodecAuto,
		FFmpeg:        "ffmpeg",
		Profiles:      DefaultProfiles(),
	}
}

var (
	nameRE        = regexp.MustCompile(`^[a-z0-9_-]+$`)
	inputFormatRE = regexp.MustCompile(`^[a-z0-9_]+$`) // ffmpeg's codec and pixel format names
	videoSizeRE   = regexp.MustCompile(`^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$`)
)

// Validate reports the first problem of c, naming the key at fault. Errors
// never hold the camera password.
func (c CameraConfig) Validate() error {
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("name %q: must match [a-z0-9_-]+", c.Name)
	}
	if err := ValidateURL(c.URL); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	switch {
	case c.FPS < 0:
		return fmt.Errorf("fps: %v is negative", c.FPS)
	case c.Width < 0:
		return fmt.Errorf("width: %d is negative", c.Width)
	case c.Quality < 2 || c.Quality > 31:
		return fmt.Errorf("quality: %d is not in 2..31", c.Quality)
	case c.DecoderThreads < 0 || c.DecoderThreads > 64:
		return fmt.Errorf("decoder_threads: %d is not in 0..64 (0: ffmpeg's choice)", c.DecoderThreads)
	case c.OnDemand && c.Standby:
		return fmt.Errorf("when_idle: standby and stop (on_demand) at once")
	case c.IdleTimeout <= 0:
		return fmt.Errorf("idle_timeout: must be positive")
	case c.StartTimeout <= 0:
		return fmt.Errorf("start_timeout: must be positive")
	case c.StallTimeout <= 0:
		return fmt.Errorf("stall_timeout: must be positive")
	}
	switch c.RTSPTransport {
	case "tcp", "udp":
	default:
		return fmt.Errorf("rtsp_transport: %q is not tcp or udp", c.RTSPTransport)
	}
	switch c.Codec {
	case CodecAuto, CodecMJPEG, CodecCopy:
	default:
		return fmt.Errorf("codec: %q is not auto, mjpeg or copy", c.Codec)
	}
	if err := c.validateV4L2(); err != nil {
		return err
	}
	if c.Poll < 0 {
		return fmt.Errorf("poll: %v is negative", c.Poll)
	}
	if c.Poll > 0 {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("poll: only an http(s) camera can be polled (a URL that answers one JPEG), not %s", RedactURL(c.URL))
		}
	}
	seen := make(map[string]bool, len(c.Profiles))
	for _, p := range c.Profiles {
		if seen[p.Name] {
			return fmt.Errorf("profiles: %q twice", p.Name)
		}
		seen[p.Name] = true
		if err := p.Validate(); err != nil {
			return fmt.Errorf("profiles.%s", err)
		}
	}
	return nil
}

// validateV4L2 checks the keys only a webcam has: their values, then that
// the camera is a webcam.
func (c CameraConfig) validateV4L2() error {
	switch {
	case c.InputFormat != "" && !inputFormatRE.MatchString(c.InputFormat):
		return fmt.Errorf("input_format: %q is not a format name, as mjpeg or yuyv422", c.InputFormat)
	case c.VideoSize != "" && !videoSizeRE.MatchString(c.VideoSize):
		return fmt.Errorf("video_size: %q is not WIDTHxHEIGHT, as 1280x720", c.VideoSize)
	case c.Framerate < 0 || math.IsNaN(c.Framerate) || math.IsInf(c.Framerate, 0):
		return fmt.Errorf("framerate: %v is not a positive number", c.Framerate)
	}
	if IsV4L2URL(c.URL) {
		return nil
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"input_format", c.InputFormat != ""}, {"video_size", c.VideoSize != ""}, {"framerate", c.Framerate != 0}} {
		if k.set {
			return fmt.Errorf("%s: only a webcam (url /dev/videoN) has it, not %s", k.key, RedactURL(c.URL))
		}
	}
	return nil
}

// Validate reports the first problem of a profile, as "NAME.key: message".
// Errors never hold the password of its URL.
func (p ProfileConfig) Validate() error {
	switch {
	case !nameRE.MatchString(p.Name):
		return fmt.Errorf("%s: the name must match [a-z0-9_-]+", p.Name)
	case p.Name == MainProfile:
		return fmt.Errorf("%s: %q names the camera's main stream and cannot be a profile", p.Name, MainProfile)
	case p.FPS < 0:
		return fmt.Errorf("%s.fps: %v is negative", p.Name, p.FPS)
	case p.Width < 0:
		return fmt.Errorf("%s.width: %d is negative", p.Name, p.Width)
	case p.Quality != 0 && (p.Quality < 2 || p.Quality > 31):
		return fmt.Errorf("%s.quality: %d is not in 2..31", p.Name, p.Quality)
	}
	if p.URL != "" {
		if err := ValidateURL(p.URL); err != nil {
			return fmt.Errorf("%s.url: %w", p.Name, err)
		}
	}
	return nil
}

// v4l2Dir is where V4L2 device nodes live (/dev/videoN). Tests point it
// at a temporary directory, to make a "device" appear and go at will.
var v4l2Dir = "/dev"

// IsV4L2URL reports whether raw names a V4L2 webcam: /dev/videoN, N a
// number (a bare N is NormalizeURL's business).
func IsV4L2URL(raw string) bool {
	n, ok := strings.CutPrefix(raw, v4l2Dir+"/video")
	return ok && isIndex(n)
}

// isIndex tells a device number: digits only, not absurdly many.
func isIndex(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// NormalizeURL returns a camera URL as the daemon keeps and shows it: the
// bare index of a webcam, as "0" (what OpenCV's VideoCapture(0) took),
// becomes /dev/video0; anything else is returned as it is.
func NormalizeURL(raw string) string {
	s := strings.TrimSpace(raw)
	if !isIndex(s) {
		return raw
	}
	n, _ := strconv.Atoi(s) // cannot fail: at most 6 digits
	return "/dev/video" + strconv.Itoa(n)
}

// ValidateURL accepts rtsp, rtsps, http, https and file URLs with what each
// needs, and a webcam: /dev/videoN or its bare index N. The error never
// quotes the password.
func ValidateURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("empty")
	}
	if IsV4L2URL(NormalizeURL(raw)) {
		return nil
	}
	if strings.HasPrefix(raw, "/") {
		return fmt.Errorf("%q is not a webcam: want /dev/videoN (N a number; the bare index N means /dev/videoN), or file:///path for a video file", RedactURL(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q does not parse as a URL", RedactURL(raw))
	}
	switch u.Scheme {
	case "rtsp", "rtsps", "http", "https":
		if u.Hostname() == "" {
			return fmt.Errorf("%q has no host", RedactURL(raw))
		}
	case "file":
		if u.Path == "" && u.Opaque == "" {
			return fmt.Errorf("%q has no path", RedactURL(raw))
		}
	case "":
		return fmt.Errorf("%q has no scheme (want rtsp://, rtsps://, http://, https://, file://, or /dev/videoN for a webcam)", RedactURL(raw))
	default:
		return fmt.Errorf("scheme %q is not supported (want rtsp, rtsps, http, https or file)", u.Scheme)
	}
	return nil
}
