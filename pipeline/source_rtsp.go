package pipeline

import (
	"context"
	"net/url"
	"strconv"
)

// rtspSource is an IP camera read over RTSP (rtsp:// or rtsps://).
type rtspSource struct {
	raw string // as given: ffmpeg gets it unchanged
	u   *url.URL
}

func (s rtspSource) input(c CameraConfig, longProbe bool) (map[string]string, string) {
	kw := map[string]string{
		"rtsp_transport": c.RTSPTransport,
		// -timeout is the only RTSP socket timeout that works in 5.1 (µs).
		"timeout": strconv.FormatInt(c.StallTimeout.Microseconds(), 10),
		// SETUP of the video track only: most cameras also offer audio
		// (G.711 or AAC), and some an ONVIF metadata track, which the
		// daemon drops (-an) but the camera would send all the same.
		"allowed_media_types": "video",
	}
	lowDelayProbe(kw, longProbe)
	return kw, s.raw
}

func (s rtspSource) watch() func(ctx context.Context) bool {
	port := "554"
	if s.u.Scheme == "rtsps" {
		port = "322"
	}
	return dialWatch(s.u, port)
}

func (rtspSource) unreachable(err error) bool { return isConnectError(err) }

func (rtspSource) kind(CameraConfig) string { return "rtsp" }
