package pipeline

import (
	"fmt"
	"net/url"
	"regexp"
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
	Name          string
	URL           string
	FPS           float64 // 0: the camera's rate; else ffmpeg caps output fps
	Width         int     // 0: the camera's size; else scale, keep aspect
	Quality       int     // ffmpeg -q:v, 2 (best) .. 31
	OnDemand      bool
	IdleTimeout   time.Duration
	StartTimeout  time.Duration
	StallTimeout  time.Duration
	RTSPTransport string // tcp|udp
	Codec         string // auto|mjpeg|copy
	FFmpeg        string // path to the ffmpeg binary
	FFprobe       string // path to ffprobe, for codec auto; "" re-encodes
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
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

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
	return nil
}

// ValidateURL accepts rtsp, rtsps, http, https and file URLs with what each
// needs. The error never quotes the password.
func ValidateURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("empty")
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
		return fmt.Errorf("%q has no scheme (want rtsp://, rtsps://, http://, https:// or file://)", RedactURL(raw))
	default:
		return fmt.Errorf("scheme %q is not supported (want rtsp, rtsps, http, https or file)", u.Scheme)
	}
	return nil
}
