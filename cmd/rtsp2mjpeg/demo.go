package main

import (
	"context"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

// startDemo runs the synthetic camera in-process on a free loopback port
// until ctx ends, and returns its URL.
func startDemo(ctx context.Context, wg *sync.WaitGroup, ffmpegPath string, log *logrus.Entry) (string, error) {
	cam, err := synthcam.Start(ctx, synthcam.Config{
		Width: 1280, Height: 720, FPS: 15, Codec: "h264",
		FFmpeg: ffmpegPath, Log: log,
	})
	if err != nil {
		return "", err
	}
	wg.Go(func() {
		<-ctx.Done()
		_ = cam.Close()
	})
	log.WithField("url", cam.URL()).Info("demo camera started")
	return cam.URL(), nil
}
