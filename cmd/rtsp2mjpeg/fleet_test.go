package main

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func TestFleetApplyKeepsUnchangedCameras(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	log := logrus.New()
	log.SetOutput(io.Discard)
	f := newFleet(ctx, logrus.NewEntry(log))
	cfg := func(name string, width int) pipeline.CameraConfig {
		c := pipeline.DefaultCameraConfig(name, "rtsp://127.0.0.1:1/"+name)
		c.FFmpeg = "/nonexistent/ffmpeg" // never starts: these cameras back off
		c.Width = width
		return c
	}
	first, removed := f.apply([]pipeline.CameraConfig{cfg("a", 0), cfg("b", 0)})
	if len(first) != 2 || len(removed) != 0 {
		t.Fatalf("apply: %d cameras, %d removed", len(first), len(removed))
	}
	second, removed := f.apply([]pipeline.CameraConfig{cfg("c", 0), cfg("a", 0), cfg("b", 640)})
	if len(removed) != 0 {
		t.Fatalf("removed %d", len(removed))
	}
	if second[1] != first[0] || second[2] != first[1] {
		t.Error("a kept or changed camera was replaced: its viewers would be cut")
	}
	if second[0].Name() != "c" {
		t.Errorf("order: %s first, want c", second[0].Name())
	}
	_, removed = f.apply([]pipeline.CameraConfig{cfg("c", 0)})
	if len(removed) != 2 {
		t.Fatalf("removed %d, want a and b", len(removed))
	}
	done := make(chan struct{})
	go func() {
		retire(removed)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("retire did not return")
	}
	if _, err := first[0].Next(t.Context(), 0); !errors.Is(err, pipeline.ErrHubClosed) {
		t.Errorf("viewer of a removed camera: %v, want ErrHubClosed", err)
	}
	cancel()
	f.wait()
}
