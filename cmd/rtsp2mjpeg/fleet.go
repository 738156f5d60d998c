package main

import (
	"context"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/httpapi"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// fleet runs the configured cameras, each independent of the others, and
// applies configuration changes without touching cameras that did not change.
type fleet struct {
	ctx context.Context // every camera runs until this ends, or its removal
	log *logrus.Entry

	// wrap makes the router's camera of a pipeline camera (a cluster
	// edge's adds its origin); nil: the camera itself.
	wrap func(*pipeline.Camera) httpapi.Camera

	mu      sync.Mutex // guards members
	members map[string]*member
}

type member struct {
	cam    *pipeline.Camera
	cfg    pipeline.CameraConfig
	cancel context.CancelFunc
	done   chan struct{} // closed when cam.Run returned
}

func newFleet(ctx context.Context, log *logrus.Entry) *fleet {
	return &fleet{ctx: ctx, log: log, members: map[string]*member{}}
}

// apply makes cfgs the running set. It returns the cameras in config order,
// for the router, and the members removed, to be stopped with retire once
// the router no longer serves them.
func (f *fleet) apply(cfgs []pipeline.CameraConfig) (cams []httpapi.Camera, removed []*member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keep := make(map[string]bool, len(cfgs))
	for _, cfg := range cfgs {
		keep[cfg.Name] = true
		m, ok := f.members[cfg.Name]
		switch {
		case !ok:
			m = f.start(cfg)
			f.members[cfg.Name] = m
			f.log.WithFields(logrus.Fields{"camera": cfg.Name, "url": pipeline.RedactURL(cfg.URL)}).Info("camera added")
		case !m.cfg.Equal(cfg):
			m.cam.Reconfigure(cfg)
			m.cfg = cfg
			f.log.WithField("camera", cfg.Name).Info("camera changed, restarting its ffmpeg")
		}
		if f.wrap != nil {
			cams = append(cams, f.wrap(m.cam))
		} else {
			cams = append(cams, m.cam)
		}
	}
	for name, m := range f.members {
		if !keep[name] {
			removed = append(removed, m)
			delete(f.members, name)
			f.log.WithField("camera", name).Info("camera removed")
		}
	}
	return cams, removed
}

// start runs a new camera; f.mu is held.
func (f *fleet) start(cfg pipeline.CameraConfig) *member {
	ctx, cancel := context.WithCancel(f.ctx)
	m := &member{
		cam:    pipeline.NewCamera(cfg, f.log),
		cfg:    cfg,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		_ = m.cam.Run(ctx)
	}()
	return m
}

// retire stops removed cameras: ffmpeg ends, then their viewers' streams.
func retire(removed []*member) {
	for _, m := range removed {
		m.cancel()
	}
	for _, m := range removed {
		<-m.done
		m.cam.Close()
	}
}

// wait returns once every camera has stopped (after f.ctx ended).
func (f *fleet) wait() {
	f.mu.Lock()
	ms := make([]*member, 0, len(f.members))
	for _, m := range f.members {
		ms = append(ms, m)
	}
	f.mu.Unlock()
	for _, m := range ms {
		<-m.done
		m.cam.Close()
	}
}
