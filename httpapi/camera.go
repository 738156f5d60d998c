package httpapi

import (
	"context"
	"time"

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

// mainFeed returns cam's main stream as a feed. *pipeline.Camera and the
// test fakes are feeds themselves; any other Camera gets NextBefore built on
// its Next.
func mainFeed(cam Camera) pipeline.Feed {
	if f, ok := cam.(pipeline.Feed); ok {
		return f
	}
	return timedFeed{cam}
}

// timedFeed adds NextBefore to a Camera that lacks it.
type timedFeed struct{ Camera }

func (t timedFeed) NextBefore(ctx context.Context, after uint64, timeout <-chan time.Time) (*pipeline.Frame, error) {
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-timeout:
			cancel()
		case <-wait.Done():
		}
	}()
	f, err := t.Next(wait, after)
	if err != nil && ctx.Err() == nil && wait.Err() != nil {
		return nil, pipeline.ErrNoFrameYet
	}
	return f, err
}

// feedOf is one feed of a camera that a request serves: its main stream or
// one of its profiles.
type feedOf struct {
	cam     Camera
	profile string // pipeline.MainProfile, or the profile's name
	feed    pipeline.Feed
}

// isMain reports whether f is the camera's main stream.
func (f feedOf) isMain() bool { return f.profile == pipeline.MainProfile }

// cameraFeed returns cam's feed called profile: "" and "main" name the main
// stream; false if the camera has no such profile.
func cameraFeed(cam Camera, profile string) (feedOf, bool) {
	if profile == "" || profile == pipeline.MainProfile {
		return feedOf{cam: cam, profile: pipeline.MainProfile, feed: mainFeed(cam)}, true
	}
	feed, ok := cam.Profile(profile)
	if !ok || feed == nil {
		return feedOf{}, false
	}
	return feedOf{cam: cam, profile: profile, feed: feed}, true
}

// state is the state of the feed: the camera's for its main stream, the
// profile's own for a profile (the camera's if its status does not list it).
func (f feedOf) state() pipeline.State {
	st := f.cam.Status()
	if !f.isMain() {
		for _, p := range st.Profiles {
			if p.Name == f.profile {
				return p.State
			}
		}
	}
	return st.State
}
