package pipeline

import "time"

const (
	rateBuckets = 10
	rateBucket  = 500 * time.Millisecond // the rate covers the last 5 s
)

// rateMeter counts events in time buckets to give a recent rate. Not safe
// for concurrent use: the camera guards it.
type rateMeter struct {
	counts [rateBuckets]uint32
	start  time.Time // start of bucket `cur`
	cur    int
	since  time.Time // first event ever, to not under-report a fresh start
}

func (m *rateMeter) advance(now time.Time) {
	if m.start.IsZero() {
		m.start, m.since = now, now
		return
	}
	for steps := 0; now.Sub(m.start) >= rateBucket; steps++ {
		if steps >= rateBuckets { // long gap: everything is stale
			m.counts = [rateBuckets]uint32{}
			m.start = now
			return
		}
		m.cur = (m.cur + 1) % rateBuckets
		m.counts[m.cur] = 0
		m.start = m.start.Add(rateBucket)
	}
}

// Add records one event at now.
func (m *rateMeter) Add(now time.Time) {
	m.advance(now)
	m.counts[m.cur]++
}

// Rate returns events per second over the window ending at now.
func (m *rateMeter) Rate(now time.Time) float64 {
	if m.start.IsZero() {
		return 0
	}
	m.advance(now)
	var n uint32
	for _, c := range m.counts {
		n += c
	}
	window := time.Duration(rateBuckets-1)*rateBucket + now.Sub(m.start)
	if age := now.Sub(m.since); age < window {
		window = age
	}
	if window < rateBucket {
		window = rateBucket
	}
	return float64(n) / window.Seconds()
}
