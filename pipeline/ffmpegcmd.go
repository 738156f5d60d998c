package pipeline

import (
	"strconv"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// This is the only file that imports ffmpeg-go: it builds the argument list
// and nothing else (its Run/Compile helpers log the command line with the
// password and cannot be stopped cleanly; see shared/notes/ffmpeg-go.md).

// globalArgs go first: ffmpeg-go's GlobalArgs would put them after the output.
var globalArgs = []string{"-hide_banner", "-nostdin", "-loglevel", "warning"}

// BuildArgs returns ffmpeg's arguments (without the program name) for a
// camera: read its URL, write image2pipe MJPEG to stdout, and each of its
// profiles without a URL of their own to one more pipe (pipe:3, pipe:4...,
// in the order of OutputProfiles). ffmpeg decodes the camera once and
// feeds the decoded frames to every output. With codec copy there is no
// decoding, and no profile output: see transcode.go.
func BuildArgs(c CameraConfig) []string { return buildArgs(c, false) }

// OutputProfiles returns the profiles of c that are outputs of its own
// ffmpeg (no URL of their own), in the order of their pipes.
func OutputProfiles(c CameraConfig) []ProfileConfig {
	var out []ProfileConfig
	for _, p := range c.Profiles {
		if p.URL == "" {
			out = append(out, p)
		}
	}
	return out
}

// firstProfileFD is the file descriptor of the first profile's pipe in
// ffmpeg (0, 1 and 2 are stdin, stdout and stderr).
const firstProfileFD = 3

// buildArgs is BuildArgs with a choice of stream probing. The short probe
// saves about 0.4 s of every start; it fails on a camera whose SDP does not
// carry the video size, and the camera then retries with the long one.
func buildArgs(c CameraConfig, longProbe bool) []string {
	opts, target := sourceFor(c.URL).input(c, longProbe)
	in := ffmpeg.KwArgs{}
	for k, v := range opts {
		in[k] = v
	}
	decoderThreads(in, c)
	var profiles []ProfileConfig
	if c.Codec != CodecCopy { // a copy camera's profiles are transcoded while watched (transcode.go)
		profiles = OutputProfiles(c)
	}
	if keyframesOnly(c, profiles) {
		// A camera for snapshots: decode keyframes only. Decoding is most of
		// ffmpeg's cost; this cut a 720p15 GOP-15 camera from 2.0 to 0.4
		// CPU-s per 20 s of video. The fps filter then repeats keyframes to
		// keep the output rate.
		in["skip_frame"] = "nokey"
	}
	input := ffmpeg.Input(target, in)
	outs := []*ffmpeg.Stream{input.Output("pipe:1", outputArgs(c.Codec, c.FPS, c.Width, c.Quality))}
	for i, p := range profiles {
		q := p.Quality
		if q == 0 {
			q = c.Quality
		}
		p.FPS = profileFPS(c, p)
		// A profile is always encoded: it exists to be smaller or slower.
		outs = append(outs, input.Output("pipe:"+strconv.Itoa(firstProfileFD+i), outputArgs(CodecMJPEG, p.FPS, p.Width, q)))
	}
	args := ffmpeg.MergeOutputs(outs...).GetArgs()
	return append(append([]string(nil), globalArgs...), args...)
}

// StandbyArgs returns the arguments of a camera's ffmpeg in standby
// (DESIGN.md "Idle behaviour"): it decodes keyframes only (skip_frame
// nokey), each written at once to stdout and to each profile's pipe (no
// fps filter: one JPEG per keyframe, at the profile's width), and copies
// the camera's video, undecoded, as MPEG-TS to the pipe after the
// profiles', from which a viewer's decoder starts (DecoderArgs).
func StandbyArgs(c CameraConfig) []string { return standbyArgs(c, false) }

func standbyArgs(c CameraConfig, longProbe bool) []string {
	opts, target := sourceFor(c.URL).input(c, longProbe)
	in := ffmpeg.KwArgs{"skip_frame": "nokey"}
	for k, v := range opts {
		in[k] = v
	}
	decoderThreads(in, c)
	input := ffmpeg.Input(target, in)
	profiles := OutputProfiles(c)
	outs := []*ffmpeg.Stream{input.Output("pipe:1", outputArgs(CodecMJPEG, 0, c.Width, c.Quality))}
	for i, p := range profiles {
		outs = append(outs, input.Output("pipe:"+strconv.Itoa(firstProfileFD+i), outputArgs(CodecMJPEG, 0, p.Width, profileQuality(c, p))))
	}
	// Each packet out at once: the muxer otherwise holds packets up to
	// 0.7 s (max_delay) and the pipe up to its 32 KiB buffer, and a
	// viewer's decoder would start, and stay, that much behind.
	ts := ffmpeg.KwArgs{"map": "0:v:0", "c:v": "copy", "an": "", "f": "mpegts", "muxdelay": "0", "muxpreload": "0", "flush_packets": "1"}
	// The stream's headers again before each keyframe, from the input's
	// extradata: a camera may send them only in its SDP, and a decoder
	// that joins the copy at a keyframe needs them. The MPEG-TS muxer
	// adds H.264's SPS/PPS itself, but not MPEG-4 Part 2's VOL header
	// (without it the viewers' decoder fails, and they get keyframes
	// only). Not on a looping file: ffmpeg 5.1 ends a bitstream filter
	// at the first loop, and the copy with it.
	if _, loops := opts["stream_loop"]; !loops {
		ts["bsf:v"] = "dump_extra=freq=keyframe"
	}
	outs = append(outs, input.Output("pipe:"+strconv.Itoa(firstProfileFD+len(profiles)), ts))
	args := ffmpeg.MergeOutputs(outs...).GetArgs()
	return append(append([]string(nil), globalArgs...), args...)
}

// DecoderArgs returns the arguments of the decoder a camera in standby
// runs for its viewers: the MPEG-TS copy of its stream on stdin (from its
// last keyframe, then live), decoded whole, with the outputs of a camera
// at full rate (BuildArgs: stdout and one pipe per profile).
func DecoderArgs(c CameraConfig) []string { return decoderArgs(c, 0) }

// decoderArgs is DecoderArgs whose outputs drop the first skip of the
// stream (-ss as an output option: decoded, not shown): the frames of the
// GOP that are older than the viewer's newest keyframe.
func decoderArgs(c CameraConfig, skip time.Duration) []string {
	// No stream analysis: the PMT says what the stream is, and the first
	// packet is a keyframe. Not -fflags nobuffer: it drops the packets read
	// while probing, the keyframe among them, and the decoder then waited
	// for the camera's next one (0.85 s at 640x360, GOP 15 at 15 fps).
	in := ffmpeg.KwArgs{"f": "mpegts", "analyzeduration": "0", "probesize": "32", "flags": "low_delay"}
	decoderThreads(in, c)
	input := ffmpeg.Input("pipe:0", in)
	out := func(fps float64, width, q int) ffmpeg.KwArgs {
		kw := outputArgs(CodecMJPEG, fps, width, q)
		if skip > 0 {
			kw["ss"] = strconv.FormatFloat(skip.Seconds(), 'f', 3, 64)
		}
		return kw
	}
	outs := []*ffmpeg.Stream{input.Output("pipe:1", out(c.FPS, c.Width, c.Quality))}
	for i, p := range OutputProfiles(c) {
		p.FPS = profileFPS(c, p)
		outs = append(outs, input.Output("pipe:"+strconv.Itoa(firstProfileFD+i), out(p.FPS, p.Width, profileQuality(c, p))))
	}
	args := ffmpeg.MergeOutputs(outs...).GetArgs()
	return append(append([]string(nil), globalArgs...), args...)
}

// decoderThreads sets the decoder's -threads (an input option) when the
// camera asks for a number; a stream copy decodes nothing.
func decoderThreads(in ffmpeg.KwArgs, c CameraConfig) {
	if c.DecoderThreads > 0 && c.Codec != CodecCopy {
		in["threads"] = strconv.Itoa(c.DecoderThreads)
	}
}

// profileQuality is a profile's JPEG quality: its own, else the camera's.
func profileQuality(c CameraConfig, p ProfileConfig) int {
	if p.Quality != 0 {
		return p.Quality
	}
	return c.Quality
}

// profileFPS is the rate of a profile written by the camera's ffmpeg: its
// own, but never above the camera's own cap (fps), since a profile is a
// smaller or slower copy. So the built-in thumb (5 fps) does not make a
// camera capped at 1 fps for snapshots decode every frame.
func profileFPS(c CameraConfig, p ProfileConfig) float64 {
	if c.Codec != CodecCopy && c.FPS > 0 && (p.FPS == 0 || p.FPS > c.FPS) {
		return c.FPS
	}
	return p.FPS
}

// keyframesOnly tells whether every output that decodes runs at 1 fps or
// less, so that ffmpeg may skip all but the keyframes.
func keyframesOnly(c CameraConfig, profiles []ProfileConfig) bool {
	var rates []float64
	if c.Codec != CodecCopy {
		rates = append(rates, c.FPS)
	}
	for _, p := range profiles {
		rates = append(rates, profileFPS(c, p))
	}
	for _, r := range rates {
		if r <= 0 || r > 1 {
			return false
		}
	}
	return len(rates) > 0
}

// outputArgs are the options of one image2pipe output.
func outputArgs(codec string, fps float64, width, quality int) ffmpeg.KwArgs {
	// passthrough: each decoded frame goes out at once. The default for
	// image2pipe makes a constant rate from the timestamps, which after a
	// camera freezes holds frames back for seconds.
	out := ffmpeg.KwArgs{"an": "", "f": "image2pipe", "fps_mode": "passthrough"}
	if codec == CodecCopy {
		// Stream copy cannot be filtered: fps and width do not apply.
		out["c:v"] = "copy"
		return out
	}
	out["c:v"] = "mjpeg"
	out["q:v"] = strconv.Itoa(quality)
	// One encoder thread: frame threads hold each JPEG back until the
	// next frame arrives (67 ms more delay at 15 fps, and on the first
	// frame). One thread encodes 1080p at about 70 fps and 4K at about
	// 22 here; faster 4K cameras need width or fps to cap the work.
	out["threads"] = "1"
	if vf := videoFilter(fps, width); vf != "" {
		out["vf"] = vf
	}
	return out
}

// ProbeArgs returns ffprobe's arguments to print the codec name of the
// camera's first video stream, with the same input options as ffmpeg.
func ProbeArgs(c CameraConfig) []string {
	args := []string{"-hide_banner", "-v", "error"}
	opts, target := sourceFor(c.URL).input(c, false)
	in := ffmpeg.KwArgs{}
	for k, v := range opts {
		in[k] = v
	}
	delete(in, "re") // ffprobe reads only the header of a file
	delete(in, "stream_loop")
	// ffmpeg-go sorts the options; reuse it and drop its trailing output.
	inArgs := ffmpeg.Input(target, in).Output("-", ffmpeg.KwArgs{}).GetArgs()
	inArgs = inArgs[:len(inArgs)-1]
	for i := 0; i < len(inArgs); i++ {
		if inArgs[i] == "-i" { // ffprobe takes the input last, without -i
			continue
		}
		args = append(args, inArgs[i])
	}
	return append(args[:len(args)-1:len(args)-1], "-select_streams", "v:0",
		"-show_entries", "stream=codec_name", "-of", "default=nw=1:nk=1", target)
}

// listFormatsArgs returns ffmpeg's arguments to print the formats and
// frame sizes a V4L2 device offers (on stderr, at the default log level;
// then ffmpeg exits with status 1).
func listFormatsArgs(device string) []string {
	args := ffmpeg.Input(device, ffmpeg.KwArgs{"f": "v4l2", "list_formats": "all"}).Output("-", ffmpeg.KwArgs{}).GetArgs()
	return append([]string{"-hide_banner", "-nostdin"}, args[:len(args)-1]...) // no output
}

// videoFilter caps the rate first, so that only the frames kept are scaled.
func videoFilter(fps float64, width int) string {
	var f []string
	if fps > 0 {
		f = append(f, "fps="+strconv.FormatFloat(fps, 'f', -1, 64))
	}
	if width > 0 {
		// -2 keeps the height even, as 4:2:0 chroma needs.
		f = append(f, "scale="+strconv.Itoa(width)+":-2")
	}
	return strings.Join(f, ",")
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

// TranscodeArgs returns the arguments of the ffmpeg that makes profile p
// of a codec-copy camera from the camera's own JPEGs, written to its stdin
// at the profile's rate (the daemon drops the others before they cost a
// decode), and writes the profile's JPEGs to stdout.
func TranscodeArgs(p ProfileConfig, quality int) []string {
	if p.Quality != 0 {
		quality = p.Quality
	}
	// No fps filter: the frames come at the profile's rate already.
	out := outputArgs(CodecMJPEG, 0, p.Width, quality)
	args := ffmpeg.Input("pipe:0", ffmpeg.KwArgs{"f": "mjpeg"}).Output("pipe:1", out).GetArgs()
	return append(append([]string(nil), globalArgs...), args...)
}

// Invocation is one run of ffmpeg or ffprobe that the daemon may start.
type Invocation struct {
	Name    string   // which run: "run", "standby/long-probe", "decoder", "transcode/thumb"...
	Program string   // "ffmpeg" or "ffprobe"
	Args    []string // without the program name
	// Stdin is what the daemon writes to its stdin: "" (nothing), "mpegts"
	// (standby's copy of the camera's stream) or "mjpeg" (the camera's JPEGs).
	Stdin string
	// JPEGFDs are the descriptors its JPEGs come out of (1, then 3, 4...
	// for profiles); TSFD is that of standby's MPEG-TS copy, or 0.
	JPEGFDs []int
	TSFD    int
}

// Invocations lists every run of ffmpeg and ffprobe the daemon may start
// for camera c, with the arguments it would pass: the camera's own run
// with the short and the long probe, in standby and its viewers' decoder
// (with and without skipping the GOP's past), the codec probe, a webcam's
// format listing, and the transcoders of a codec-copy camera's profiles.
// deploy/ffmpeg's test runs each of them against the slim ffmpeg built for
// the image, so that an option or a component the build lacks fails there:
// a new kind of run belongs here too.
func Invocations(c CameraConfig) []Invocation {
	fds := func(n int) []int {
		out := []int{1}
		for i := range n {
			out = append(out, firstProfileFD+i)
		}
		return out
	}
	var runs []Invocation
	profiles := 0
	if c.Codec != CodecCopy {
		profiles = len(OutputProfiles(c))
	}
	runs = append(runs,
		Invocation{Name: "run", Program: "ffmpeg", Args: buildArgs(c, false), JPEGFDs: fds(profiles)},
		Invocation{Name: "run/long-probe", Program: "ffmpeg", Args: buildArgs(c, true), JPEGFDs: fds(profiles)},
		Invocation{Name: "probe", Program: "ffprobe", Args: ProbeArgs(c)})
	src := sourceFor(c.URL)
	if standbyMatters(c, src.kind(c)) { // when_idle: standby may run it (with any when_idle set)
		ts := firstProfileFD + profiles
		runs = append(runs,
			Invocation{Name: "standby", Program: "ffmpeg", Args: standbyArgs(c, false), JPEGFDs: fds(profiles), TSFD: ts},
			Invocation{Name: "standby/long-probe", Program: "ffmpeg", Args: standbyArgs(c, true), JPEGFDs: fds(profiles), TSFD: ts},
			Invocation{Name: "decoder", Program: "ffmpeg", Args: decoderArgs(c, 0), Stdin: "mpegts", JPEGFDs: fds(profiles)},
			Invocation{Name: "decoder/skip", Program: "ffmpeg", Args: decoderArgs(c, 300*time.Millisecond), Stdin: "mpegts", JPEGFDs: fds(profiles)})
	}
	if v, ok := src.(*v4l2Source); ok {
		runs = append(runs, Invocation{Name: "list-formats", Program: "ffmpeg", Args: listFormatsArgs(v.device)})
	}
	if c.Codec == CodecCopy {
		for _, p := range OutputProfiles(c) {
			runs = append(runs, Invocation{Name: "transcode/" + p.Name, Program: "ffmpeg", Args: TranscodeArgs(p, c.Quality), Stdin: "mjpeg", JPEGFDs: fds(0)})
		}
	}
	return runs
}
