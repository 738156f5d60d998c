package pipeline

import (
	"context"
	"time"
)

// Feed is one stream of JPEG frames that viewers read: a camera's main
// stream (the Camera itself) or one of its profiles.
type Feed interface {
	// Latest returns the newest frame, or nil before the first one; the
	// caller releases it.
	Latest() *Frame
	// Next returns the newest frame with Seq > after, waiting for it; the
	// caller releases it. It returns ErrHubClosed once the feed is gone
	// (camera or profile removed).
	Next(ctx context.Context, after uint64) (*Frame, error)
	// NextBefore is Next that gives up with ErrNoFrameYet when timeout fires.
	NextBefore(ctx context.Context, after uint64, timeout <-chan time.Time) (*Frame, error)
	// Acquire registers a viewer of the feed: the ffmpeg that makes it runs
	// while it has one (on-demand cameras). release must be called once.
	Acquire() (release func())
}
