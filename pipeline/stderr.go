package pipeline

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

const (
	stderrTailSize  = 4 << 10 // kept for the restart reason
	stderrLineMax   = 1 << 10 // longer lines are cut
	stderrBurst     = 10      // lines logged per window
	stderrWindow    = 10 * time.Second
	stderrTailLines = 5 // lines of the tail put in a restart log line
)

// stderrLog receives ffmpeg's stderr (os/exec copies into it from its own
// goroutine, so ffmpeg never blocks on a full pipe). It keeps a bounded tail
// for the restart reason and logs lines at warn, masked and rate-limited.
type stderrLog struct {
	log    *logrus.Entry
	redact *Redactor
	now    func() time.Time

	mu         sync.Mutex // guards the fields below
	partial    []byte     // an unfinished line, bounded by stderrLineMax
	tail       []string   // last lines, redacted
	tailBytes  int
	windowFrom time.Time
	logged     int // lines logged in the current window
	suppressed int // lines not logged in the current window
}

func newStderrLog(log *logrus.Entry, r *Redactor) *stderrLog {
	return &stderrLog{log: log, redact: r, now: time.Now}
}

func (s *stderrLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			room := stderrLineMax - len(s.partial)
			if room > 0 {
				s.partial = append(s.partial, p[:min(room, len(p))]...)
			}
			break
		}
		room := stderrLineMax - len(s.partial)
		if room > 0 {
			s.partial = append(s.partial, p[:min(room, i)]...)
		}
		s.line(string(s.partial))
		s.partial = s.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// line handles one complete line; s.mu is held.
func (s *stderrLog) line(l string) {
	l = strings.TrimSpace(l)
	if l == "" {
		return
	}
	l = s.redact.Redact(l)
	s.tail = append(s.tail, l)
	s.tailBytes += len(l)
	for s.tailBytes > stderrTailSize && len(s.tail) > 1 {
		s.tailBytes -= len(s.tail[0])
		s.tail = s.tail[1:]
	}
	if harmless(l) {
		s.log.Debug("ffmpeg: " + l)
		return
	}
	now := s.now()
	if now.Sub(s.windowFrom) >= stderrWindow {
		if s.suppressed > 0 {
			s.log.WithField("lines", s.suppressed).Warn("ffmpeg: stderr lines suppressed")
		}
		s.windowFrom, s.logged, s.suppressed = now, 0, 0
	}
	if s.logged >= stderrBurst {
		s.suppressed++
		return
	}
	s.logged++
	s.log.Warn("ffmpeg: " + l)
}

// harmless tells lines ffmpeg prints on every healthy start of an MJPEG
// encode, which would otherwise fill the log at warn.
func harmless(l string) bool {
	return strings.Contains(l, "deprecated pixel format used") ||
		strings.Contains(l, "not enough frames to estimate rate") ||
		strings.Contains(l, "Received packet without a start chunk") || // joined mid-frame
		strings.HasPrefix(l, "Last message repeated") ||
		// The short probe's complaints: harmless when frames come (with
		// skip_frame nokey they always appear); when none come, they are in
		// the restart reason and trigger the long probe.
		strings.Contains(l, "Could not find codec parameters") ||
		strings.Contains(l, "Consider increasing the value for the 'analyzeduration'")
}

// Contains reports whether a line of the tail holds sub.
func (s *stderrLog) Contains(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.tail {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// Tail returns the last few lines, joined, for a restart reason.
func (s *stderrLog) Tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tail
	if len(t) > stderrTailLines {
		t = t[len(t)-stderrTailLines:]
	}
	return strings.Join(t, " | ")
}

// Reset forgets the tail, at each new ffmpeg start, and masks with r from
// now on (the URL may have changed).
func (s *stderrLog) Reset(r *Redactor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail, s.tailBytes, s.partial = nil, 0, s.partial[:0]
	s.redact = r
}
