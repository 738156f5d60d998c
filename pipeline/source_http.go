package pipeline

import (
	"context"
	"net/url"
	"strconv"
)

// httpSource is a camera that serves its video over HTTP (http:// or
// https://), read by ffmpeg.
type httpSource struct {
	raw string // as given: ffmpeg gets it unchanged
	u   *url.URL
}

func (s httpSource) input(c CameraConfig, longProbe bool) (map[string]string, string) {
	kw := map[string]string{"timeout": strconv.FormatInt(c.StallTimeout.Microseconds(), 10)}
	lowDelayProbe(kw, longProbe)
	return kw, s.raw
}

func (s httpSource) watch() func(ctx context.Context) bool {
	port := "80"
	if s.u.Scheme == "https" {
		port = "443"
	}
	return dialWatch(s.u, port)
}

func (httpSource) unreachable(err error) bool { return isConnectError(err) }
