package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// listLine prints one format as ffmpeg 5.1 does on -list_formats
// (libavdevice/v4l2.c, list_formats and list_framesizes).
func listLine(compressed bool, name, desc string, emulated bool, sizes ...string) string {
	var b strings.Builder
	b.WriteString("[video4linux2,v4l2 @ 0x5581f7c4e700] ")
	if compressed {
		fmt.Fprintf(&b, "Compressed: %11s : %20s :", name, desc)
	} else {
		fmt.Fprintf(&b, "Raw       : %11s : %20s :", name, desc)
	}
	if emulated {
		b.WriteString(" Emulated :")
	}
	for _, s := range sizes {
		b.WriteString(" " + s)
	}
	return b.String() + "\n"
}

var (
	c920Sizes  = strings.Fields("640x480 160x90 160x120 176x144 320x180 320x240 352x288 432x240 640x360 800x448 800x600 864x480 960x720 1024x576 1280x720 1600x896 1920x1080")
	vividSizes = strings.Fields("320x180 640x360 640x480 1280x720 1920x1080 3840x2160")
	piRange    = "{32-2592, 2}x{32-1944, 2}"
)

// fakeListFormats are what ffmpeg prints on stderr for -list_formats all
// on a few devices (before its last line, "/dev/video0: Immediate exit
// requested"); the fake ffmpeg answers with them.
var fakeListFormats = map[string]string{
	// A UVC webcam (Logitech C920): raw YUYV, H.264 and MJPEG.
	"c920": listLine(false, "yuyv422", "YUYV 4:2:2", false, append(c920Sizes, "2304x1296", "2304x1536")...) +
		listLine(true, "h264", "H.264", false, c920Sizes...) +
		listLine(true, "mjpeg", "Motion-JPEG", false, c920Sizes...),
	// vivid, the kernel's emulated test device: raw formats only, some
	// that ffmpeg has no name for.
	"vivid": listLine(false, "yuyv422", "YUYV 4:2:2", false, vividSizes...) +
		listLine(false, "uyvy422", "UYVY 4:2:2", false, vividSizes...) +
		listLine(false, "Unsupported", "YVYU 4:2:2", false, vividSizes...) +
		listLine(false, "yuv422p", "Planar YUV 4:2:2", false, vividSizes...) +
		listLine(false, "yuv420p", "Planar YUV 4:2:0", false, vividSizes...) +
		listLine(false, "nv12", "Y/CbCr 4:2:0", false, vividSizes...) +
		listLine(false, "rgb565le", "16-bit RGB 5-6-5", false, vividSizes...) +
		listLine(false, "bgr24", "24-bit BGR 8-8-8", false, vividSizes...) +
		listLine(false, "rgb24", "24-bit RGB 8-8-8", false, vividSizes...) +
		listLine(false, "gray", "8-bit Greyscale", false, vividSizes...),
	// v4l2loopback fed by another program: one raw format at one size.
	"loopback": listLine(false, "yuv420p", "Planar YUV 4:2:0", false, "1280x720"),
	// A webcam through libv4l: MJPEG, and raw formats converted from it.
	"libv4l": listLine(true, "mjpeg", "Motion-JPEG", false, "1280x720", "640x480") +
		listLine(false, "rgb24", "RGB3", true, "1280x720", "640x480") +
		listLine(false, "yuv420p", "YU12", true, "1280x720", "640x480"),
	// The Raspberry Pi camera (bcm2835-v4l2): ranges of sizes.
	"picam": listLine(false, "yuv420p", "Planar YUV 4:2:0", false, piRange) +
		listLine(true, "h264", "H.264", false, piRange) +
		listLine(true, "mjpeg", "Motion-JPEG", false, piRange),
	"garbage": "Raw\nCompressed: mjpeg\n[foo @ 0x1] Raw: x\nRaw       :  : Motion-JPEG : 640x480\n\x00\xff\xfe{{}}x\n",
}

func TestParseV4L2Formats(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []v4l2Format
	}{
		{"c920", fakeListFormats["c920"] + "/dev/video0: Immediate exit requested\n", []v4l2Format{
			{name: "yuyv422", sizes: append(c920Sizes[:len(c920Sizes):len(c920Sizes)], "2304x1296", "2304x1536")},
			{name: "h264", compressed: true, sizes: c920Sizes},
			{name: "mjpeg", compressed: true, sizes: c920Sizes},
		}},
		{"vivid: raw only", fakeListFormats["vivid"], []v4l2Format{
			{name: "yuyv422", sizes: vividSizes}, {name: "uyvy422", sizes: vividSizes},
			{name: "Unsupported", sizes: vividSizes}, {name: "yuv422p", sizes: vividSizes},
			{name: "yuv420p", sizes: vividSizes}, {name: "nv12", sizes: vividSizes},
			{name: "rgb565le", sizes: vividSizes}, {name: "bgr24", sizes: vividSizes},
			{name: "rgb24", sizes: vividSizes}, {name: "gray", sizes: vividSizes},
		}},
		{"loopback", fakeListFormats["loopback"], []v4l2Format{{name: "yuv420p", sizes: []string{"1280x720"}}}},
		{"libv4l emulated formats", fakeListFormats["libv4l"], []v4l2Format{
			{name: "mjpeg", compressed: true, sizes: []string{"1280x720", "640x480"}},
			{name: "rgb24", emulated: true, sizes: []string{"1280x720", "640x480"}},
			{name: "yuv420p", emulated: true, sizes: []string{"1280x720", "640x480"}},
		}},
		{"ranges of sizes", fakeListFormats["picam"], []v4l2Format{
			{name: "yuv420p", sizes: []string{piRange}},
			{name: "h264", compressed: true, sizes: []string{piRange}},
			{name: "mjpeg", compressed: true, sizes: []string{piRange}},
		}},
		{"no sizes listed, CRLF, no log prefix", "Raw       :     yuyv422 :           YUYV 4:2:2 :\r\nCompressed:       mjpeg :          Motion-JPEG : 640x480 junk 12x\r\n",
			[]v4l2Format{{name: "yuyv422"}, {name: "mjpeg", compressed: true, sizes: []string{"640x480"}}}},
		{"missing device", "[video4linux2,v4l2 @ 0x55c61970e900] Cannot open video device /dev/video9: No such file or directory\n/dev/video9: No such file or directory\n", nil},
		{"not a capture device", "[video4linux2,v4l2 @ 0x55c61970e900] Not a video capture device.\n/dev/video1: No such device\n", nil},
		{"not a device", "[video4linux2,v4l2 @ 0x55703307a900] ioctl(VIDIOC_QUERYCAP): Inappropriate ioctl for device\n/dev/null: Inappropriate ioctl for device\n", nil},
		{"garbage", fakeListFormats["garbage"], nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseV4L2Formats(tt.out)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parse\n got: %+v\nwant: %+v", got, tt.want)
			}
		})
	}
}

func TestPickInputFormat(t *testing.T) {
	parse := func(name string) []v4l2Format { return parseV4L2Formats(fakeListFormats[name]) }
	tests := []struct {
		name    string
		formats []v4l2Format
		size    string
		want    string
	}{
		{"mjpeg offered", parse("c920"), "", "mjpeg"},
		{"mjpeg at the size", parse("c920"), "1280x720", "mjpeg"},
		{"only raw offers the size", parse("c920"), "2304x1536", "yuyv422"},
		{"nobody offers the size: mjpeg, the driver picks the nearest", parse("c920"), "4000x3000", "mjpeg"},
		{"raw only: the device's default", parse("vivid"), "", ""},
		{"raw only, at a size", parse("vivid"), "1280x720", "yuyv422"},
		{"emulated device with one raw format", parse("loopback"), "", ""},
		{"libv4l: mjpeg before emulated raw", parse("libv4l"), "", "mjpeg"},
		{"a range holds the size", parse("picam"), "1296x972", "mjpeg"},
		{"outside the range", parse("picam"), "4000x3000", "mjpeg"},
		{"odd size out of the range's steps: raw has none either", parse("picam"), "1297x972", "mjpeg"},
		{"unknown formats", nil, "1280x720", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pickInputFormat(tt.formats, tt.size); got != tt.want {
				t.Errorf("pickInputFormat = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChooseV4L2Codec(t *testing.T) {
	tests := []struct {
		name                string
		codec, inputFormat  string
		fps                 float64
		width               int
		wantCodec, wantFrom string
	}{
		{"auto, mjpeg: copy", CodecAuto, "mjpeg", 0, 0, CodecCopy, "mjpeg"},
		{"auto, mjpeg with fps: encode", CodecAuto, "mjpeg", 5, 0, CodecMJPEG, "mjpeg"},
		{"auto, mjpeg with width: encode", CodecAuto, "mjpeg", 0, 640, CodecMJPEG, "mjpeg"},
		{"auto, raw: encode", CodecAuto, "yuyv422", 0, 0, CodecMJPEG, "yuyv422"},
		{"auto, device default: encode", CodecAuto, "", 0, 0, CodecMJPEG, ""},
		{"copy asks for mjpeg", CodecCopy, "", 0, 0, CodecCopy, "mjpeg"},
		{"mjpeg stays", CodecMJPEG, "mjpeg", 0, 0, CodecMJPEG, "mjpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultCameraConfig("cam", "/dev/video0")
			c.Codec, c.InputFormat, c.FPS, c.Width = tt.codec, tt.inputFormat, tt.fps, tt.width
			got := chooseV4L2Codec(c)
			if got.Codec != tt.wantCodec || got.InputFormat != tt.wantFrom {
				t.Errorf("codec %q, input_format %q; want %q, %q", got.Codec, got.InputFormat, tt.wantCodec, tt.wantFrom)
			}
		})
	}
}

func TestExplainV4L2(t *testing.T) {
	const dev = "/dev/video0"
	ffmpegErr := func(tail string) error { return fmt.Errorf("ffmpeg exited (exit status 1): %s", tail) }
	asked := DefaultCameraConfig("cam", dev)
	asked.InputFormat, asked.VideoSize, asked.Framerate = "yuyv422", "1920x1080", 29.97
	tests := []struct {
		name    string
		cfg     CameraConfig
		offered string
		err     error
		want    string // the start of the message; "" for not explained
		gone    bool
	}{
		{"missing", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] Cannot open video device /dev/video0: No such file or directory | /dev/video0: No such file or directory"),
			"/dev/video0 does not exist: plug the webcam in (the camera starts as soon as it appears)", true},
		{"another device missing is not this one", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("/dev/video01: No such file or directory"), "", false},
		{"ffmpeg itself missing", DefaultCameraConfig("cam", dev), "",
			errors.New("start ffmpeg: fork/exec /usr/bin/ffmpeg: no such file or directory"), "", false},
		{"busy", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("/dev/video0: Device or resource busy"),
			"/dev/video0 is busy: another program is reading it (only one reader at a time)", false},
		{"busy, newer ffmpeg", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] ioctl(VIDIOC_S_FMT): Device or resource busy | /dev/video0: Device or resource busy"),
			"/dev/video0 is busy: another program is reading it (only one reader at a time)", false},
		{"permission", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] Cannot open video device /dev/video0: Permission denied | /dev/video0: Permission denied"),
			"/dev/video0: permission denied: run the daemon as a member of the video group", false},
		{"metadata node", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] Not a video capture device. | /dev/video0: No such device"),
			"/dev/video0 is not a video capture device", false},
		{"unplugged while streaming", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] ioctl(VIDIOC_DQBUF): No such device | /dev/video0: No such device"),
			"/dev/video0 went away (unplugged?)", true},
		{"not a device", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("[video4linux2,v4l2 @ 0x5570] ioctl(VIDIOC_QUERYCAP): Inappropriate ioctl for device | /dev/video0: Inappropriate ioctl for device"),
			"/dev/video0 is not a V4L2 video device", false},
		{"unknown input format", func() CameraConfig { c := asked; c.InputFormat = "mjgep"; return c }(), "",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] No such input format: mjgep. | /dev/video0: Invalid argument"),
			`input_format "mjgep" is not a format name ffmpeg knows: use one that ffmpeg -f v4l2 -list_formats all -i /dev/video0 lists`, false},
		{"format refused", asked, "",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] Cannot find a proper format for codec 'none' (id 0), pixel format 'yuyv422' (id 1) | /dev/video0: Invalid argument"),
			"/dev/video0 refuses input_format yuyv422, video_size 1920x1080, framerate 29.97; set input_format, video_size and framerate to what ffmpeg -f v4l2 -list_formats all -i /dev/video0 lists", false},
		{"format refused, with what it offers", asked, "mjpeg (640x480 1280x720)",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] ioctl(VIDIOC_S_FMT): Invalid argument | /dev/video0: Invalid argument"),
			"/dev/video0 refuses input_format yuyv422, video_size 1920x1080, framerate 29.97: it offers mjpeg (640x480 1280x720); set", false},
		{"rate refused", DefaultCameraConfig("cam", dev), "",
			ffmpegErr("[video4linux2,v4l2 @ 0x55c6] ioctl(VIDIOC_S_PARM): Invalid argument | /dev/video0: Invalid argument"),
			"/dev/video0 refuses the format ffmpeg asked for;", false},
		{"a stall is not the device's", DefaultCameraConfig("cam", dev), "", errStalled, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := explainV4L2(dev, tt.cfg, tt.offered, tt.err)
			if tt.want == "" {
				if d != nil {
					t.Fatalf("explained as %q", d.msg)
				}
				return
			}
			if d == nil {
				t.Fatalf("not explained: %v", tt.err)
			}
			if !strings.HasPrefix(d.Error(), tt.want) {
				t.Errorf("message\n got: %s\nwant: %s...", d.Error(), tt.want)
			}
			if !strings.HasSuffix(d.Error(), "; "+tt.err.Error()) || !errors.Is(d, tt.err) {
				t.Errorf("ffmpeg's error lost: %s", d.Error())
			}
			if got := (&v4l2Source{device: dev}).unreachable(fmt.Errorf("run: %w", d)); got != tt.gone {
				t.Errorf("unreachable = %v, want %v", got, tt.gone)
			}
		})
	}
}

func TestDescribeFormats(t *testing.T) {
	got := describeFormats(parseV4L2Formats(fakeListFormats["c920"] + listLine(false, "Unsupported", "YVYU 4:2:2", false, "640x480")))
	want := "yuyv422 (640x480 160x90 160x120 176x144 320x180 320x240 352x288 432x240 …), h264 (640x480 160x90 160x120 176x144 320x180 320x240 352x288 432x240 …), mjpeg (640x480 160x90 160x120 176x144 320x180 320x240 352x288 432x240 …)"
	if got != want {
		t.Errorf("describe\n got: %s\nwant: %s", got, want)
	}
	if got := describeFormats(parseV4L2Formats("Raw       :     yuyv422 :           YUYV 4:2:2 :\n")); got != "yuyv422" {
		t.Errorf("describe without sizes: %s", got)
	}
}

func TestBuildArgsV4L2(t *testing.T) {
	// ffmpeg-go puts -f and -video_size first, then the other options sorted.
	const head = "-hide_banner -nostdin -loglevel warning -f v4l2"
	const copyOut = " -an -c:v copy -f image2pipe -fps_mode passthrough pipe:1"
	const mjpegOut = " -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 pipe:1"
	base := DefaultCameraConfig("cam", "/dev/video0")
	base.Profiles = nil
	// Every combination of the three keys, in copy and in mjpeg: only the
	// keys set are passed, in ffmpeg-go's (sorted) order, and nothing of
	// RTSP.
	for mask := range 8 {
		for _, codec := range []string{CodecCopy, CodecMJPEG} {
			c := base
			c.Codec = codec
			var name []string
			want := head
			if mask&4 != 0 {
				c.VideoSize = "1280x720"
				want += " -video_size 1280x720"
				name = append(name, "video_size")
			}
			want += " -analyzeduration 0 -flags low_delay"
			if mask&1 != 0 {
				c.Framerate = 30
				want += " -framerate 30"
				name = append(name, "framerate")
			}
			if mask&2 != 0 {
				c.InputFormat = "mjpeg"
				want += " -input_format mjpeg"
				name = append(name, "input_format")
			}
			want += " -probesize 32 -i /dev/video0"
			if codec == CodecCopy {
				want += copyOut
			} else {
				want += mjpegOut
			}
			t.Run(codec+" "+strings.Join(append(name, "-"), ","), func(t *testing.T) {
				if err := c.Validate(); err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(BuildArgs(c), " "); got != want {
					t.Errorf("args\n got: %s\nwant: %s", got, want)
				}
			})
		}
	}
	with := func(f func(*CameraConfig)) CameraConfig {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  CameraConfig
		want string
	}{
		{"raw at a fractional rate, scaled and capped", with(func(c *CameraConfig) {
			c.InputFormat, c.VideoSize, c.Framerate, c.FPS, c.Width, c.Codec = "yuyv422", "640x480", 29.97, 10, 320, CodecMJPEG
		}),
			"-hide_banner -nostdin -loglevel warning -f v4l2 -video_size 640x480 -analyzeduration 0 -flags low_delay -framerate 29.97 -input_format yuyv422 -probesize 32 -i /dev/video0" +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 5 -threads 1 -vf fps=10,scale=320:-2 pipe:1"},
		{"the bare index is /dev/videoN", with(func(c *CameraConfig) { c.URL = "2"; c.InputFormat = "mjpeg"; c.Codec = CodecCopy }),
			"-hide_banner -nostdin -loglevel warning -f v4l2 -analyzeduration 0 -flags low_delay -input_format mjpeg -probesize 32 -i /dev/video2" + copyOut},
		{"mjpeg with the built-in thumb", with(func(c *CameraConfig) { c.InputFormat = "mjpeg"; c.Codec = CodecMJPEG; c.Profiles = DefaultProfiles() }),
			head + " -analyzeduration 0 -flags low_delay -input_format mjpeg -probesize 32 -i /dev/video0" + mjpegOut +
				" -an -c:v mjpeg -f image2pipe -fps_mode passthrough -q:v 7 -threads 1 -vf fps=5,scale=320:-2 pipe:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(BuildArgs(tt.cfg), " "); got != tt.want {
				t.Errorf("args\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
	got := strings.Join(buildArgs(with(func(c *CameraConfig) { c.InputFormat = "mjpeg"; c.Codec = CodecCopy }), true), " ")
	want := "-hide_banner -nostdin -loglevel warning -f v4l2 -analyzeduration 1000000 -fflags nobuffer -flags low_delay -input_format mjpeg -probesize 1000000 -i /dev/video0" + copyOut
	if got != want {
		t.Errorf("long probe args\n got: %s\nwant: %s", got, want)
	}
}

func TestListFormatsArgs(t *testing.T) {
	got := strings.Join(listFormatsArgs("/dev/video0"), " ")
	want := "-hide_banner -nostdin -f v4l2 -list_formats all -i /dev/video0"
	if got != want {
		t.Errorf("args\n got: %s\nwant: %s", got, want)
	}
}

func TestSourceForWebcam(t *testing.T) {
	for _, raw := range []string{"/dev/video0", "/dev/video12", "0", "3"} {
		if _, ok := sourceFor(raw).(*v4l2Source); !ok {
			t.Errorf("sourceFor(%q) is not a webcam", raw)
		}
	}
	if s, ok := sourceFor("3").(*v4l2Source); !ok || s.device != "/dev/video3" {
		t.Errorf("sourceFor(3) = %+v, want /dev/video3", s)
	}
	if _, ok := sourceFor("file:///dev/video0").(fileSource); !ok {
		t.Error("file:///dev/video0 is a file")
	}
}
