// Package ffmpegcheck tests an ffmpeg build against what the daemon asks of
// it: every argv the daemon builds (pipeline.Invocations) for every source
// kind, codec, profile and idle mode is run against real inputs on
// 127.0.0.1, and each must give what the daemon reads from it.
//
// By default the ffmpeg and ffprobe on PATH are tested (Debian's package,
// for people who run the binary directly). RTSP2MJPEG_TEST_FFMPEG_DIR
// names a directory holding the slim build of the image instead:
// scripts/slim-ffmpeg.sh builds it with build.sh and configure-flags (the
// Dockerfile's ffmpeg stage runs the same two files) and runs this test.
package ffmpegcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dirEnv names the directory of the ffmpeg and ffprobe under test.
const dirEnv = "RTSP2MJPEG_TEST_FFMPEG_DIR"

// binaries returns the ffmpeg and ffprobe under test.
func binaries(t *testing.T) (ffmpegPath, ffprobePath string) {
	t.Helper()
	if dir := os.Getenv(dirEnv); dir != "" {
		ffmpegPath, ffprobePath = filepath.Join(dir, "ffmpeg"), filepath.Join(dir, "ffprobe")
		for _, p := range []string{ffmpegPath, ffprobePath} {
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("%s=%s: %v", dirEnv, dir, err)
			}
		}
		return ffmpegPath, ffprobePath
	}
	var err error
	if ffmpegPath, err = exec.LookPath("ffmpeg"); err != nil {
		t.Fatalf("ffmpeg: %v (run scripts/setup.sh)", err)
	}
	if ffprobePath, err = exec.LookPath("ffprobe"); err != nil {
		t.Fatalf("ffprobe: %v (run scripts/setup.sh)", err)
	}
	return ffmpegPath, ffprobePath
}

// missingRE matches what ffmpeg prints when the build lacks a component or
// an option the argv names. Configure leaves out a misspelt component
// without a word, so only a run shows it.
var missingRE = regexp.MustCompile(`Unrecognized option|Option \S+ not found|Unknown encoder|Unknown decoder|Unknown input format|Unknown output format|Requested output format|No such filter|Protocol not found|Bitstream filter not found|(Decoder|Encoder) \S+ not found|Could not find tag for codec|Filter not found|Unable to find a suitable output format|Invalid data found when processing input`)

// TestComponents checks the build's component lists, by their runtime
// names, against what the daemon, its demo and the headroom for real
// cameras that issue 13 names need.
func TestComponents(t *testing.T) {
	ffmpegPath, _ := binaries(t)
	list := func(kind string) map[string]bool {
		out, err := exec.Command(ffmpegPath, "-hide_banner", "-"+kind).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg -%s: %v\n%s", kind, err, out)
		}
		names := map[string]bool{}
		body := false
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			switch kind {
			case "protocols", "bsfs":
				// a bare name a line, under headings ending in ':'
				if len(f) == 1 && !strings.HasSuffix(f[0], ":") {
					names[f[0]] = true
				}
				continue
			}
			if len(f) >= 2 && body {
				for _, n := range strings.Split(f[1], ",") {
					names[n] = true
				}
			}
			if strings.HasPrefix(strings.TrimSpace(line), "--") || strings.HasPrefix(strings.TrimSpace(line), "=") {
				body = true // the legend ends
			}
		}
		if kind == "filters" { // " T.C fps  V->V  Force constant framerate.": no "--" line
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) >= 3 && strings.Contains(f[2], "->") {
					names[f[1]] = true
				}
			}
		}
		return names
	}
	need := map[string][]string{
		"protocols": {"file", "pipe", "tcp", "udp", "http", "https", "tls", "rtp"},
		"demuxers":  {"rtsp", "sdp", "rtp", "mjpeg", "mpjpeg", "image2", "image2pipe", "jpeg_pipe", "mov", "matroska", "mpegts", "h264", "hevc", "v4l2", "lavfi"},
		"decoders":  {"h264", "hevc", "mjpeg", "mpeg4", "rawvideo", "wrapped_avframe"},
		"encoders":  {"mjpeg", "libx264", "wrapped_avframe"},
		"muxers":    {"image2pipe", "null", "mpegts", "rtsp", "rtp"},
		"bsfs":      {"h264_mp4toannexb", "hevc_mp4toannexb", "extract_extradata", "dump_extra"},
		"filters":   {"fps", "scale", "split", "format", "null", "testsrc2", "realtime"},
	}
	for kind, names := range need {
		have := list(kind)
		for _, n := range names {
			if !have[n] {
				t.Errorf("ffmpeg -%s lacks %s (configure-flags takes configure's names: dump_extradata, image_jpeg_pipe...)", kind, n)
			}
		}
	}
}

// cam is a camera of the test and what its runs must give.
type cam struct {
	name  string
	cfg   pipeline.CameraConfig
	codec string // what ffprobe must print
	// fails is the error a run must end with instead of output (a webcam
	// that is not there); "" when every run must give frames.
	fails *regexp.Regexp
}

// TestDaemonArgv runs every argv the daemon builds, for every source kind,
// codec, profile and idle mode, against the ffmpeg under test. A run
// passes when each of its outputs gives what the daemon reads: a whole
// JPEG on stdout and on each profile's pipe (decodable when encoded),
// MPEG-TS on standby's copy pipe, the codec's name from ffprobe. It fails
// on any "unknown option/encoder/filter..." message.
func TestDaemonArgv(t *testing.T) {
	ffmpegPath, ffprobePath := binaries(t)
	// Cleanup, not defer: the cameras' subtests run in parallel, after
	// this function has returned.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)

	// The synthetic cameras publish with the ffmpeg under test: lavfi
	// testsrc2, libx264 and the RTSP muxer, as the image's --demo does.
	startCam := func(codec, audio, publisher string) *synthcam.Camera {
		c, err := synthcam.Start(ctx, synthcam.Config{Width: 320, Height: 176, FPS: 10, Codec: codec, Audio: audio, FFmpeg: publisher, UDP: true})
		if err != nil {
			t.Fatalf("synthcam %s with %s: %v", codec, publisher, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	h264Cam, mjpegCam := startCam("h264", "", ffmpegPath), startCam("mjpeg", "", ffmpegPath)
	// A newer camera's H.265 and an older one's MPEG-4 Part 2, their
	// headers in the SDP only, and a camera with an AAC sound track. The
	// build has no encoder for them (a camera encodes, the daemon does
	// not), so Debian's ffmpeg publishes them; scripts/setup.sh installs it.
	debian, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("the H.265, MPEG-4 and AAC cameras' publisher: %v (run scripts/setup.sh)", err)
	}
	hevcCam, mpeg4Cam := startCam("hevc", "", debian), startCam("mpeg4", "", debian)
	audioCam := startCam("h264", "aac", debian)

	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	// An HTTP camera sending MPEG-TS (plain and over TLS: gnutls) and one
	// sending multipart MJPEG (ffmpeg's mpjpeg demuxer).
	ts, err := os.ReadFile(filepath.Join(testdata, "h264.ts"))
	if err != nil {
		t.Fatal(err)
	}
	jpegs := mjpegFrames(t, ctx, ffmpegPath, mjpegCam.URL())
	mux := http.NewServeMux()
	mux.HandleFunc("/cam.ts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		w.Write(ts)
	})
	mux.HandleFunc("/video.mjpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace;boundary=frame")
		for i := 0; i < 50 && r.Context().Err() == nil; i++ {
			j := jpegs[i%len(jpegs)]
			fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(j))
			w.Write(j)
			w.Write([]byte("\r\n"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(mux)
	t.Cleanup(secure.Close)

	camera := func(name, url, codec string, f func(*pipeline.CameraConfig)) cam {
		c := pipeline.DefaultCameraConfig(name, url)
		c.FFmpeg, c.FFprobe = ffmpegPath, ffprobePath
		if f != nil {
			f(&c)
		}
		return cam{name: name, cfg: c, codec: codec}
	}
	noWebcam := regexp.MustCompile(`No such file or directory|Cannot open video device`)
	cams := []cam{
		camera("rtsp-h264", h264Cam.URL(), "h264", nil),
		camera("rtsp-h264-profiles-threads", h264Cam.URL(), "h264", func(c *pipeline.CameraConfig) {
			c.Codec, c.FPS, c.Width, c.Quality, c.DecoderThreads = pipeline.CodecMJPEG, 8, 240, 7, 2
			c.Profiles = append(c.Profiles, pipeline.ProfileConfig{Name: "tiny", Width: 96, FPS: 2, Quality: 9})
		}),
		camera("rtsp-h264-udp", h264Cam.URL(), "h264", func(c *pipeline.CameraConfig) { c.RTSPTransport, c.DecoderThreads = "udp", 1 }),
		camera("rtsp-h264-keyframes", h264Cam.URL(), "h264", func(c *pipeline.CameraConfig) { c.Codec, c.FPS = pipeline.CodecMJPEG, 1 }),
		camera("rtsp-mjpeg-auto", mjpegCam.URL(), "mjpeg", nil),
		camera("rtsp-mjpeg-copy", mjpegCam.URL(), "mjpeg", func(c *pipeline.CameraConfig) { c.Codec = pipeline.CodecCopy }),
		camera("rtsp-h264-aac", audioCam.URL(), "h264", nil),
		camera("rtsp-hevc", hevcCam.URL(), "hevc", nil),
		camera("rtsp-mpeg4", mpeg4Cam.URL(), "mpeg4", nil),
		camera("file-h264-mp4", "file://"+filepath.Join(testdata, "h264.mp4"), "h264", nil),
		camera("file-h264-ts", filepath.Join(testdata, "h264.ts"), "h264", nil),
		camera("file-hevc-mkv", "file://"+filepath.Join(testdata, "hevc.mkv"), "hevc", nil),
		camera("file-mpeg4-mkv", "file://"+filepath.Join(testdata, "mpeg4.mkv"), "mpeg4", nil),
		camera("http-ts", plain.URL+"/cam.ts", "h264", nil),
		camera("https-ts", secure.URL+"/cam.ts", "h264", nil),
		camera("http-mjpeg-copy", plain.URL+"/video.mjpg", "mjpeg", func(c *pipeline.CameraConfig) { c.Codec = pipeline.CodecCopy }),
	}
	for _, w := range []cam{
		camera("webcam-mjpeg", "/dev/video424242", "", func(c *pipeline.CameraConfig) {
			c.Codec, c.InputFormat, c.VideoSize, c.Framerate = pipeline.CodecCopy, "mjpeg", "640x480", 30
		}),
		camera("webcam-raw", "/dev/video424242", "", func(c *pipeline.CameraConfig) {
			c.Codec, c.InputFormat, c.VideoSize, c.Framerate = pipeline.CodecMJPEG, "yuyv422", "320x240", 15
		}),
	} {
		// No webcam here: the v4l2 device and each of its options must be
		// taken, and the run end at opening the device.
		w.fails = noWebcam
		cams = append(cams, w)
	}

	// Cameras side by side, each camera's runs in order: its decoder
	// reads what its standby run wrote, a copy camera's transcoder the
	// JPEGs of its own run.
	sem := make(chan struct{}, 3)
	for _, c := range cams {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			var standbyTS, runJPEGs []byte
			for _, inv := range pipeline.Invocations(c.cfg) {
				if inv.Stdin == "mpegts" && (c.codec == "mjpeg" || c.codec == "mpeg4" && strings.HasPrefix(c.name, "file-")) {
					// Not a question of the build: Debian's ffmpeg fails
					// alike. Standby's MPEG-TS copy carries MJPEG as
					// private data that no demuxer reads back (the daemon
					// runs no viewers' decoder for it: every frame is a
					// keyframe, see gopBuffer.intraOnly). A looping file's
					// copy has no dump_extra (ffmpeg 5.1 ends the filter at
					// the loop), so its MPEG-4 Part 2 lacks the VOL header
					// that a decoder needs; a camera's copy has it
					// (rtsp-mpeg4).
					continue
				}
				t.Run(inv.Name, func(t *testing.T) {
					stdin := []byte(nil)
					switch inv.Stdin {
					case "mpegts":
						stdin = standbyTS
					case "mjpeg":
						stdin = runJPEGs
						if c.fails != nil { // no webcam here: another MJPEG camera's JPEGs
							stdin = bytes.Join(jpegs, nil)
						}
					}
					if inv.Stdin != "" && len(stdin) == 0 {
						t.Fatalf("no %s input for it: its source run failed", inv.Stdin)
					}
					res := runInvocation(ctx, t, c, inv, stdin)
					if inv.TSFD != 0 {
						standbyTS = res.ts
					}
					if inv.Name == "run" {
						runJPEGs = bytes.Join(res.jpegs[1], nil)
					}
				})
			}
		})
	}
}

// result is what a run gave: the JPEGs of each descriptor and the MPEG-TS.
type result struct {
	jpegs map[int][][]byte
	ts    []byte
}

// runInvocation runs inv until it has given enough of every output, or it
// ends, and checks the outputs.
func runInvocation(ctx context.Context, t *testing.T, c cam, inv pipeline.Invocation, stdin []byte) result {
	t.Helper()
	prog := c.cfg.FFmpeg
	if inv.Program == "ffprobe" {
		prog = c.cfg.FFprobe
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, inv.Args...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	var stdout bytes.Buffer
	cmd.Stderr = &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	// Each output descriptor is a pipe read until the run has given what
	// is wanted: two JPEGs (a standby copy then holds a whole GOP, for
	// its decoder), or the end.
	want := 2
	if inv.Stdin != "" { // a finite input, written whole
		want = 1
	}
	res := result{jpegs: map[int][][]byte{}}
	var mu sync.Mutex
	var readers sync.WaitGroup
	var writers []*os.File
	extra := 0
	for _, fd := range inv.JPEGFDs {
		extra = max(extra, fd-2)
	}
	if inv.TSFD != 0 {
		extra = max(extra, inv.TSFD-2)
	}
	files := make([]*os.File, extra)
	// One signal per reader, never blocking: the run may end before all
	// are received.
	done := make(chan struct{}, 1+extra)
	readFD := func(fd int, r io.ReadCloser) {
		defer readers.Done()
		defer r.Close()
		if fd == inv.TSFD {
			b, _ := io.ReadAll(r)
			mu.Lock()
			res.ts = b
			mu.Unlock()
			return
		}
		sp := pipeline.NewSplitter(r, 0)
		signalled := false
		for {
			j, err := sp.Next()
			if err != nil {
				break
			}
			mu.Lock()
			res.jpegs[fd] = append(res.jpegs[fd], bytes.Clone(j))
			n := len(res.jpegs[fd])
			mu.Unlock()
			if n >= want && !signalled {
				signalled = true
				done <- struct{}{}
			}
		}
		if !signalled {
			done <- struct{}{}
		}
	}
	if len(inv.JPEGFDs) > 0 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = w
		writers = append(writers, w)
		readers.Add(1)
		go readFD(1, r)
	} else {
		cmd.Stdout = &stdout
	}
	for i := range files {
		fd := i + 3
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		files[i] = w
		writers = append(writers, w)
		readers.Add(1)
		go readFD(fd, r)
	}
	cmd.ExtraFiles = files
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, w := range writers {
		w.Close() // the child holds them now
	}
	// Wait for every JPEG output, then stop the run (by its pid, through
	// the context); a run that ends first has ended by itself.
	jpegOuts := len(inv.JPEGFDs)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var runErr error
	ended := false
	if jpegOuts == 0 { // ffprobe, a format listing: they end by themselves
		runErr, ended = <-waited, true
	}
	for got := 0; got < jpegOuts && !ended; {
		select {
		case <-done:
			got++
		case runErr = <-waited:
			ended = true
		}
	}
	if !ended {
		cancel()
		runErr = <-waited
	}
	readers.Wait()
	took := time.Since(start).Round(time.Millisecond)
	msg := strings.TrimSpace(stderr.String())
	t.Logf("%s %s (%s)", inv.Program, strings.Join(pipeline.RedactArgs(inv.Args), " "), took)
	if m := missingRE.FindString(msg); m != "" {
		t.Fatalf("the build lacks what the argv asks (%q):\n%s", m, msg)
	}
	if c.fails != nil && inv.Stdin == "" { // a run that opens the absent device
		if runErr == nil || !c.fails.MatchString(msg) {
			t.Fatalf("want an error matching %q, got exit %v:\n%s", c.fails, runErr, msg)
		}
		return res
	}
	if inv.Program == "ffprobe" {
		got := strings.Fields(stdout.String())
		if runErr != nil || len(got) == 0 || got[0] != c.codec {
			t.Fatalf("ffprobe printed %q (exit %v), want %q:\n%s", stdout.String(), runErr, c.codec, msg)
		}
		return res
	}
	if len(inv.JPEGFDs) == 0 { // a format listing: no output, no device here
		t.Fatalf("run without outputs for a camera that should work: %v\n%s", runErr, msg)
	}
	for _, fd := range inv.JPEGFDs {
		js := res.jpegs[fd]
		if len(js) == 0 {
			t.Fatalf("no JPEG on fd %d after %s (exit %v):\n%s", fd, took, runErr, msg)
		}
		if c.cfg.Codec == pipeline.CodecCopy && fd == 1 {
			continue // the camera's own JPEGs, as it sent them
		}
		if _, err := jpeg.Decode(bytes.NewReader(js[0])); err != nil {
			t.Fatalf("fd %d: the encoded JPEG does not decode: %v", fd, err)
		}
	}
	if inv.TSFD != 0 && (len(res.ts) < 188*4 || res.ts[0] != 0x47) {
		t.Fatalf("standby's copy on fd %d is not MPEG-TS (%d bytes):\n%s", inv.TSFD, len(res.ts), msg)
	}
	return res
}

// mjpegFrames returns a few JPEGs of the MJPEG camera at url, read with
// the ffmpeg under test in codec copy: an HTTP MJPEG camera serves them.
func mjpegFrames(t *testing.T, ctx context.Context, ffmpegPath, url string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpegPath, "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
		"-i", url, "-c:v", "copy", "-frames:v", "5", "-f", "image2pipe", "pipe:1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reading the MJPEG camera: %v\n%s", err, stderr.String())
	}
	sp := pipeline.NewSplitter(bytes.NewReader(out), 0)
	var js [][]byte
	for {
		j, err := sp.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		js = append(js, pipeline.WithHuffmanTables(bytes.Clone(j)))
	}
	if len(js) == 0 {
		t.Fatal("no JPEG from the MJPEG camera")
	}
	return js
}
