package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
)

// fakeWebcam returns a camera of the webcam <dir>/video9, dir a temporary
// directory that stands for /dev in this test (the device is a plain file
// that the test makes and removes), whose ffmpeg is the fake in mode. It
// returns the device's path and the file where each fake ffmpeg writes its
// arguments (one line per run; listings have -list_formats).
func fakeWebcam(t *testing.T, mode string, mod func(*CameraConfig)) (cam *Camera, dev, argsfile string, hook *logtest.Hook) {
	t.Helper()
	dir := t.TempDir()
	old := v4l2Dir
	v4l2Dir = dir
	t.Cleanup(func() { v4l2Dir = old }) // after the camera's Run returned (cleanups run last first)
	dev = filepath.Join(dir, "video9")
	argsfile = filepath.Join(t.TempDir(), "args")
	cam, _, hook = fakeCamera(t, mode+",argsfile="+argsfile, func(c *CameraConfig) {
		c.URL = dev
		c.Profiles = nil
		mod(c)
	})
	return cam, dev, argsfile, hook
}

// runsOf returns the argument lines of the fake's runs: listings of
// formats, and the others.
func runsOf(t *testing.T, argsfile string) (lists, runs []string) {
	t.Helper()
	b, err := os.ReadFile(argsfile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		switch {
		case l == "":
		case strings.Contains(l, "-list_formats"):
			lists = append(lists, l)
		default:
			runs = append(runs, l)
		}
	}
	return lists, runs
}

func logged(hook *logtest.Hook, msg string) bool {
	for _, e := range hook.AllEntries() {
		if e.Message == msg {
			return true
		}
	}
	return false
}

func TestWebcamMissingRestartsWhenPluggedIn(t *testing.T) {
	cam, dev, argsfile, hook := fakeWebcam(t, "v4l2dev,frames=-1", func(*CameraConfig) {})
	runCamera(t, cam)
	// Four failed starts: the backoff has grown to about 4 s.
	eventually(t, 15*time.Second, "four failed starts", func() bool { return cam.Status().Restarts >= 4 })
	st := cam.Status()
	want := dev + " does not exist: plug the webcam in (the camera starts as soon as it appears)"
	if st.State != StateBackoff || !strings.HasPrefix(st.LastError, want) || !strings.Contains(st.LastError, dev+": No such file or directory") {
		t.Fatalf("state %s, last_error %q; want backoff and %q...", st.State, st.LastError, want)
	}
	if st.URL != dev {
		t.Errorf("url = %q", st.URL)
	}
	lists, runs := runsOf(t, argsfile)
	if len(runs) != 0 || len(lists) < 4 {
		t.Errorf("ffmpeg ran %d times and listed formats %d times; want listings only (the listing finds the device missing)", len(runs), len(lists))
	}

	plugged := time.Now()
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := cam.Next(ctx, 0); err != nil {
		t.Fatalf("no frame after the device appeared: %v", err)
	}
	// The watch sees the node within 250 ms; the backoff would have waited
	// at least 3.2 s.
	if el := time.Since(plugged); el > 2500*time.Millisecond {
		t.Errorf("first frame %v after the device appeared; want a restart at once", el)
	}
	if !logged(hook, "camera answers again, restarting now") {
		t.Error("the restart did not come from the watch")
	}
	_, runs = runsOf(t, argsfile)
	if len(runs) == 0 || !strings.Contains(runs[0], "-f v4l2 -analyzeduration 0 -flags low_delay -input_format mjpeg -probesize 32 -i "+dev+" -an -c:v copy") {
		t.Errorf("run after the listing: %q; want mjpeg in, codec copy", runs)
	}
	// The state follows the frame a moment later.
	eventually(t, 5*time.Second, "streaming", func() bool { return cam.Status().State == StateStreaming })
	if st := cam.Status(); st.Codec != CodecCopy {
		t.Errorf("codec %q, want copy", st.Codec)
	}
}

func TestWebcamBusy(t *testing.T) {
	cam, dev, _, hook := fakeWebcam(t, "v4l2err=busy", func(*CameraConfig) {})
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	runCamera(t, cam)
	eventually(t, 10*time.Second, "two failed starts", func() bool { return cam.Status().Restarts >= 2 })
	st := cam.Status()
	want := dev + " is busy: another program is reading it (only one reader at a time); "
	if st.State == StateStreaming || !strings.HasPrefix(st.LastError, want) || !strings.HasSuffix(st.LastError, dev+": Device or resource busy") {
		t.Errorf("state %s, last_error %q; want %q...", st.State, st.LastError, want)
	}
	// The node is there: the watch does not cut the backoff short.
	if logged(hook, "camera answers again, restarting now") {
		t.Error("a busy device restarted at once")
	}
}

func TestWebcamRefusesFormat(t *testing.T) {
	cam, dev, argsfile, _ := fakeWebcam(t, "v4l2err=format,listformats=c920", func(c *CameraConfig) {
		c.VideoSize, c.Framerate = "1920x1080", 60
	})
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	runCamera(t, cam)
	eventually(t, 10*time.Second, "a failed start", func() bool { return cam.Status().Restarts >= 1 })
	want := dev + " refuses input_format mjpeg, video_size 1920x1080, framerate 60: it offers yuyv422 (640x480"
	if st := cam.Status(); !strings.HasPrefix(st.LastError, want) ||
		!strings.Contains(st.LastError, "set input_format, video_size and framerate to what ffmpeg -f v4l2 -list_formats all -i "+dev+" lists") ||
		!strings.Contains(st.LastError, "Cannot find a proper format") {
		t.Errorf("last_error %q, want %q...", st.LastError, want)
	}
	_, runs := runsOf(t, argsfile)
	if !strings.Contains(runs[0], "-f v4l2 -video_size 1920x1080 -analyzeduration 0 -flags low_delay -framerate 60 -input_format mjpeg -probesize 32 -i "+dev) {
		t.Errorf("args: %s", runs[0])
	}
}

func TestWebcamRawOnlyIsEncoded(t *testing.T) {
	cam, dev, argsfile, _ := fakeWebcam(t, "listformats=vivid,frames=-1", func(*CameraConfig) {})
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	runCamera(t, cam)
	eventually(t, 10*time.Second, "frames", func() bool { return cam.Status().Frames > 0 })
	_, runs := runsOf(t, argsfile)
	if strings.Contains(runs[0], "-input_format") || !strings.Contains(runs[0], "-c:v mjpeg") {
		t.Errorf("args %s: want the device's default format, encoded", runs[0])
	}
	if st := cam.Status(); st.Codec != CodecMJPEG {
		t.Errorf("codec %q, want mjpeg", st.Codec)
	}
}

func TestWebcamFormatsListedOncePerStartThatNeedsIt(t *testing.T) {
	t.Run("kept while runs end well", func(t *testing.T) {
		cam, dev, argsfile, _ := fakeWebcam(t, "frames=-1", func(c *CameraConfig) {
			c.OnDemand = true
			c.IdleTimeout = 50 * time.Millisecond
		})
		if err := os.WriteFile(dev, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		runCamera(t, cam)
		for i := range 2 {
			before := cam.Status().Frames
			release := cam.Acquire()
			eventually(t, 10*time.Second, "a frame for viewer "+strconv.Itoa(i), func() bool { return cam.Status().Frames > before })
			release()
			eventually(t, 5*time.Second, "idle", func() bool { st := cam.Status(); return st.State == StateIdle && !st.Running })
		}
		if lists, runs := runsOf(t, argsfile); len(lists) != 1 || len(runs) != 2 {
			t.Errorf("%d listings for %d runs; want 1 for 2", len(lists), len(runs))
		}
		release := cam.Acquire()
		defer release()
		eventually(t, 10*time.Second, "a third run", func() bool { _, runs := runsOf(t, argsfile); return len(runs) == 3 })
		cfg, _, _ := cam.config()
		cfg.Width = 320
		cam.Reconfigure(cfg) // a new config asks again
		eventually(t, 10*time.Second, "a fourth run", func() bool { _, runs := runsOf(t, argsfile); return len(runs) == 4 })
		lists, runs := runsOf(t, argsfile)
		if len(lists) != 2 {
			t.Errorf("%d listings after a reload; want 2", len(lists))
		}
		// A width needs a filter: the camera's JPEGs are decoded and encoded.
		if !strings.Contains(runs[3], "-input_format mjpeg") || !strings.Contains(runs[3], "-c:v mjpeg") || !strings.Contains(runs[3], "scale=320:-2 pipe:1") {
			t.Errorf("run with width 320: %s", runs[3])
		}
	})
	t.Run("asked again after a failed run", func(t *testing.T) {
		cam, dev, argsfile, _ := fakeWebcam(t, "frames=2,exit=1", func(*CameraConfig) {})
		if err := os.WriteFile(dev, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		runCamera(t, cam)
		eventually(t, 10*time.Second, "two failed runs", func() bool { return cam.Status().Restarts >= 2 })
		if lists, runs := runsOf(t, argsfile); len(lists) < len(runs) {
			t.Errorf("%d listings for %d runs; want one per run", len(lists), len(runs))
		}
	})
	t.Run("not asked with input_format set", func(t *testing.T) {
		cam, dev, argsfile, _ := fakeWebcam(t, "frames=-1", func(c *CameraConfig) { c.InputFormat = "yuyv422" })
		if err := os.WriteFile(dev, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		runCamera(t, cam)
		eventually(t, 10*time.Second, "frames", func() bool { return cam.Status().Frames > 0 })
		lists, runs := runsOf(t, argsfile)
		if len(lists) != 0 || !strings.Contains(runs[0], "-input_format yuyv422") || !strings.Contains(runs[0], "-c:v mjpeg") {
			t.Errorf("listings %q, runs %q; want none, and yuyv422 encoded", lists, runs)
		}
	})
}

func TestWebcamListingFailsButCameraRuns(t *testing.T) {
	for _, mode := range []string{"garbage", "hang"} {
		t.Run(mode, func(t *testing.T) {
			cam, dev, argsfile, hook := fakeWebcam(t, "frames=-1,listformats="+mode, func(c *CameraConfig) {
				if mode == "hang" {
					c.StartTimeout = 2 * time.Second // the listing's timeout too
				}
			})
			if err := os.WriteFile(dev, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			runCamera(t, cam)
			eventually(t, 10*time.Second, "frames", func() bool { return cam.Status().Frames > 0 })
			_, runs := runsOf(t, argsfile)
			if strings.Contains(runs[0], "-input_format") || !strings.Contains(runs[0], "-c:v mjpeg") {
				t.Errorf("args %s: want ffmpeg's choice of format, encoded", runs[0])
			}
			if !logged(hook, "webcam: cannot list its formats; ffmpeg picks one, and the camera encodes") {
				t.Error("no warning about the listing")
			}
			if st := cam.Status(); st.Restarts != 0 {
				t.Errorf("a failed listing counted as a failed run: %+v", st)
			}
		})
	}
}
