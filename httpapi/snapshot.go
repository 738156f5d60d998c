package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// snapshot serves one fresh JPEG of cam, or of its profile named by
// ?profile=, or 503 (DESIGN.md "Snapshots"): never a stale frame without
// saying so.
func (a *api) snapshot(w http.ResponseWriter, r *http.Request, cam Camera) {
	fd, ok := requestFeed(w, r, cam)
	if !ok {
		return
	}
	maxAge := a.cfg.MaxAge
	if v, ok := queryValue(r, "max_age"); ok {
		d, err := parseMaxAge(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid max_age %q: %v", v, err))
			return
		}
		maxAge = d
	}

	// Starts an on-demand camera while we wait; a camera in standby stays
	// in it: its next keyframe is fresh.
	var release func()
	if s, ok := fd.feed.(snapshotAcquirer); ok {
		release = s.AcquireSnapshot()
	} else {
		release = fd.feed.Acquire()
	}
	defer release()
	f := fd.feed.Latest()
	if f == nil || f.NoSignal || time.Since(f.At) >= maxAge {
		var after uint64
		if f != nil {
			after = f.Seq
		}
		f.Release() // nil-safe; only its number was needed
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.SnapshotTimeout)
		// Next returns the newest frame past after: one captured while we
		// waited, so fresh whatever max_age is.
		f, _ = fd.feed.Next(ctx, after)
		cancel()
		if f == nil || f.NoSignal {
			f.Release()
			a.noFreshFrame(w, r, fd)
			return
		}
	}
	defer f.Release() // once written: the hub may reuse its memory

	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(len(f.JPEG)))
	h.Set("Cache-Control", "no-store")
	h.Set("Last-Modified", f.At.UTC().Format(http.TimeFormat))
	h.Set("X-Timestamp", string(pipeline.AppendTimestamp(nil, f.At)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.JPEG)
	}
}

// snapshotAcquirer is a feed that tells a waiting snapshot from a viewer
// (pipeline.Camera: a snapshot does not wake a camera in standby to full
// decoding).
type snapshotAcquirer interface {
	AcquireSnapshot() (release func())
}

// snapshotError is the 503 answer of a snapshot without a fresh frame.
type snapshotError struct {
	Error   string         `json:"error"`
	Camera  string         `json:"camera"`
	Profile string         `json:"profile,omitempty"` // absent for the main stream
	State   pipeline.State `json:"state"`             // of the profile, if one was asked
}

func (a *api) noFreshFrame(w http.ResponseWriter, r *http.Request, fd feedOf) {
	name := fd.cam.Name()
	of := fmt.Sprintf("camera %q", name)
	body := snapshotError{Camera: name, State: fd.state()}
	if !fd.isMain() {
		of += fmt.Sprintf(" (profile %q)", fd.profile)
		body.Profile = fd.profile
	}
	body.Error = fmt.Sprintf("no fresh frame from %s within %s", of, a.cfg.SnapshotTimeout)
	if r.Context().Err() != nil {
		// The client left or the server is stopping: say so rather than
		// leave an empty 200 behind.
		body.Error = "request ended before a fresh frame from " + of
	}
	w.Header().Set("Retry-After", "2") // seconds
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusServiceUnavailable, body)
}

// parseMaxAge accepts a Go duration ("2s", "500ms") or plain seconds
// ("2", "0.5"), not negative.
func parseMaxAge(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		s, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || math.IsNaN(s) || math.IsInf(s, 0) || s > float64(math.MaxInt64/2)/float64(time.Second) {
			return 0, fmt.Errorf("want a duration like 2s or 500ms, or seconds")
		}
		d = time.Duration(s * float64(time.Second))
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return d, nil
}
