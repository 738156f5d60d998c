package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// healthcheckTimeout bounds the whole request: Docker's own timeout for the
// HEALTHCHECK is 5 s, and a hung check should say why before it is killed.
const healthcheckTimeout = 4 * time.Second

// healthcheck is `rtsp2mjpeg healthcheck [URL]`, the image's HEALTHCHECK: it
// asks the daemon's /healthz and exits 0 on a 2xx answer, 1 otherwise. The
// image needs no curl (and its libraries) for it. Without URL it asks the
// address in RTSP2MJPEG_LISTEN (default :8007) on the loopback.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprintf(stderr, "rtsp2mjpeg healthcheck: want at most one argument, the URL (default http://127.0.0.1:8007/healthz)\n")
		return exitUsage
	}
	target := ""
	if len(args) == 1 {
		target = args[0]
		if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fmt.Fprintf(stderr, "rtsp2mjpeg healthcheck: %q is not an http:// URL\n", pipeline.RedactURL(target))
			return exitUsage
		}
	} else {
		var err error
		if target, err = healthzURL(getenv("RTSP2MJPEG_LISTEN")); err != nil {
			fmt.Fprintf(stderr, "rtsp2mjpeg healthcheck: RTSP2MJPEG_LISTEN: %v\n", err)
			return exitUsage
		}
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "rtsp2mjpeg healthcheck: %v\n", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "rtsp2mjpeg healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(stderr, "rtsp2mjpeg healthcheck: %s: %s %s\n", pipeline.RedactURL(target), resp.Status, body)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", pipeline.RedactURL(target), resp.Status)
	return 0
}

// healthzURL is the /healthz URL of a daemon listening on listen, reached
// on the loopback when listen names no host (":8007", "0.0.0.0:8007").
func healthzURL(listen string) (string, error) {
	if listen == "" {
		listen = defaultListen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%q: %v", listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
