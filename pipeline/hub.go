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

// Publish makes jpeg the newest frame, captured at at, and returns it.
// jpeg is copied into the frame; the caller may reuse it.
func (h *Hub) Publish(jpeg []byte, at time.Time) *Frame {
	h.mu.Lock()
	var seq uint64 = 1
	if h.latest != nil {
		seq = h.latest.Seq + 1
	}
	h.mu.Unlock()
	// Build the part outside the lock: only this goroutine publishes.
	f := NewFrame(jpeg, at, seq)
	h.mu.Lock()
	h.latest = f
	if !h.closed {
		close(h.changed) // wakes all waiters at once; O(1) for the producer
		h.changed = make(chan struct{})
	}
	h.mu.Unlock()
	return f
}

// Latest returns the newest frame, or nil before the first one.
func (h *Hub) Latest() *Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// Next returns the newest frame with Seq > after, waiting until one is
// published or ctx ends.
func (h *Hub) Next(ctx context.Context, after uint64) (*Frame, error) {
	for {
		h.mu.Lock()
		f, changed, closed := h.latest, h.changed, h.closed
		h.mu.Unlock()
		if closed {
			return nil, ErrHubClosed
		}
		if f != nil && f.Seq > after {
			return f, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
