// Command testcam runs a synthetic RTSP camera (package synthcam): an ffmpeg
// test pattern served over RTSP/TCP, for trying rtsp2mjpeg without a camera.
//
//	testcam --listen 127.0.0.1:8554 --size 640x360 --fps 15 --codec h264
//
// It prints the reader URL and runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "testcam:", err)
		os.Exit(1)
	}
}

func run(argv []string) error {
	fs := flag.NewFlagSet("testcam", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8554", "RTSP listen address (host:port; port 0 picks a free one)")
	size := fs.String("size", fmt.Sprintf("%dx%d", synthcam.DefaultWidth, synthcam.DefaultHeight), "frame size WxH")
	fps := fs.Int("fps", synthcam.DefaultFPS, "frames per second")
	codec := fs.String("codec", synthcam.DefaultCodec, "h264, mjpeg, hevc or mpeg4")
	gop := fs.Int("gop", 0, "keyframe interval in frames, not mjpeg (default: fps)")
	audio := fs.String("audio", "", "a sound track too: pcm_alaw (G.711) or aac")
	path := fs.String("path", synthcam.DefaultPath, "RTSP path readers use")
	user := fs.String("user", "", "require this RTSP user from readers")
	pass := fs.String("pass", "", "password for --user")
	authMethod := fs.String("auth", "any", "auth schemes offered with --user: any, basic or digest")
	ffmpegPath := fs.String("ffmpeg", "ffmpeg", "ffmpeg executable")
	verbose := fs.Bool("v", false, "log debug events, ffmpeg's stderr included")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	w, h, err := parseSize(*size)
	if err != nil {
		return err
	}
	if *pass != "" && *user == "" {
		return fmt.Errorf("--pass needs --user")
	}

	logger := logrus.New()
	logger.Out = os.Stderr
	if *verbose {
		logger.SetLevel(logrus.DebugLevel)
	}
	log := logrus.NewEntry(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cam, err := synthcam.Start(ctx, synthcam.Config{
		Width: w, Height: h, FPS: *fps, Codec: *codec, GOP: *gop, Audio: *audio,
		Addr: *listen, FFmpeg: *ffmpegPath, Log: log, Path: *path,
		User: *user, Pass: *pass, AuthMethod: *authMethod,
	})
	if err != nil {
		return err
	}
	fmt.Println(cam.URL())
	<-ctx.Done()
	log.Info("shutting down")
	return cam.Close()
}

func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("invalid --size %q, want WxH such as 640x360", s)
	}
	return w, h, nil
}
