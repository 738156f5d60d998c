package pipeline

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fakeFFmpegEnv makes the test binary act as ffmpeg (os/exec's own pattern):
// the camera under test runs os.Args[0] with this variable set to a mode,
// comma-separated: frames=N (-1: endless), fps=F, exit=C, hang (after the
// frames, write nothing and stay), ignoreterm, stderr=TEXT, pidfile=PATH,
// argsfile=PATH (one line of arguments per run).
const fakeFFmpegEnv = "RTSP2MJPEG_FAKE_FFMPEG"

func fakeJPEG(shade uint8) []byte {
	img := image.NewGray(image.Rect(0, 0, 32, 24))
	for i := range img.Pix {
		img.Pix[i] = shade + uint8(i%7)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func fakeFFmpeg(mode string) int {
	opts := map[string]string{}
	for _, kv := range strings.Split(mode, ",") {
		k, v, _ := strings.Cut(kv, "=")
		opts[k] = v
	}
	if p := opts["pidfile"]; p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, os.Getpid())
			f.Close()
		}
	}
	if p := opts["argsfile"]; p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
			f.Close()
		}
	}
	if _, ok := opts["ignoreterm"]; ok {
		signal.Ignore(syscall.SIGTERM)
	}
	if s := opts["stderr"]; s != "" {
		fmt.Fprintln(os.Stderr, s)
	}
	frames, _ := strconv.Atoi(opts["frames"])
	fps, _ := strconv.Atoi(opts["fps"])
	if fps <= 0 {
		fps = 50
	}
	// Profile outputs (pipe:3, pipe:4...) get the same frames, smaller
	// shades apart so a test can tell them from the main stream's.
	var extra []*os.File
	for _, a := range os.Args[1:] {
		if n, err := strconv.Atoi(strings.TrimPrefix(a, "pipe:")); err == nil && strings.HasPrefix(a, "pipe:") && n >= 3 {
			extra = append(extra, os.NewFile(uintptr(n), a))
		}
	}
	for i := 0; frames < 0 || i < frames; i++ {
		if _, err := os.Stdout.Write(fakeJPEG(uint8(i * 10))); err != nil {
			return 1
		}
		for _, f := range extra {
			if _, err := f.Write(fakeJPEG(uint8(i*10 + 5))); err != nil {
				return 1
			}
		}
		time.Sleep(time.Second / time.Duration(fps))
	}
	if _, ok := opts["hang"]; ok {
		time.Sleep(time.Hour)
	}
	code, _ := strconv.Atoi(opts["exit"])
	return code
}
