package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Hub holds the newest frame of one camera and wakes every waiting viewer
// when a new one is published. The producer never waits on a viewer: a slow
// viewer skips frames and always gets the newest.
type Hub struct {
	mu      sync.Mutex    // guards latest, changed and closed
	latest  *Frame        // nil until the first frame
	changed chan struct{} // closed and replaced by every Publish
	closed  bool
	parts   partPool // memory of released frames, reused
}

// ErrHubClosed is returned by Next once the camera is gone.
var ErrHubClosed = errors.New("camera removed")

// Close wakes every waiter for good: Next returns ErrHubClosed.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.changed)
	}
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{changed: make(chan struct{})}
}

// Publish makes jpeg the newest frame, captured at at, and returns its
// sequence number. jpeg is copied into the frame; the caller may reuse it.
func (h *Hub) Publish(jpeg []byte, at time.Time) uint64 {
	h.mu.Lock()
	var seq uint64 = 1
	if h.latest != nil {
		seq = h.latest.Seq + 1
	}
	h.mu.Unlock()
	// Build the part outside the lock: only this goroutine publishes.
	f := newFrame(jpeg, at, seq, false, &h.parts)
	h.mu.Lock()
	old := h.latest
	h.latest = f
	if !h.closed {
		close(h.changed) // wakes all waiters at once; O(1) for the producer
		h.changed = make(chan struct{})
	}
	h.mu.Unlock()
	old.Release() // the hub's reference; viewers still writing it hold theirs
	return seq
}

// Latest returns the newest frame, or nil before the first one. The caller
// releases it (Frame.Release) when done with its bytes.
func (h *Hub) Latest() *Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.latest != nil {
		h.latest.refs.Add(1)
	}
	return h.latest
}

// Next returns the newest frame with Seq > after, waiting until one is
// published or ctx ends. The caller releases it (Frame.Release) when done
// with its bytes.
func (h *Hub) Next(ctx context.Context, after uint64) (*Frame, error) {
	return h.NextBefore(ctx, after, nil)
}

// ErrNoFrameYet is returned by NextBefore when its timeout fires first.
var ErrNoFrameYet = errors.New("no new frame before the timeout")

// NextBefore is Next that also gives up with ErrNoFrameYet when timeout
// fires. A stream reuses one timer for this instead of a context per frame.
func (h *Hub) NextBefore(ctx context.Context, after uint64, timeout <-chan time.Time) (*Frame, error) {
	for {
		h.mu.Lock()
		f, changed, closed := h.latest, h.changed, h.closed
		if !closed && f != nil && f.Seq > after {
			f.refs.Add(1) // under the lock: f cannot be recycled meanwhile
		}
		h.mu.Unlock()
		if closed {
			return nil, ErrHubClosed
		}
		if f != nil && f.Seq > after {
			return f, nil
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, ErrNoFrameYet
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
