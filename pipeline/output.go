package pipeline

import (
	"io"
	"os"
	"sync"
	"time"
)

// output is one stream of JPEGs that a camera's ffmpeg writes (its main
// stream on stdout, or a profile on a pipe of its own): the hub viewers
// read, and its counters. It outlives ffmpeg's restarts, so viewers keep
// their connection through them.
type output struct {
	*Hub
	name string // MainProfile or the profile's name

	mu          sync.Mutex // guards the fields below
	frames      uint64
	bytes       uint64
	lastFrameAt time.Time
	rate        rateMeter
	clients     int
}

func newOutput(name string) *output { return &output{Hub: NewHub(), name: name} }

// publish makes data the newest frame.
func (o *output) publish(data []byte, now time.Time) {
	o.Publish(data, now)
	o.mu.Lock()
	o.frames++
	o.bytes += uint64(len(data))
	o.lastFrameAt = now
	o.rate.Add(now)
	o.mu.Unlock()
}

// stats returns the output's counters (State and the ffmpeg fields are the
// camera's, filled in by the caller).
func (o *output) stats(now time.Time) ProfileStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := ProfileStatus{
		Name:    o.name,
		FPS:     o.rate.Rate(now),
		Frames:  o.frames,
		Bytes:   o.bytes,
		Clients: o.clients,
	}
	if !o.lastFrameAt.IsZero() {
		t := o.lastFrameAt
		s.LastFrameAt = &t
	}
	return s
}

// frameCount returns how many frames the output has published.
func (o *output) frameCount() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.frames
}

// join counts a viewer of this output; the returned func uncounts it and
// returns how many are left.
func (o *output) join() (leave func() int) {
	o.mu.Lock()
	o.clients++
	o.mu.Unlock()
	return func() int {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.clients--
		return o.clients
	}
}

// readFrames splits the JPEGs that ffmpeg writes to r and publishes them
// until r ends (ffmpeg exited or the pipe was closed), but those read
// while skip (if not nil) reports true.
func (o *output) readFrames(r io.Reader, skip func() bool) {
	sp := NewSplitter(r, 0)
	for {
		data, err := sp.Next()
		if err != nil {
			return
		}
		if skip != nil && skip() {
			continue
		}
		o.publish(data, time.Now())
	}
}

// profileFeed is what viewers of a profile that is an output of the
// camera's own ffmpeg read: the output's frames, while the camera runs.
type profileFeed struct {
	*output
	cam *Camera
}

// Acquire registers a viewer of the profile: it counts for the profile and
// keeps an on-demand camera's ffmpeg running.
func (f profileFeed) Acquire() (release func()) { return f.acquire(true) }

// AcquireSnapshot registers a snapshot of the profile (Camera.AcquireSnapshot).
func (f profileFeed) AcquireSnapshot() (release func()) { return f.acquire(false) }

func (f profileFeed) acquire(viewer bool) (release func()) {
	leave := f.output.join()
	releaseCam := f.cam.hold(viewer)
	c := f.cam
	c.mu.Lock()
	c.trans.want(c, f.output)
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			if leave() == 0 {
				c.mu.Lock()
				c.trans.unwant(c, f.output, c.cfg.IdleTimeout)
				c.mu.Unlock()
			}
			releaseCam()
		})
	}
}

var _ Feed = profileFeed{}

// profilePipes makes one pipe per profile output for a run of ffmpeg: the
// write ends go to ffmpeg as its file descriptors 3, 4... (ExtraFiles), the
// read ends are read by outs[i].readFrames.
type profilePipes struct {
	r, w []*os.File
}

func newProfilePipes(n int) (*profilePipes, error) {
	p := &profilePipes{}
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			p.closeAll()
			return nil, err
		}
		p.r = append(p.r, r)
		p.w = append(p.w, w)
	}
	return p, nil
}

// closeWrite closes our copies of the write ends once ffmpeg has its own,
// so that each read ends at EOF when ffmpeg exits.
func (p *profilePipes) closeWrite() {
	for _, w := range p.w {
		w.Close()
	}
}

func (p *profilePipes) closeAll() {
	p.closeWrite()
	for _, r := range p.r {
		r.Close()
	}
}

// read starts one reader per pipe, publishing into outs, and returns a
// function that waits for them and closes the pipes. Call it after ffmpeg
// exited: each reader reads until EOF, which comes when ffmpeg's write end
// closes.
func (p *profilePipes) read(outs []*output) (wait func()) { return p.readUnless(outs, nil) }

// readUnless is read that drops the frames read while skip (if not nil)
// reports true: a camera in standby drops its keyframe JPEGs while its
// viewers' decoder publishes.
func (p *profilePipes) readUnless(outs []*output, skip func() bool) (wait func()) {
	var wg sync.WaitGroup
	for i, o := range outs {
		r := p.r[i]
		wg.Go(func() { o.readFrames(newPipeReader(r), skip) })
	}
	return func() {
		wg.Wait()
		p.closeAll()
	}
}
