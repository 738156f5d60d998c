package pipeline

import (
	"net/url"
	"strconv"
	"strings"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// This is the only file that imports ffmpeg-go: it builds the argument list
// and nothing else (its Run/Compile helpers log the command line with the
// password and cannot be stopped cleanly; see shared/notes/ffmpeg-go.md).

// globalArgs go first: ffmpeg-go's GlobalArgs would put them after the output.
var globalArgs = []string{"-hide_banner", "-nostdin", "-loglevel", "warning"}

// BuildArgs returns ffmpeg's arguments (without the program name) for a
// camera: read its URL, write image2pipe MJPEG to stdout.
func BuildArgs(c CameraConfig) []string { return buildArgs(c, false) }

// buildArgs is BuildArgs with a choice of stream probing. The short probe
// saves about 0.4 s of every start; it fails on a camera whose SDP does not
// carry the video size, and the camera then retries with the long one.
func buildArgs(c CameraConfig, longProbe bool) []string {
	in := inputArgs(c, longProbe)
	if c.Codec != CodecCopy && c.FPS > 0 && c.FPS <= 1 {
		// A camera for snapshots: decode keyframes only. Decoding is most of
		// ffmpeg's cost; this cut a 720p15 GOP-15 camera from 2.0 to 0.4
		// CPU-s per 20 s of video. The fps filter then repeats keyframes to
		// keep the output rate.
		in["skip_frame"] = "nokey"
	}
	// passthrough: each decoded frame goes out at once. The default for
	// image2pipe makes a constant rate from the timestamps, which after a
	// camera freezes holds frames back for seconds.
	out := ffmpeg.KwArgs{"an": "", "f": "image2pipe", "fps_mode": "passthrough"}
	if c.Codec == CodecCopy {
		// Stream copy cannot be filtered: fps and width do not apply.
		out["c:v"] = "copy"
	} else {
		out["c:v"] = "mjpeg"
		out["q:v"] = strconv.Itoa(c.Quality)
		// One encoder thread: frame threads hold each JPEG back until the
		// next frame arrives (67 ms more delay at 15 fps, and on the first
		// frame). One thread encodes 1080p at about 70 fps and 4K at about
		// 22 here; faster 4K cameras need width or fps to cap the work.
		out["threads"] = "1"
		if vf := videoFilter(c); vf != "" {
			out["vf"] = vf
		}
	}
	args := ffmpeg.Input(inputTarget(c.URL), in).Output("pipe:1", out).GetArgs()
	return append(append([]string(nil), globalArgs...), args...)
}

// inputArgs picks input options by scheme: ffmpeg 5.1 refuses RTSP options
// on a file input and the reverse.
func inputArgs(c CameraConfig, longProbe bool) ffmpeg.KwArgs {
	kw := ffmpeg.KwArgs{}
	scheme := strings.ToLower(schemeOf(c.URL))
	switch scheme {
	case "rtsp", "rtsps":
		kw["rtsp_transport"] = c.RTSPTransport
		// -timeout is the only RTSP socket timeout that works in 5.1 (µs).
		kw["timeout"] = strconv.FormatInt(c.StallTimeout.Microseconds(), 10)
	case "http", "https":
		kw["timeout"] = strconv.FormatInt(c.StallTimeout.Microseconds(), 10)
	case "file":
		// Read at the native rate and loop, like a camera would.
		kw["re"] = ""
		kw["stream_loop"] = "-1"
		return kw
	}
	// No stream analysis: the SDP of an RTSP camera already says what the
	// stream is, and analysing it costs most of a cold start. low_delay
	// also keeps the decoder off frame threads, which hold frames back.
	kw["flags"] = "low_delay"
	if longProbe {
		kw["probesize"] = "1000000"
		kw["analyzeduration"] = "1000000"
		// A second of probed packets would be decoded late: drop them.
		kw["fflags"] = "nobuffer"
	} else {
		// Not -fflags nobuffer here: it drops the few packets read while
		// probing, which often hold the first keyframe, so the first
		// frame came a whole keyframe interval later (GOP 4 at 15 fps:
		// 500 ms from exec to the first JPEG instead of 250 ms).
		kw["probesize"] = "32"
		kw["analyzeduration"] = "0"
	}
	return kw
}

// ProbeArgs returns ffprobe's arguments to print the codec name of the
// camera's first video stream, with the same input options as ffmpeg.
func ProbeArgs(c CameraConfig) []string {
	args := []string{"-hide_banner", "-v", "error"}
	in := inputArgs(c, false)
	delete(in, "re") // ffprobe reads only the header of a file
	delete(in, "stream_loop")
	// ffmpeg-go sorts the options; reuse it and drop its trailing output.
	inArgs := ffmpeg.Input(inputTarget(c.URL), in).Output("-", ffmpeg.KwArgs{}).GetArgs()
	inArgs = inArgs[:len(inArgs)-1]
	for i := 0; i < len(inArgs); i++ {
		if inArgs[i] == "-i" { // ffprobe takes the input last, without -i
			continue
		}
		args = append(args, inArgs[i])
	}
	return append(args[:len(args)-1:len(args)-1], "-select_streams", "v:0",
		"-show_entries", "stream=codec_name", "-of", "default=nw=1:nk=1", inputTarget(c.URL))
}

func videoFilter(c CameraConfig) string {
	var f []string
	if c.FPS > 0 {
		f = append(f, "fps="+strconv.FormatFloat(c.FPS, 'f', -1, 64))
	}
	if c.Width > 0 {
		// -2 keeps the height even, as 4:2:0 chroma needs.
		f = append(f, "scale="+strconv.Itoa(c.Width)+":-2")
	}
	return strings.Join(f, ",")
}

func schemeOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Scheme
	}
	return ""
}

// inputTarget turns file:// URLs into the plain path ffmpeg expects.
func inputTarget(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme == "file" {
		if u.Path != "" {
			return u.Path
		}
		return u.Opaque
	}
	return raw
}

// RedactArgs returns args with the camera URL's password masked, for logs.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if i > 0 && args[i-1] == "-i" {
			a = RedactURL(a)
		}
		out[i] = a
	}
	return out
}
