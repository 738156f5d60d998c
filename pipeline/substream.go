package pipeline

import (
	"context"
	"sync"
)

// substreams are the profiles of a camera that have a URL of their own
// (the camera's substream): each is read by a Camera of its own, with its
// own ffmpeg, supervision and state, for as long as the parent runs. The
// parent's mutex guards the struct.
type substreams struct {
	m   map[string]*substream // by profile name
	ctx context.Context       // the parent's Run context; nil before Run
	wg  sync.WaitGroup        // the runs, and the closing of removed ones
}

type substream struct {
	cam    *Camera
	cfg    CameraConfig
	cancel context.CancelFunc // nil until it runs
	done   chan struct{}      // closed when its Run returned
}

// substreamConfig is the camera config that reads profile p of camera c.
func substreamConfig(c CameraConfig, p ProfileConfig) CameraConfig {
	c.URL = p.URL
	c.FPS, c.Width = p.FPS, p.Width
	// A webcam's capture settings are its device's, not the substream's.
	c.InputFormat, c.VideoSize, c.Framerate = "", "", 0
	if p.Quality != 0 {
		c.Quality = p.Quality
	}
	if p.FPS > 0 || p.Width > 0 {
		c.Codec = CodecMJPEG // a stream copy cannot be scaled or slowed
	} else {
		c.Codec = CodecAuto // the substream's codec is its own: an h264 substream of an MJPEG camera is common
	}
	c.Profiles = nil
	return c
}

// withoutSubstreams is c without its substream profiles: what its own
// ffmpeg's command depends on.
func withoutSubstreams(c CameraConfig) CameraConfig {
	c.Profiles = OutputProfiles(c)
	return c
}

// sync makes the substreams those of cfg: new ones start (once the parent
// runs), changed ones restart with their new config, removed ones stop and
// end their viewers' streams.
func (s *substreams) sync(parent *Camera, cfg CameraConfig) {
	keep := map[string]bool{}
	for _, p := range cfg.Profiles {
		if p.URL == "" {
			continue
		}
		keep[p.Name] = true
		want := substreamConfig(cfg, p)
		switch sub := s.m[p.Name]; {
		case sub == nil:
			if s.m == nil {
				s.m = map[string]*substream{}
			}
			sub = &substream{cam: NewCamera(want, parent.log.WithField("profile", p.Name)), cfg: want}
			s.m[p.Name] = sub
			s.run(sub)
		case !sub.cfg.Equal(want):
			sub.cfg = want
			sub.cam.Reconfigure(want)
		}
	}
	for name, sub := range s.m {
		if keep[name] {
			continue
		}
		delete(s.m, name)
		if sub.cancel == nil || s.ctx.Err() != nil { // never ran, or ends anyway
			sub.cam.Close()
			continue
		}
		sub.cancel()
		s.wg.Go(func() {
			<-sub.done
			sub.cam.Close()
		})
	}
}

// start runs the substreams under ctx, the parent's Run context.
func (s *substreams) start(ctx context.Context) {
	s.ctx = ctx
	for _, sub := range s.m {
		s.run(sub)
	}
}

// run starts sub if the parent runs and sub does not yet.
func (s *substreams) run(sub *substream) {
	if s.ctx == nil || s.ctx.Err() != nil || sub.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	sub.cancel, sub.done = cancel, make(chan struct{})
	s.wg.Go(func() {
		defer close(sub.done)
		defer cancel()
		_ = sub.cam.Run(ctx)
	})
}

// wait returns once every run has ended (after the parent's ctx ended).
// The parent's mutex must not be held.
func (s *substreams) wait() { s.wg.Wait() }

// close ends the streams of every substream's viewers.
func (s *substreams) close() {
	for _, sub := range s.m {
		sub.cam.Close()
	}
}
