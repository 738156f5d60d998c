package pipeline

import (
	"math/rand/v2"
	"time"
)

// Backoff yields exponentially growing waits with ±20% jitter, so many
// cameras that fail together do not retry in step.
type Backoff struct {
	Min, Max time.Duration // 500ms and 30s per DESIGN.md
	n        int
}

// Next returns the next wait.
func (b *Backoff) Next() time.Duration {
	d := b.Min << min(b.n, 16)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	b.n++
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Reset starts again from Min, after a healthy run.
func (b *Backoff) Reset() { b.n = 0 }

// Limit makes the next wait at most Min << steps (before jitter).
func (b *Backoff) Limit(steps int) { b.n = min(b.n, steps) }
