package pipeline

import (
	"strings"
	"testing"
)

func TestWebcamURLs(t *testing.T) {
	for _, tt := range []struct{ raw, norm string }{
		{"/dev/video0", "/dev/video0"},
		{"/dev/video12", "/dev/video12"},
		{"0", "/dev/video0"},
		{"3", "/dev/video3"},
		{"007", "/dev/video7"},
		{" 1 ", "/dev/video1"},
	} {
		if err := ValidateURL(tt.raw); err != nil {
			t.Errorf("ValidateURL(%q): %v", tt.raw, err)
		}
		if got := NormalizeURL(tt.raw); got != tt.norm {
			t.Errorf("NormalizeURL(%q) = %q, want %q", tt.raw, got, tt.norm)
		}
	}
	for _, raw := range []string{"rtsp://h/0", "file:///dev/video0", "http://h/video0"} {
		if got := NormalizeURL(raw); got != raw {
			t.Errorf("NormalizeURL(%q) = %q", raw, got)
		}
	}
	for _, tt := range []struct{ raw, want string }{
		{"/dev/video", `"/dev/video" is not a webcam: want /dev/videoN (N a number; the bare index N means /dev/videoN), or file:///path for a video file`},
		{"/dev/videoX", `"/dev/videoX" is not a webcam`},
		{"/dev/video0/", `"/dev/video0/" is not a webcam`},
		{"/dev/sda", `"/dev/sda" is not a webcam`},
		{"/srv/clip.mp4", `"/srv/clip.mp4" is not a webcam: want /dev/videoN (N a number; the bare index N means /dev/videoN), or file:///path for a video file`},
		{"/dev/video-1", `is not a webcam`},
		{"-1", `"-1" has no scheme (want rtsp://, rtsps://, http://, https://, file://, or /dev/videoN for a webcam)`},
		{"video0", `"video0" has no scheme`},
		{"1234567", `"1234567" has no scheme`},
		{"0x1", `has no scheme`},
	} {
		err := ValidateURL(tt.raw)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateURL(%q) = %v, want %q", tt.raw, err, tt.want)
		}
	}
}

func TestValidateWebcamKeys(t *testing.T) {
	cam := DefaultCameraConfig("cam", "/dev/video0")
	cam.InputFormat, cam.VideoSize, cam.Framerate = "yuyv422", "1920x1080", 7.5
	if err := cam.Validate(); err != nil {
		t.Fatalf("valid webcam refused: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*CameraConfig)
		want string
	}{
		{"input_format with capitals", func(c *CameraConfig) { c.InputFormat = "MJPEG" }, `input_format: "MJPEG" is not a format name, as mjpeg or yuyv422`},
		{"input_format with a space", func(c *CameraConfig) { c.InputFormat = "mjpeg -x" }, `input_format: "mjpeg -x" is not a format name`},
		{"video_size without height", func(c *CameraConfig) { c.VideoSize = "1280" }, `video_size: "1280" is not WIDTHxHEIGHT, as 1280x720`},
		{"video_size by name", func(c *CameraConfig) { c.VideoSize = "hd720" }, `video_size: "hd720" is not WIDTHxHEIGHT`},
		{"video_size zero", func(c *CameraConfig) { c.VideoSize = "0x0" }, `video_size: "0x0" is not WIDTHxHEIGHT`},
		{"framerate negative", func(c *CameraConfig) { c.Framerate = -1 }, `framerate: -1 is not a positive number`},
		{"input_format on rtsp", func(c *CameraConfig) { c.URL = "rtsp://u:p@192.0.2.10/x"; c.VideoSize, c.Framerate = "", 0 },
			`input_format: only a webcam (url /dev/videoN) has it, not rtsp://u:xxxxx@192.0.2.10/x`},
		{"video_size on a file", func(c *CameraConfig) { c.URL = "file:///srv/a.mp4"; c.InputFormat, c.Framerate = "", 0 },
			`video_size: only a webcam (url /dev/videoN) has it, not file:///srv/a.mp4`},
		{"framerate on http", func(c *CameraConfig) { c.URL = "http://192.0.2.10/v.mjpg"; c.InputFormat, c.VideoSize = "", "" },
			`framerate: only a webcam (url /dev/videoN) has it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cam
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
