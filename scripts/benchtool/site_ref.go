package main

import (
	"context"
	"errors"
	"hash/maphash"
	"net/textproto"
	"sync"
	"time"
)

// refIndex tells when each picture of the synthetic camera reached a
// reference: a camera at full rate on a daemon of its own, reading the same
// publisher, watched by one reader. A camera in standby encodes the same
// decoded picture with the same options (its keyframe JPEGs, and its
// viewers' decoder's frames), so the JPEG bytes are the same and their hash
// finds the picture's time. That time, not a frame's X-Timestamp (when the
// daemon published it), tells a live picture from a replayed one.
type refIndex struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader has ended

	mu     sync.Mutex           // guards the fields below
	at     map[uint64]time.Time // picture hash → its X-Timestamp at the reference
	fifo   []uint64             // hashes in arrival order, to forget the oldest
	frames int
	err    error // why the reader ended, when it did on its own
}

// refKeep bounds the pictures the index remembers: two minutes at 15 fps.
const refKeep = 2048

var frameSeed = maphash.MakeSeed()

func frameHash(jpeg []byte) uint64 { return maphash.Bytes(frameSeed, jpeg) }

// startRefIndex reads the MJPEG stream at url until stop.
func startRefIndex(ctx context.Context, url string) *refIndex {
	ctx, cancel := context.WithCancel(ctx)
	r := &refIndex{cancel: cancel, done: make(chan struct{}), at: map[uint64]time.Time{}}
	go func() {
		defer close(r.done)
		err := readParts(ctx, url, 24*time.Hour, func(h textproto.MIMEHeader, body []byte, at time.Time) {
			ts, ok := parseTimestampMs([]byte(h.Get("X-Timestamp")))
			if !ok {
				return
			}
			r.add(frameHash(body), time.UnixMilli(ts))
		})
		if ctx.Err() == nil {
			r.mu.Lock()
			r.err = errors.Join(errors.New("the reference's stream ended"), err)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *refIndex) add(h uint64, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames++
	if _, ok := r.at[h]; ok {
		return // a repeated picture keeps its first time
	}
	r.at[h] = at
	r.fifo = append(r.fifo, h)
	if len(r.fifo) > refKeep {
		delete(r.at, r.fifo[0])
		r.fifo = r.fifo[1:]
	}
}

// resolve sets the picture time of each frame that has none yet and whose
// hash the reference has seen.
func (r *refIndex) resolve(fs []seenFrame, hashes []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range fs {
		if fs[i].pic.IsZero() {
			fs[i].pic = r.at[hashes[i]]
		}
	}
}

// failed returns why the reference's reader ended on its own, or nil.
func (r *refIndex) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *refIndex) stop() {
	r.cancel()
	<-r.done
}
