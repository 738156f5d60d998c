package pipeline

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBuildArgs(t *testing.T) {
	base := DefaultCameraConfig("door", "rtsp://viewer:secret@192.0.2.10:554/stream1")
	base.Profiles = nil // the cases with profiles add them
	with := func(f func(*CameraConfig)) CameraConfig {
		c := base
		f(&c)
		return c
	}
	rtspIn := "-hide_banner -nostdin -loglevel warning -allowed_media_types video -analyzeduration 0 -flags low_delay -probesize 32 -rtsp_transport tcp -timeout 5000000 -i rtsp://viewer:secret@192.0.2.10:554/stream1"
	const thumbOut = " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 7 -threads 1 -vf fps=5,scale=320:-2 pipe:3"
	tests := []struct {
		name string
		cfg  CameraConfig
		want string
	}{
		{"rtsp defaults", base, rtspIn + " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 pipe:1"},
		{"rtsp udp", with(func(c *CameraConfig) { c.RTSPTransport = "udp" }),
			strings.Replace(rtspIn, "tcp", "udp", 1) + " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 pipe:1"},
		{"fps and width", with(func(c *CameraConfig) { c.FPS = 5; c.Width = 640; c.Quality = 8 }),
			rtspIn + " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 8 -threads 1 -vf fps=5,scale=640:-2 pipe:1"},
		{"fps 1 or less decodes keyframes only", with(func(c *CameraConfig) { c.FPS = 0.5 }),
			strings.Replace(rtspIn, "-rtsp_transport tcp", "-rtsp_transport tcp -skip_frame nokey", 1) +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 -vf fps=0.5 pipe:1"},
		{"fps 2 decodes every frame", with(func(c *CameraConfig) { c.FPS = 2 }),
			rtspIn + " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 -vf fps=2 pipe:1"},
		{"copy at fps 1 decodes nothing", with(func(c *CameraConfig) { c.Codec = CodecCopy; c.FPS = 1 }),
			rtspIn + " -an -c:v copy -f image2pipe -fps_mode passthrough pipe:1"},
		{"copy ignores filters", with(func(c *CameraConfig) { c.Codec = CodecCopy; c.FPS = 5; c.Width = 640 }),
			rtspIn + " -an -c:v copy -f image2pipe -fps_mode passthrough pipe:1"},
		{"stall timeout sets socket timeout", with(func(c *CameraConfig) { c.StallTimeout = 2 * time.Second }),
			strings.Replace(rtspIn, "5000000", "2000000", 1) + " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 pipe:1"},
		{"http", with(func(c *CameraConfig) { c.URL = "http://192.0.2.10/video.mjpg" }),
			"-hide_banner -nostdin -loglevel warning -analyzeduration 0 -flags low_delay -probesize 32 -timeout 5000000 -i http://192.0.2.10/video.mjpg -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 pipe:1"},
		{"built-in thumb: one more output on pipe:3", with(func(c *CameraConfig) { c.Profiles = DefaultProfiles() }),
			rtspIn + " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 pipe:1" + thumbOut},
		{"copy with a thumb: no decoding (the thumb is transcoded while watched)", with(func(c *CameraConfig) { c.Codec = CodecCopy; c.Profiles = DefaultProfiles() }),
			rtspIn + " -an -c:v copy -f image2pipe -fps_mode passthrough pipe:1"},
		{"profiles in order, quality from the camera, substreams not in this ffmpeg", with(func(c *CameraConfig) {
			c.Quality = 9
			c.Profiles = []ProfileConfig{
				{Name: "sub", URL: "rtsp://192.0.2.10/stream2", Width: 320},
				{Name: "low", Width: 640},
				{Name: "slow", FPS: 2, Quality: 12},
			}
		}),
			rtspIn + " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 9 -threads 1 pipe:1" +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 9 -threads 1 -vf scale=640:-2 pipe:3" +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 12 -threads 1 -vf fps=2 pipe:4"},
		{"keyframes only when every output is 1 fps or less", with(func(c *CameraConfig) {
			c.FPS = 1
			c.Profiles = []ProfileConfig{{Name: "thumb", Width: 320, FPS: 0.5}}
		}),
			strings.Replace(rtspIn, "-rtsp_transport tcp", "-rtsp_transport tcp -skip_frame nokey", 1) +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 -vf fps=1 pipe:1" +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 -vf fps=0.5,scale=320:-2 pipe:3"},
		{"a profile is never faster than the camera's cap: fps 1 still decodes keyframes only", with(func(c *CameraConfig) { c.FPS = 1; c.Profiles = DefaultProfiles() }),
			strings.Replace(rtspIn, "-rtsp_transport tcp", "-rtsp_transport tcp -skip_frame nokey", 1) +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 -vf fps=1 pipe:1" +
				strings.Replace(thumbOut, "fps=5", "fps=1", 1)},
		{"a profile faster than 1 fps under a faster cap decodes every frame", with(func(c *CameraConfig) {
			c.FPS = 10
			c.Profiles = []ProfileConfig{{Name: "slow", FPS: 0.5}}
		}),
			rtspIn + " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 -vf fps=10 pipe:1" +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 -vf fps=0.5 pipe:3"},
		{"file loops at native rate", with(func(c *CameraConfig) { c.URL = "file:///srv/clip.mp4" }),
			"-hide_banner -nostdin -loglevel warning -re -stream_loop -1 -i /srv/clip.mp4 -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 pipe:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(BuildArgs(tt.cfg), " ")
			if got != tt.want {
				t.Errorf("args\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestLongProbeArgs(t *testing.T) {
	got := strings.Join(buildArgs(DefaultCameraConfig("door", "rtsp://192.0.2.10/s"), true), " ")
	if !strings.Contains(got, "-analyzeduration 1000000") || !strings.Contains(got, "-probesize 1000000") {
		t.Fatalf("long probe args: %s", got)
	}
	// The second of packets read while probing is dropped, not decoded late.
	if !strings.Contains(got, "-fflags nobuffer") {
		t.Fatalf("long probe args without -fflags nobuffer: %s", got)
	}
}

func TestRedactArgsHidesPassword(t *testing.T) {
	args := BuildArgs(DefaultCameraConfig("door", "rtsp://viewer:s3cr%40t@192.0.2.10:554/stream1"))
	red := RedactArgs(args)
	joined := strings.Join(red, " ")
	if strings.Contains(joined, "s3cr") {
		t.Fatalf("password in redacted args: %s", joined)
	}
	if !slices.Contains(red, "rtsp://viewer:xxxxx@192.0.2.10:554/stream1") {
		t.Fatalf("redacted URL missing: %s", joined)
	}
	if !slices.Contains(args, "rtsp://viewer:s3cr%40t@192.0.2.10:554/stream1") {
		t.Fatal("BuildArgs must keep the real URL for ffmpeg")
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultCameraConfig("door", "rtsp://u:p@192.0.2.10/x")
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*CameraConfig)
		want string
	}{
		{"bad name", func(c *CameraConfig) { c.Name = "Door!" }, "name"},
		{"no scheme", func(c *CameraConfig) { c.URL = "192.0.2.10:554/x" }, "url"},
		{"bad scheme", func(c *CameraConfig) { c.URL = "ftp://u:p@192.0.2.10/x" }, "scheme \"ftp\""},
		{"no host", func(c *CameraConfig) { c.URL = "rtsp:///stream" }, "no host"},
		{"empty url", func(c *CameraConfig) { c.URL = "" }, "url: empty"},
		{"quality", func(c *CameraConfig) { c.Quality = 1 }, "quality"},
		{"transport", func(c *CameraConfig) { c.RTSPTransport = "http" }, "rtsp_transport"},
		{"codec", func(c *CameraConfig) { c.Codec = "h265" }, "codec"},
		{"stall", func(c *CameraConfig) { c.StallTimeout = 0 }, "stall_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), ":p@") {
				t.Fatalf("password in error: %v", err)
			}
		})
	}
}

func TestProbeArgs(t *testing.T) {
	got := strings.Join(ProbeArgs(DefaultCameraConfig("door", "rtsp://u:p@192.0.2.10/s")), " ")
	want := "-hide_banner -v error -allowed_media_types video -analyzeduration 0 -flags low_delay -probesize 32 -rtsp_transport tcp -timeout 5000000 -select_streams v:0 -show_entries stream=codec_name -of default=nw=1:nk=1 rtsp://u:p@192.0.2.10/s"
	if got != want {
		t.Errorf("probe args\n got: %s\nwant: %s", got, want)
	}
	got = strings.Join(ProbeArgs(DefaultCameraConfig("f", "file:///srv/a.mkv")), " ")
	want = "-hide_banner -v error -select_streams v:0 -show_entries stream=codec_name -of default=nw=1:nk=1 /srv/a.mkv"
	if got != want {
		t.Errorf("file probe args\n got: %s\nwant: %s", got, want)
	}
}

func TestTranscodeArgs(t *testing.T) {
	got := strings.Join(TranscodeArgs(ProfileConfig{Name: "thumb", Width: 320, FPS: 5}, 6), " ")
	want := "-hide_banner -nostdin -loglevel warning -f mjpeg -i pipe:0 -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 6 -threads 1 -vf scale=320:-2 pipe:1"
	if got != want {
		t.Errorf("args\n got: %s\nwant: %s", got, want)
	}
}

// TestStandbyRepeatsHeaders: standby's MPEG-TS copy of a camera repeats
// the stream's headers before each keyframe (an MPEG-4 camera's VOL header
// is in its SDP only); a looping file's does not, since ffmpeg 5.1 ends
// the filter, and the copy, at the loop.
func TestStandbyRepeatsHeaders(t *testing.T) {
	for url, want := range map[string]bool{
		"rtsp://192.0.2.1/s":         true,
		"http://192.0.2.1/cam.ts":    true,
		"file:///srv/video/door.mkv": false,
	} {
		args := StandbyArgs(DefaultCameraConfig("door", url))
		ts := strings.Join(args[slices.Index(args, "pipe:3")+1:], " ") // the copy's output options
		if got := strings.Contains(ts, "-bsf:v dump_extra=freq=keyframe"); got != want || !strings.Contains(ts, "-f mpegts") {
			t.Errorf("%s: the copy's options %q; want dump_extra %v", url, ts, want)
		}
	}
}

// TestDecoderThreads: decoder_threads is an input option (before -i) of
// every ffmpeg that decodes the camera, and of none that copies it.
func TestDecoderThreads(t *testing.T) {
	c := DefaultCameraConfig("door", "rtsp://192.0.2.1/s")
	c.DecoderThreads = 1
	for name, args := range map[string][]string{"full": BuildArgs(c), "standby": StandbyArgs(c), "decoder": DecoderArgs(c)} {
		in := strings.Join(args[:slices.Index(args, "-i")], " ")
		if !strings.Contains(in, "-threads 1") {
			t.Errorf("%s: input options %q lack -threads 1", name, in)
		}
	}
	c.Codec = CodecCopy
	if args := BuildArgs(c); strings.Contains(strings.Join(args[:slices.Index(args, "-i")], " "), "-threads") {
		t.Errorf("codec copy: %q", args)
	}
}

// Invocations lists what a camera's kind and codec make the daemon run;
// deploy/ffmpeg's test runs each against the image's ffmpeg.
func TestInvocations(t *testing.T) {
	names := func(c CameraConfig) string {
		var n []string
		for _, inv := range Invocations(c) {
			n = append(n, inv.Program+":"+inv.Name)
		}
		return strings.Join(n, " ")
	}
	rtsp := DefaultCameraConfig("cam", "rtsp://127.0.0.1:8554/s")
	if got, want := names(rtsp), "ffmpeg:run ffmpeg:run/long-probe ffprobe:probe ffmpeg:standby ffmpeg:standby/long-probe ffmpeg:decoder ffmpeg:decoder/skip"; got != want {
		t.Errorf("rtsp camera:\n got %s\nwant %s", got, want)
	}
	cp := rtsp
	cp.Codec = CodecCopy
	if got, want := names(cp), "ffmpeg:run ffmpeg:run/long-probe ffprobe:probe ffmpeg:transcode/thumb"; got != want {
		t.Errorf("copy camera:\n got %s\nwant %s", got, want)
	}
	cam := DefaultCameraConfig("cam", "/dev/video0")
	if got, want := names(cam), "ffmpeg:run ffmpeg:run/long-probe ffprobe:probe ffmpeg:list-formats"; got != want {
		t.Errorf("webcam:\n got %s\nwant %s", got, want)
	}
	for _, inv := range Invocations(rtsp) {
		switch inv.Name {
		case "run", "decoder":
			if !slices.Equal(inv.JPEGFDs, []int{1, 3}) || inv.TSFD != 0 {
				t.Errorf("%s: JPEG fds %v, TS fd %d; want [1 3] (main, thumb), 0", inv.Name, inv.JPEGFDs, inv.TSFD)
			}
		case "standby":
			if !slices.Equal(inv.JPEGFDs, []int{1, 3}) || inv.TSFD != 4 || !slices.Contains(inv.Args, "pipe:4") {
				t.Errorf("standby: JPEG fds %v, TS fd %d; want [1 3], 4 (after the thumb's)", inv.JPEGFDs, inv.TSFD)
			}
		case "decoder/skip":
			if inv.Stdin != "mpegts" || !slices.Contains(inv.Args, "-ss") {
				t.Errorf("decoder/skip: stdin %q, args %v; want mpegts and -ss", inv.Stdin, inv.Args)
			}
		}
	}
}
