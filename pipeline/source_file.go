package pipeline

import "context"

// fileSource is a video file (file://) played as a camera would send it:
// at its native rate, looped. For demos and tests.
type fileSource struct{ path string }

func (s fileSource) input(CameraConfig, bool) (map[string]string, string) {
	// ffmpeg 5.1 refuses the network options on a file input.
	return map[string]string{"re": "", "stream_loop": "-1"}, s.path
}

// watch: a file is always there or never; the backoff alone retries it.
func (fileSource) watch() func(ctx context.Context) bool { return nil }

func (fileSource) unreachable(error) bool { return false }

func (fileSource) kind(CameraConfig) string { return "file" }
