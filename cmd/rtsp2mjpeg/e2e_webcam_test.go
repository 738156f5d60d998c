package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// There is no webcam here: these run the daemon with real ffmpeg on a
// webcam that is not plugged in, and check what a user sees.
func TestWebcamNotPluggedIn(t *testing.T) {
	needFFmpeg(t)
	for _, tc := range []struct {
		name, dev string
		args, env []string
	}{
		{"--url 0", "/dev/video0", []string{"--url", "0"}, nil},
		{"RTSP2MJPEG_URL=/dev/video7", "/dev/video7", nil, []string{"RTSP2MJPEG_URL=/dev/video7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.dev); err == nil {
				t.Skipf("%s exists on this machine", tc.dev)
			}
			d := startDaemonEnv(t, tc.env, tc.args...)
			var st map[string]any
			eventually(t, 10*time.Second, "a failed start", func() bool {
				st = d.status(t, "default")
				return st["restarts"].(float64) >= 1
			})
			lastErr, _ := st["last_error"].(string)
			t.Logf("status: %v", st)
			if st["url"] != tc.dev || st["state"] != "backoff" {
				t.Errorf("url %v, state %v; want %s, backoff", st["url"], st["state"], tc.dev)
			}
			// ffmpeg's own words, read by the daemon: the listing of formats
			// found no device.
			want := tc.dev + " does not exist: plug the webcam in (the camera starts as soon as it appears)"
			if !strings.HasPrefix(lastErr, want) || !strings.Contains(lastErr, tc.dev+": No such file or directory") {
				t.Errorf("last_error %q, want %q... and ffmpeg's error", lastErr, want)
			}
			if pids := d.ffmpegPIDs(); len(pids) > 1 {
				t.Errorf("%d ffmpeg running for one webcam", len(pids))
			}
			d.stop(t)
		})
	}
}
