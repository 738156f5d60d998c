package httpapi

import (
	"context"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// Camera is what the HTTP layer needs of a camera. *pipeline.Camera
// implements it; tests use fakes.
type Camera interface {
	// Name is the camera's name, as used in URLs.
	Name() string
	// Latest returns the newest frame, or nil before the first one.
	Latest() *pipeline.Frame
	// Next returns the newest frame with Seq > after, waiting until one
	// arrives or ctx ends.
	Next(ctx context.Context, after uint64) (*pipeline.Frame, error)
	// Status reports the camera's state and counters.
	Status() pipeline.Status
	// Acquire registers a viewer (stream or snapshot): an on-demand camera
	// runs ffmpeg while any holder exists. The caller must call release once.
	Acquire() (release func())
	// Profile returns the feed of the camera's profile called name
	// (DESIGN.md "Profiles"), or false when it has none by that name. The
	// main stream is the Camera itself, not a profile.
	Profile(name string) (pipeline.Feed, bool)
}
