package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testWriter sends the soak's table to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSoakShort is the soak in CI size: 30 s instead of 10 minutes, a
// sample every 5 s, camera c rebooting every 10 s. scripts/soak.sh runs
// the full length.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("a 30 s soak")
	}
	for _, tool := range []string{"ffmpeg", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; CI must install it (scripts/setup.sh)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	bin := filepath.Join(t.TempDir(), "rtsp2mjpeg")
	build := exec.Command("go", "build", "-o", bin, "github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	o := defaultOptions()
	o.Daemon = bin
	o.Duration = 30 * time.Second
	o.Sample = 5 * time.Second
	o.RebootEvery = 10 * time.Second
	o.RebootDown = 2 * time.Second
	o.StayMax = 10 * time.Second
	o.Out = testWriter{t}
	res, err := soak(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Failures {
		t.Error(f)
	}
	if len(res.Samples) < 6 {
		t.Errorf("%d samples in 30 s, want 6 or more", len(res.Samples))
	}
	if len(res.Recoveries) < 2 {
		t.Errorf("camera c came back at a viewer after %d reboots, want 2 or more", len(res.Recoveries))
	}
	if t.Failed() {
		t.Logf("daemon log tail:\n%s", res.LogTail)
	}
}
