package main

import (
	"bytes"
	"context"
	"image/jpeg"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

const camPass = "s3cr3t-Pa55"

func TestViewersGetFullRateSnapshotsAndNoPassword(t *testing.T) {
	const fps = 15
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: fps, GOP: fps,
		User: "viewer", Pass: camPass, Log: camLog(t)})
	d := startDaemon(t, "--url", cam.URL())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const viewers = 10
	const window = 4 * time.Second
	vs := make([]*viewer, viewers)
	for i := range vs {
		vs[i] = watch(ctx, t, d.base+"/video")
		checkPart(t, vs[i].nextLive(t, 15*time.Second))
	}
	for _, v := range vs {
		drain(v)
	}
	// Count what the daemon got from ffmpeg and what each viewer got over the
	// same window: on a loaded machine the camera itself may fall below its
	// nominal rate, and a viewer can only get what the camera sends.
	before := d.status(t, "default")["frames"].(float64)
	start := time.Now()
	time.Sleep(window)
	got := d.status(t, "default")["frames"].(float64) - before
	took := time.Since(start)
	camRate := got / took.Seconds()
	t.Logf("the daemon got %.0f frames from the camera in %v: %.1f fps (nominal %d)", got, took.Round(time.Millisecond), camRate, fps)
	if camRate < 0.5*fps {
		t.Errorf("camera rate %.1f fps: far below its nominal %d", camRate, fps)
	}
	for i, v := range vs {
		n := 0
	count:
		for {
			select {
			case p, ok := <-v.parts:
				if !ok {
					t.Fatalf("viewer %d: stream ended", i)
				}
				if p.at.After(start.Add(took)) {
					break count
				}
				if p.noSignal {
					t.Errorf("viewer %d: no-signal part while the camera streams", i)
					continue
				}
				checkPart(t, p)
				n++
			default:
				break count
			}
		}
		t.Logf("viewer %d: %d frames = %.1f fps", i, n, float64(n)/took.Seconds())
		if float64(n) < 0.9*got-1 {
			t.Errorf("viewer %d got %d frames of the camera's %.0f (want >= 90%%)", i, n, got)
		}
	}
	if n := len(d.ffmpegPIDs()); n != 1 {
		t.Errorf("%d ffmpeg processes for %d viewers, want 1", n, viewers)
	}

	// Snapshots decode and change over time.
	var shots [][]byte
	for _, path := range []string{"/snapshot", "/cameras/default/snapshot", "/?action=snapshot"} {
		resp, body := d.get(t, path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Timestamp") == "" || resp.Header.Get("Last-Modified") == "" {
			t.Errorf("%s: missing X-Timestamp or Last-Modified", path)
		}
		if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
			t.Fatalf("%s: not a JPEG: %v", path, err)
		}
		shots = append(shots, body)
		time.Sleep(300 * time.Millisecond) // let the moving pattern move
	}
	if bytes.Equal(shots[0], shots[len(shots)-1]) {
		t.Error("snapshots taken 600 ms apart are identical: the picture does not move")
	}

	st := d.status(t, "default")
	if st["state"] != "streaming" || !strings.Contains(st["url"].(string), "viewer:xxxxx@") {
		t.Errorf("status = %v", st)
	}
	cancel()
	d.stop(t)
	if strings.Contains(d.log.String(), camPass) {
		t.Error("the camera password appears in the daemon's log")
	}
}

// A camera reboot, a frozen camera and a killed ffmpeg, each survived on the
// same viewer connection.
func TestDaemonSurvivesCameraFaults(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 15, GOP: 15,
		User: "viewer", Pass: camPass, Log: camLog(t)})
	d := startDaemon(t, "--url", cam.URL())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v := watch(ctx, t, d.base+"/cameras/default/video")
	v.nextLive(t, 15*time.Second)

	t.Run("camera reboot", func(t *testing.T) {
		must(t, cam.Reboot(3*time.Second))
		back := time.Now()
		if n := drain(v); n == 0 {
			t.Error("no no-signal part reached the viewer while the camera was down")
		}
		p := v.nextLive(t, 10*time.Second)
		took := p.at.Sub(back)
		t.Logf("frames again %v after the camera returned", took.Round(time.Millisecond))
		if took > 3*time.Second {
			t.Errorf("frames came back %v after the camera, want <= 3s", took)
		}
	})

	t.Run("camera frozen past stall_timeout", func(t *testing.T) {
		restarts := d.status(t, "default")["restarts"].(float64)
		must(t, cam.Pause())
		paused := true
		defer func() {
			if paused {
				_ = cam.Resume()
			}
		}()
		eventually(t, 15*time.Second, "the daemon to restart ffmpeg after the stall", func() bool {
			st := d.status(t, "default")
			return st["restarts"].(float64) > restarts && strings.Contains(st["last_error"].(string), "stall_timeout")
		})
		resp, body := d.get(t, "/snapshot")
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"error"`) {
			t.Errorf("snapshot during the gap: %d %q (Retry-After %q), want 503 JSON", resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
		// Frames sent before the pause may still be queued ahead of it.
		gotNoSignal := false
		for deadline := time.Now().Add(5 * time.Second); !gotNoSignal && time.Now().Before(deadline); {
			gotNoSignal = v.next(t, time.Until(deadline)+time.Millisecond).noSignal
		}
		if !gotNoSignal {
			t.Error("viewer got no no-signal part during the gap")
		}
		must(t, cam.Resume())
		paused = false
		resumed := time.Now()
		drain(v)
		p := v.nextLive(t, 20*time.Second)
		t.Logf("live frames again %v after the camera resumed", p.at.Sub(resumed).Round(time.Millisecond))
		resp, body = d.get(t, "/snapshot")
		if resp.StatusCode != 200 {
			t.Fatalf("snapshot after resume: %d %s", resp.StatusCode, body)
		}
		if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
			t.Errorf("snapshot after resume: %v", err)
		}
	})

	t.Run("ffmpeg killed", func(t *testing.T) {
		pids := d.ffmpegPIDs()
		if len(pids) != 1 {
			t.Fatalf("ffmpeg children: %v", pids)
		}
		must(t, syscall.Kill(pids[0], syscall.SIGKILL))
		killed := time.Now()
		eventually(t, 10*time.Second, "a new ffmpeg", func() bool {
			p := d.ffmpegPIDs()
			return len(p) == 1 && p[0] != pids[0]
		})
		drain(v)
		p := v.nextLive(t, 10*time.Second)
		if !partTime(t, p).After(killed) {
			t.Error("viewer got an old frame after the kill")
		}
		t.Logf("live frames again %v after SIGKILL", p.at.Sub(killed).Round(time.Millisecond))
	})
	cancel()
	d.stop(t)
	if strings.Contains(d.log.String(), camPass) {
		t.Error("the camera password appears in the daemon's log")
	}
}

// drain drops the parts a viewer has queued, so the next one read is new,
// and returns how many of them were no-signal parts.
func drain(v *viewer) (noSignal int) {
	for {
		select {
		case p, ok := <-v.parts:
			if !ok {
				return noSignal
			}
			if p.noSignal {
				noSignal++
			}
		default:
			return noSignal
		}
	}
}

func TestDemoServesAMovingPicture(t *testing.T) {
	needFFmpeg(t)
	d := startDaemon(t, "--demo")
	var shots [][]byte
	eventually(t, 20*time.Second, "two different demo snapshots", func() bool {
		resp, body := d.get(t, "/snapshot")
		if resp.StatusCode == 200 {
			if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
				t.Fatalf("demo snapshot: %v", err)
			}
			shots = append(shots, body)
		}
		return len(shots) >= 2 && !bytes.Equal(shots[0], shots[len(shots)-1])
	})
	d.stop(t)
}

func TestStartErrorsExit2(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"no camera", nil, nil, "--url"},
		{"url and demo", []string{"--url", "rtsp://h/x", "--demo"}, nil, "exclusive"},
		{"bad scheme", []string{"--url", "ftp://u:pw1234@h/x"}, nil, "scheme \"ftp\""},
		{"no host", []string{"--url", "rtsp:///x"}, nil, "no host"},
		{"a path that is no webcam", []string{"--url", "/dev/sda"}, nil, `"/dev/sda" is not a webcam: want /dev/videoN`},
		{"a negative webcam index", nil, []string{"RTSP2MJPEG_URL=-1"}, "or /dev/videoN for a webcam"},
		{"bad flag", []string{"--nope"}, nil, "nope"},
		{"bad log level", []string{"--url", "rtsp://h/x", "--log-level", "loud"}, nil, "log-level"},
		{"port in use", []string{"--url", "rtsp://127.0.0.1:1/x", "--listen", busy.Addr().String()}, nil, "listen"},
		{"ffmpeg missing", []string{"--url", "rtsp://h/x"}, []string{"PATH=/nonexistent"}, "apt-get install ffmpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := launchEnv(t, tt.env, tt.args...)
			if code := d.exitCode(t, 10*time.Second); code != 2 {
				t.Errorf("exit code %d, want 2\n%s", code, d.log)
			}
			if out := d.log.String(); !strings.Contains(out, tt.want) || strings.Contains(out, "pw1234") {
				t.Errorf("message %q, want it to mention %q and no password", out, tt.want)
			}
		})
	}
}
