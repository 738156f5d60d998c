package pipeline

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// source is what differs between kinds of camera input: how ffmpeg reads
// it, how to tell that it is reachable again while the camera backs off,
// and how to read its errors. The Camera does the rest (supervision,
// state) the same way for every kind. One file per kind: source_rtsp.go,
// source_http.go, source_file.go, source_v4l2.go.
type source interface {
	// input returns ffmpeg's options before -i and the -i target. longProbe
	// asks for a full stream analysis (the short one failed on this camera).
	input(c CameraConfig, longProbe bool) (opts map[string]string, target string)
	// watch returns a cheap check that the source answers now (a TCP dial),
	// used while backing off to restart as soon as it is back; nil when
	// the kind has none.
	watch() func(ctx context.Context) bool
	// unreachable tells, from the error of a failed run, that the source
	// could not be reached at all (as opposed to reached and failing).
	unreachable(err error) bool
	// kind names the kind in status: rtsp, http, http-poll, webcam, file.
	kind(c CameraConfig) string
}

// runWrapper is a source kind that does more around each run of ffmpeg
// than the Camera does for every kind: a webcam lists its formats before
// and explains its errors after (source_v4l2.go).
type runWrapper interface {
	run(ctx context.Context, c *Camera, cfg CameraConfig, redact *Redactor) (healthy time.Duration, err error)
}

// runSource is one run of the camera's ffmpeg (runOnce), through its
// source kind when that kind wraps runs.
func (c *Camera) runSource(ctx context.Context, src source, cfg CameraConfig, redact *Redactor) (time.Duration, error) {
	if w, ok := src.(runWrapper); ok {
		return w.run(ctx, c, cfg, redact)
	}
	return c.runOnce(ctx, cfg, redact)
}

// sourceFor returns the source kind of a camera URL (ValidateURL checked it).
func sourceFor(rawURL string) source {
	rawURL = NormalizeURL(rawURL)
	if IsV4L2URL(rawURL) {
		return &v4l2Source{device: rawURL}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fileSource{path: rawURL}
	}
	switch strings.ToLower(u.Scheme) {
	case "rtsp", "rtsps":
		return rtspSource{raw: rawURL, u: u}
	case "http", "https":
		return httpSource{raw: rawURL, u: u}
	default:
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		return fileSource{path: path}
	}
}

// lowDelayProbe sets the options that make a network camera's first frame
// come fast: no stream analysis, no frame threads.
func lowDelayProbe(kw map[string]string, longProbe bool) {
	// No stream analysis: the SDP of an RTSP camera already says what the
	// stream is, and analysing it costs most of a cold start. low_delay
	// also keeps the decoder off frame threads, which hold frames back.
	kw["flags"] = "low_delay"
	if longProbe {
		kw["probesize"] = "1000000"
		kw["analyzeduration"] = "1000000"
		// A second of probed packets would be decoded late: drop them.
		kw["fflags"] = "nobuffer"
		return
	}
	// Not -fflags nobuffer here: it drops the few packets read while
	// probing, which often hold the first keyframe, so the first frame came
	// a whole keyframe interval later (GOP 4 at 15 fps: 500 ms from exec to
	// the first JPEG instead of 250 ms).
	kw["probesize"] = "32"
	kw["analyzeduration"] = "0"
}

// isConnectError tells an error (ffmpeg's, its stderr tail in it, or the
// native reader's) that says the host could not be reached at all.
func isConnectError(err error) bool {
	msg := strings.ToLower(err.Error()) // ffmpeg's "Connection refused", Go's "connection refused"
	for _, s := range []string{"connection refused", "no route to host", "network is unreachable", "connection timed out", "i/o timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
