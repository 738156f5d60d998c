package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

// TestStandby: a camera with when_idle: standby decodes keyframes only
// while nobody watches, with one ffmpeg and one RTSP session; its
// snapshots stay fresh and do not wake it; a viewer gets the newest
// keyframe at once, then the camera's full rate from a decoder fed by the
// same ffmpeg; idle_timeout after the viewer leaves, keyframes only again.
func TestStandby(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 640, Height: 360, FPS: 15, GOP: 15, Log: camLog(t)})
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: door\n    url: %s\n    when_idle: standby\n    idle_timeout: 2s\n", cam.URL())))
	standbyNow := func() bool {
		st := d.status(t, "door")
		pids := d.ffmpegPIDs()
		return st["decoding"] == "keyframes" && st["keyframe_interval"].(float64) > 0 && len(pids) == 1 &&
			strings.Contains(cmdline(pids[0]), "-skip_frame nokey") && strings.Contains(cmdline(pids[0]), "-f mpegts")
	}
	eventually(t, 20*time.Second, "standby: keyframes only, one ffmpeg", standbyNow)
	st := d.status(t, "door")
	t.Logf("standby: %s; keyframe interval %.2fs", cmdline(d.ffmpegPIDs()[0]), st["keyframe_interval"])
	if ki := st["keyframe_interval"].(float64); ki < 0.7 || ki > 1.5 {
		t.Errorf("keyframe interval %.2fs, want about 1s (GOP 15 at 15 fps)", ki)
	}
	if st["when_idle"] != "standby" {
		t.Errorf("when_idle %v", st["when_idle"])
	}
	if m := d.metric(t, `rtsp2mjpeg_decoding{camera="door",mode="keyframes"}`); m != 1 {
		t.Errorf("metric decoding{mode=keyframes} = %v in standby, want 1", m)
	}
	if m := d.metric(t, `rtsp2mjpeg_keyframe_interval_seconds{camera="door"}`); m < 0.7 || m > 1.5 {
		t.Errorf("metric keyframe_interval_seconds = %v, want about 1", m)
	}

	// Snapshots: fresh, and they leave the camera in standby.
	for range 4 {
		resp, _ := d.get(t, "/cameras/door/snapshot")
		if resp.StatusCode != 200 {
			t.Fatalf("snapshot in standby: %d", resp.StatusCode)
		}
		at := headerTime(t, resp.Header)
		if time.Since(at) > 1500*time.Millisecond {
			t.Errorf("snapshot in standby is %v old, want under a keyframe interval", time.Since(at).Round(time.Millisecond))
		}
		time.Sleep(250 * time.Millisecond) // cron-like pacing, not a wait for a condition
	}
	// A max_age shorter than standby gives: it waits for the next keyframe.
	asked := time.Now()
	resp, _ := d.get(t, "/cameras/door/snapshot?max_age=100ms")
	at := headerTime(t, resp.Header)
	if resp.StatusCode != 200 || at.Before(asked.Add(-101*time.Millisecond)) {
		t.Errorf("snapshot with max_age 100ms in standby: %d, captured %v (asked %v); want 200 and a keyframe at most 100ms old",
			resp.StatusCode, at, asked)
	}
	t.Logf("snapshot with max_age=100ms in standby: %v", time.Since(asked).Round(time.Millisecond))
	if n := len(d.ffmpegPIDs()); n != 1 || cam.Readers() != 1 {
		t.Errorf("after snapshots: %d ffmpeg, %d RTSP sessions; want 1 and 1", n, cam.Readers())
	}

	// A viewer: the newest keyframe at once, then full rate.
	ctx, cancel := context.WithCancel(t.Context())
	arrived := time.Now()
	v := watch(ctx, t, d.base+"/cameras/door/video")
	first := v.nextLive(t, 5*time.Second)
	second := v.nextLive(t, 5*time.Second)
	t.Logf("viewer's first frame %v after arrival (the newest keyframe), the next %v after",
		first.at.Sub(arrived).Round(time.Millisecond), second.at.Sub(arrived).Round(time.Millisecond))
	rate := rateOf(t, v, 3*time.Second)
	t.Logf("viewer's rate %.1f fps", rate)
	if rate < 12 {
		t.Errorf("viewer of a camera woken from standby gets %.1f fps, want the camera's 15", rate)
	}
	st = d.status(t, "door")
	pids := d.ffmpegPIDs()
	decoder := ""
	for _, p := range pids {
		if c := cmdline(p); strings.Contains(c, "-i pipe:0") {
			decoder = c
		}
	}
	if st["decoding"] != "all" || len(pids) != 2 || !strings.Contains(decoder, "-f mpegts") || cam.Readers() != 1 {
		t.Errorf("watched: decoding %v, %d ffmpeg (decoder %q), %d RTSP sessions; want all, 2, a decoder of the MPEG-TS copy, 1",
			st["decoding"], len(pids), decoder, cam.Readers())
	}

	// The viewer leaves: idle_timeout later, standby again.
	cancel()
	left := time.Now()
	eventually(t, 15*time.Second, "standby again", standbyNow)
	t.Logf("standby again %v after the viewer left (idle_timeout 2s)", time.Since(left).Round(time.Millisecond))
}

// TestStandbyCopyCameraSaysSo: a camera that sends MJPEG decodes nothing,
// so standby changes nothing for it, and its status says so rather than
// pretend.
func TestStandbyCopyCameraSaysSo(t *testing.T) {
	cam := newSloppyCam(t, "", "")
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: mj\n    url: %s/stream/clean\n    when_idle: standby\n", cam.srv.URL)))
	eventually(t, 15*time.Second, "streaming", func() bool { return d.status(t, "mj")["state"] == "streaming" })
	st := d.status(t, "mj")
	if st["when_idle"] != "standby" || st["decoding"] != "none" || !strings.Contains(fmt.Sprint(st["when_idle_note"]), "nothing is decoded") {
		t.Errorf("MJPEG camera with when_idle standby: when_idle %v, decoding %v, note %q", st["when_idle"], st["decoding"], st["when_idle_note"])
	}
}

// headerTime reads a response's X-Timestamp (unix seconds, ms resolution).
func headerTime(t *testing.T, h http.Header) time.Time {
	t.Helper()
	return partTime(t, part{header: map[string]string{"X-Timestamp": h.Get("X-Timestamp")}})
}

// TestStandbyViewerFromTheStart: a viewer that comes as the daemon starts
// (a page left open) finds the viewers' decoder running before the
// keyframe JPEGs: the camera's run is not taken for one without a first
// frame and restarted.
func TestStandbyViewerFromTheStart(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, GOP: 15, Log: camLog(t)})
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: door\n    url: %s\n    when_idle: standby\n    start_timeout: 3s\n", cam.URL())))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v := watch(ctx, t, d.base+"/cameras/door/video")
	v.nextLive(t, 10*time.Second)
	rate := rateOf(t, v, 5*time.Second) // past start_timeout
	if st := d.status(t, "door"); st["restarts"] != float64(0) || st["decoding"] != "all" || rate < 12 {
		t.Errorf("viewer from the start: restarts %v (%v), decoding %v, rate %.1f fps; want 0, all, 15",
			st["restarts"], st["last_error"], st["decoding"], rate)
	}
}

// TestStandbyMJPEGCameraFromTheStart: an RTSP camera that sends MJPEG, in
// standby, with a viewer from the start: until codec auto has found MJPEG
// the viewers' decoder waits (an MJPEG stream copied into MPEG-TS does not
// decode), then the camera forwards its JPEGs (codec copy) to the viewer.
func TestStandbyMJPEGCameraFromTheStart(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, Codec: "mjpeg", Log: camLog(t)})
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: door\n    url: %s\n    when_idle: standby\n", cam.URL())))
	rate := watchRate(t, d.base+"/cameras/door/video", 3*time.Second)
	st := d.status(t, "door")
	if st["codec"] != "copy" || st["decoding"] != "none" || rate < 8 {
		t.Errorf("MJPEG camera in standby: codec %v, decoding %v, %.1f fps; want copy, none, 10", st["codec"], st["decoding"], rate)
	}
	if strings.Contains(d.log.String(), "viewers' decoder stopped") {
		t.Error("the viewers' decoder failed on the MJPEG camera's stream")
	}
}

// TestStandbyMJPEGCameraReencoded: an RTSP camera that sends MJPEG, told
// to re-encode (codec: mjpeg) and to stand by. Its stream copied into
// MPEG-TS does not decode back, and needs no decoder: every frame is a
// keyframe, which standby decodes. So a viewer gets the full rate from the
// one ffmpeg, no viewers' decoder is tried (it used to fail and restart
// every second), and the status says why standby changes nothing.
func TestStandbyMJPEGCameraReencoded(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, Codec: "mjpeg", Log: camLog(t)})
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: door\n    url: %s\n    codec: mjpeg\n    when_idle: standby\n", cam.URL())))
	eventually(t, 15*time.Second, "standby says the camera is all keyframes", func() bool {
		return strings.Contains(fmt.Sprint(d.status(t, "door")["when_idle_note"]), "every frame is a keyframe")
	})
	rate := watchRate(t, d.base+"/cameras/door/video", 3*time.Second)
	st := d.status(t, "door")
	if st["decoding"] != "all" || st["restarts"] != float64(0) || rate < 8 {
		t.Errorf("re-encoded MJPEG camera in standby, watched: decoding %v, restarts %v, %.1f fps; want all, 0, 10", st["decoding"], st["restarts"], rate)
	}
	if n := len(d.ffmpegPIDs()); n != 1 {
		t.Errorf("%d ffmpeg processes while watched, want 1 (no viewers' decoder)", n)
	}
	if strings.Contains(d.log.String(), "viewers' decoder stopped") {
		t.Error("a viewers' decoder was tried on the MJPEG stream and failed")
	}
}

// TestCameraCodecs: an RTSP camera that sends H.265, as many newer cameras
// do, and one that sends MPEG-4 Part 2, as older ones do, each with its
// stream's headers in the SDP only. Each is served at its full rate both
// at full rate and woken from standby: standby's copy repeats the headers
// before each keyframe, so the viewers' decoder can start from the
// buffered keyframe. Without that, the MPEG-4 camera's decoder failed
// ("missing VOL header") and its viewers got keyframes only, one a second.
func TestCameraCodecs(t *testing.T) {
	for _, codec := range []string{"hevc", "mpeg4"} {
		t.Run(codec, func(t *testing.T) {
			cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, GOP: 10, Codec: codec, Log: camLog(t)})
			d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
				"cameras:\n  - name: full\n    url: %s\n  - name: standby\n    url: %s\n    when_idle: standby\n", cam.URL(), cam.URL())))
			eventually(t, 15*time.Second, "standby: keyframes only", func() bool {
				st := d.status(t, "standby")
				return st["decoding"] == "keyframes" && st["keyframe_interval"].(float64) > 0
			})
			for _, name := range []string{"full", "standby"} {
				rate := watchRate(t, d.base+"/cameras/"+name+"/video", 3*time.Second)
				st := d.status(t, name)
				t.Logf("%s camera, %s: %.1f fps to a viewer, decoding %v, codec %v", codec, name, rate, st["decoding"], st["codec"])
				if st["decoding"] != "all" || st["codec"] != "mjpeg" || rate < 8 {
					t.Errorf("%s camera, %s, watched: decoding %v, codec %v, %.1f fps; want all, mjpeg and the camera's 10",
						codec, name, st["decoding"], st["codec"], rate)
				}
			}
			if log := d.log.String(); strings.Contains(log, "viewers' decoder stopped") || strings.Contains(log, "VOL header") {
				t.Errorf("the viewers' decoder failed on the %s stream", codec)
			}
		})
	}
}
