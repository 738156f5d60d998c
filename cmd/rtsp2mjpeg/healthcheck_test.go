package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

// runHealthcheck runs `rtsp2mjpeg healthcheck args...` as its own process,
// as the image's HEALTHCHECK does, and returns its exit code and output.
func runHealthcheck(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"healthcheck"}, args...)...)
	cmd.Env = append(append(os.Environ(), daemonEnv+"=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("healthcheck: %v", err)
	return 0, ""
}

// The image's HEALTHCHECK is the daemon's own healthcheck subcommand (the
// image has no curl): 0 while the daemon serves, 1 once it is gone, 2 for
// a bad argument.
func TestHealthcheckSubcommand(t *testing.T) {
	needFFmpeg(t)
	cam := startCamera(t, synthcam.Config{Width: 160, Height: 120, FPS: 5})
	d := startDaemon(t, "--url", cam.URL())

	if code, out := runHealthcheck(t, nil, d.base+"/healthz"); code != 0 || !strings.Contains(out, "200 OK") {
		t.Fatalf("healthcheck of a serving daemon: exit %d, %q", code, out)
	}
	// Without a URL: the address in RTSP2MJPEG_LISTEN, as the image sets it.
	addr := strings.TrimPrefix(d.base, "http://")
	if code, out := runHealthcheck(t, []string{"RTSP2MJPEG_LISTEN=" + addr}); code != 0 {
		t.Fatalf("healthcheck with RTSP2MJPEG_LISTEN=%s: exit %d, %q", addr, code, out)
	}
	if code, out := runHealthcheck(t, nil, d.base+"/no-such-path"); code != 1 || !strings.Contains(out, "404") {
		t.Fatalf("healthcheck of a 404: exit %d, %q", code, out)
	}
	if code, out := runHealthcheck(t, nil, "rtsp://127.0.0.1/"); code != 2 || !strings.Contains(out, "not an http:// URL") {
		t.Fatalf("healthcheck of an rtsp URL: exit %d, %q", code, out)
	}
	d.stop(t)
	if code, out := runHealthcheck(t, nil, d.base+"/healthz"); code != 1 || !strings.Contains(out, "connection refused") {
		t.Fatalf("healthcheck of a stopped daemon: exit %d, %q", code, out)
	}
}

func TestHealthzURL(t *testing.T) {
	for listen, want := range map[string]string{
		"":               "http://127.0.0.1:8007/healthz",
		":8007":          "http://127.0.0.1:8007/healthz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/healthz",
		"[::]:9000":      "http://127.0.0.1:9000/healthz",
		"127.0.0.2:8080": "http://127.0.0.2:8080/healthz",
		"[::1]:8007":     "http://[::1]:8007/healthz",
	} {
		got, err := healthzURL(listen)
		if err != nil || got != want {
			t.Errorf("healthzURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
	if _, err := healthzURL("8007"); err == nil {
		t.Error("healthzURL(\"8007\"): want an error (no colon)")
	}
}
