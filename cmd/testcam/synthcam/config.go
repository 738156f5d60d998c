// Package synthcam is a synthetic RTSP camera for tests, benchmarks and
// `rtsp2mjpeg --demo`.
//
// A Camera is an RTSP server (gortsplib) on a loopback address. An ffmpeg
// child process renders a moving test pattern (testsrc2), encodes it as H.264
// or MJPEG and publishes it (ANNOUNCE+RECORD over TCP) on an internal, random
// path; the server relays that stream to any number of readers
// (DESCRIBE+SETUP+PLAY) on the public path, "/stream" by default.
//
// Faults can be injected: Pause freezes the publisher (SIGSTOP: connections
// stay open, no packet flows), Reboot/Stop take the whole camera off the
// network (listener and every session closed, connections refused) and bring
// it back on the same port.
//
// Readers use RTSP over TCP (interleaved) unless Config.UDP is set. A
// reader that asks for UDP then first gets 461 Unsupported Transport, after
// which ffmpeg and gortsplib clients retry with TCP on their own.
package synthcam

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/sirupsen/logrus"
)

// Defaults applied by Start to zero Config fields.
const (
	DefaultWidth        = 640
	DefaultHeight       = 360
	DefaultFPS          = 15
	DefaultCodec        = "h264"
	DefaultAddr         = "127.0.0.1:0"
	DefaultPath         = "/stream"
	DefaultStartTimeout = 10 * time.Second
)

// Config configures a Camera. The zero value is a valid 640x360 15 fps H.264
// camera on a free loopback port.
type Config struct {
	Width, Height int // frame size, default 640x360
	FPS           int // frame rate, default 15
	// Codec is "h264" (default), "mjpeg", "hevc" (H.265, its VPS/SPS/PPS
	// in the SDP only, as some cameras send it) or "mpeg4" (MPEG-4 Part 2,
	// as older cameras send it: its VOL header in the SDP only). hevc and
	// mpeg4 need an ffmpeg with libx265 and the mpeg4 encoder (Debian's).
	Codec string
	// GOP is the keyframe interval in frames (not mjpeg); default FPS, i.e.
	// one keyframe a second.
	GOP int
	// Addr is the listen address, default "127.0.0.1:0" (a free port chosen
	// by the OS; the port is then kept across Reboot/Stop/Restart).
	Addr string
	// FFmpeg is the ffmpeg executable, default "ffmpeg" from PATH.
	FFmpeg string
	// Log receives the camera's events and ffmpeg's stderr; nil discards.
	Log *logrus.Entry
	// Path is the public path readers use, default "/stream".
	Path string
	// AnyPath makes the camera serve readers on any path. By default, as a
	// real camera, it answers 404 Not Found to other paths.
	AnyPath bool
	// User and Pass, when User is set, make readers authenticate (401 with
	// WWW-Authenticate, then Basic or Digest). The publisher does not: its
	// path is internal and random.
	User, Pass string
	// AuthMethod selects the schemes offered when User is set: "" or "any"
	// (Basic and Digest MD5; ffmpeg picks Digest), "basic" or "digest".
	AuthMethod string
	// StartTimeout bounds how long Start, Restart and Reboot wait for the
	// first packet from the publisher; default 10 s.
	StartTimeout time.Duration
	// Audio adds a sound track, as most IP cameras send one: "" (none),
	// "pcm_alaw" (G.711 A-law, 8 kHz mono, the usual camera default) or
	// "aac" (16 kHz mono). It needs an ffmpeg with that encoder (Debian's).
	Audio string
	// UDP also serves readers RTP over UDP (a pair of loopback ports, RTP
	// even, RTCP odd, chosen at Start and kept across Reboot).
	UDP bool
}

func (cfg *Config) applyDefaults() error {
	if cfg.Width == 0 && cfg.Height == 0 {
		cfg.Width, cfg.Height = DefaultWidth, DefaultHeight
	}
	if cfg.FPS == 0 {
		cfg.FPS = DefaultFPS
	}
	cfg.Codec = strings.ToLower(strings.TrimSpace(cfg.Codec))
	switch cfg.Codec {
	case "":
		cfg.Codec = DefaultCodec
	case "h264", "mjpeg", "hevc", "mpeg4":
	case "h265", "h.265":
		cfg.Codec = "hevc"
	case "avc", "h.264":
		cfg.Codec = "h264"
	case "jpeg", "mjpg":
		cfg.Codec = "mjpeg"
	default:
		return fmt.Errorf("synthcam: unsupported codec %q (want h264, mjpeg, hevc or mpeg4)", cfg.Codec)
	}
	switch cfg.Audio = strings.ToLower(strings.TrimSpace(cfg.Audio)); cfg.Audio {
	case "", "pcm_alaw", "aac":
	case "g711", "alaw":
		cfg.Audio = "pcm_alaw"
	default:
		return fmt.Errorf("synthcam: unsupported audio %q (want pcm_alaw or aac)", cfg.Audio)
	}
	if cfg.GOP == 0 {
		cfg.GOP = cfg.FPS
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	cfg.Path = normPath(cfg.Path)
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}

	switch {
	case cfg.Width <= 0 || cfg.Height <= 0:
		return fmt.Errorf("synthcam: invalid size %dx%d", cfg.Width, cfg.Height)
	case cfg.Width%2 != 0 || cfg.Height%2 != 0:
		return fmt.Errorf("synthcam: size %dx%d: width and height must be even", cfg.Width, cfg.Height)
	case cfg.Codec == "mjpeg" && (cfg.Width%8 != 0 || cfg.Height%8 != 0 || cfg.Width > 2040 || cfg.Height > 2040):
		// RFC 2435 (JPEG over RTP) carries width/8 and height/8 in one byte each.
		return fmt.Errorf("synthcam: size %dx%d: mjpeg over RTP needs multiples of 8 up to 2040", cfg.Width, cfg.Height)
	case cfg.FPS < 1 || cfg.FPS > 240:
		return fmt.Errorf("synthcam: invalid fps %d", cfg.FPS)
	case cfg.GOP < 1:
		return fmt.Errorf("synthcam: invalid gop %d", cfg.GOP)
	}
	if _, err := cfg.authMethods(); err != nil {
		return err
	}
	return nil
}

func (cfg *Config) authMethods() ([]auth.ValidateMethod, error) {
	switch strings.ToLower(cfg.AuthMethod) {
	case "", "any":
		// Not SHA-256: ffmpeg takes the last Digest challenge it is offered
		// and cannot answer a SHA-256 one.
		return []auth.ValidateMethod{auth.ValidateMethodBasic, auth.ValidateMethodDigestMD5}, nil
	case "basic":
		return []auth.ValidateMethod{auth.ValidateMethodBasic}, nil
	case "digest":
		return []auth.ValidateMethod{auth.ValidateMethodDigestMD5}, nil
	default:
		return nil, fmt.Errorf("synthcam: unsupported auth method %q (want any, basic or digest)", cfg.AuthMethod)
	}
}

// ffmpegArgs returns the publisher's command line, publishing to target.
func (cfg *Config) ffmpegArgs(target string) []string {
	src := fmt.Sprintf("testsrc2=size=%dx%d:rate=%d,realtime", cfg.Width, cfg.Height, cfg.FPS)
	args := []string{
		"-hide_banner", "-nostdin", "-loglevel", "warning",
		// realtime paces the source at wall-clock speed; unlike -re it resets
		// (no burst) after the process was stopped for more than 2 s.
		"-f", "lavfi", "-i", src,
	}
	switch cfg.Audio {
	case "":
		args = append(args, "-an")
	case "pcm_alaw":
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000,arealtime",
			"-map", "0:v", "-map", "1:a", "-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1")
	case "aac":
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000,arealtime",
			"-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "32k", "-ar", "16000", "-ac", "1")
	}
	switch cfg.Codec {
	case "mjpeg":
		// -huffman default: the optimal tables ffmpeg builds otherwise cannot
		// be signalled in RFC 2435 RTP/JPEG.
		args = append(args, "-c:v", "mjpeg", "-huffman", "default", "-force_duplicated_matrix", "1",
			"-q:v", "5", "-pix_fmt", "yuvj420p")
	case "hevc":
		// The RTSP muxer asks for global headers: VPS/SPS/PPS go into the
		// SDP's sprop-* only, not before each keyframe.
		gop := fmt.Sprint(cfg.GOP)
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-tune", "zerolatency",
			"-x265-params", "keyint="+gop+":min-keyint="+gop+":scenecut=0:log-level=error", "-pix_fmt", "yuv420p")
	case "mpeg4":
		// The RTSP muxer asks for global headers: the VOL goes into the
		// SDP's config= only, which is what makes such a camera hard.
		gop := fmt.Sprint(cfg.GOP)
		args = append(args, "-c:v", "mpeg4", "-g", gop, "-q:v", "5", "-pix_fmt", "yuv420p")
	default:
		gop := fmt.Sprint(cfg.GOP)
		args = append(args,
			"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
			"-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
			"-pix_fmt", "yuv420p",
			// SPS/PPS in band before each keyframe too, as cameras do, not only
			// in the SDP.
			"-bsf:v", "dump_extra",
		)
	}
	return append(args, "-f", "rtsp", "-rtsp_transport", "tcp", target)
}

func normPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

// Errors returned by Camera methods.
var (
	ErrClosed = errors.New("synthcam: camera closed")
	ErrDown   = errors.New("synthcam: camera is down")
)
