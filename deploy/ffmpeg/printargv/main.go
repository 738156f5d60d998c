// Command printargv prints the ffmpeg and ffprobe argv the daemon builds
// (pipeline.BuildArgs, StandbyArgs, DecoderArgs, TranscodeArgs, ProbeArgs)
// for a set of cameras, one per line: "name<TAB>program<TAB>arg arg ...".
// deploy/ffmpeg/check-argv.sh runs them against a built ffmpeg.
//
//	go run ./deploy/ffmpeg/printargv -rtsp rtsp://127.0.0.1:18999/stream -file /tmp/x.mkv
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func main() {
	rtsp := flag.String("rtsp", "rtsp://127.0.0.1:18999/stream", "RTSP camera URL")
	file := flag.String("file", "/tmp/sample.mkv", "file source")
	httpURL := flag.String("http", "http://127.0.0.1:18998/video.mjpg", "HTTP MJPEG source")
	webcam := flag.String("webcam", "/dev/video0", "V4L2 device")
	flag.Parse()

	type tc struct {
		name string
		cfg  pipeline.CameraConfig
	}
	cam := func(name, url string, f func(*pipeline.CameraConfig)) tc {
		c := pipeline.DefaultCameraConfig(name, url)
		if f != nil {
			f(&c)
		}
		return tc{name, c}
	}
	cases := []tc{
		cam("rtsp-auto", *rtsp, nil),
		cam("rtsp-mjpeg-fps-width", *rtsp, func(c *pipeline.CameraConfig) { c.Codec, c.FPS, c.Width = pipeline.CodecMJPEG, 10, 640 }),
		cam("rtsp-snapshot-1fps", *rtsp, func(c *pipeline.CameraConfig) { c.Codec, c.FPS = pipeline.CodecMJPEG, 1 }),
		cam("rtsp-copy", *rtsp, func(c *pipeline.CameraConfig) { c.Codec = pipeline.CodecCopy }),
		cam("rtsp-threads-udp", *rtsp, func(c *pipeline.CameraConfig) { c.DecoderThreads, c.RTSPTransport = 2, "udp" }),
		cam("file", "file://"+*file, nil),
		cam("http", *httpURL, nil),
		cam("webcam-mjpeg", *webcam, func(c *pipeline.CameraConfig) {
			c.Codec, c.InputFormat, c.VideoSize, c.Framerate = pipeline.CodecMJPEG, "mjpeg", "640x480", 30
		}),
	}
	emit := func(name, prog string, args []string) {
		for _, a := range args {
			if strings.ContainsAny(a, " \t\n") {
				fmt.Fprintf(os.Stderr, "printargv: %s: argument %q has white space\n", name, a)
				os.Exit(1)
			}
		}
		fmt.Printf("%s\t%s\t%s\n", name, prog, strings.Join(args, " "))
	}
	for _, c := range cases {
		emit(c.name+"/build", "ffmpeg", pipeline.BuildArgs(c.cfg))
		if c.cfg.Codec != pipeline.CodecCopy {
			emit(c.name+"/standby", "ffmpeg", pipeline.StandbyArgs(c.cfg))
			emit(c.name+"/decoder", "ffmpeg", pipeline.DecoderArgs(c.cfg))
		}
		emit(c.name+"/probe", "ffprobe", pipeline.ProbeArgs(c.cfg))
	}
	for _, p := range pipeline.DefaultProfiles() {
		emit("transcode-"+p.Name, "ffmpeg", pipeline.TranscodeArgs(p, 5))
	}
}
