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
// argsfile=PATH (one line of arguments per run), runsfile=PATH (a line per
// run: its pid, a tab and its arguments, written at once so that runs
// starting together do not interleave).
//
// For webcams (source_v4l2.go): v4l2dev (the -i path must exist, or fail
// as ffmpeg does on a missing device), listformats=NAME (the answer to
// -list_formats: a sample of fakeListFormats, or hang; c920 by default),
// v4l2err=busy|format (a run that reads the device fails so).
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
	if p := opts["runsfile"]; p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			f.WriteString(fmt.Sprintf("%d\t%s\n", os.Getpid(), strings.Join(os.Args[1:], " ")))
			f.Close()
		}
	}
	if code, done := fakeV4L2(opts); done {
		return code
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

// fakeV4L2 plays ffmpeg on a webcam: the listing of formats, and the
// errors of a missing, busy or unwilling device, with ffmpeg's own lines.
// done says the run ended here with exit code code.
func fakeV4L2(opts map[string]string) (code int, done bool) {
	target := ""
	list := false
	for i, a := range os.Args {
		if a == "-i" && i+1 < len(os.Args) {
			target = os.Args[i+1]
		}
		list = list || a == "-list_formats"
	}
	const prefix = "[video4linux2,v4l2 @ 0x55d5c1e3c440] "
	if _, ok := opts["v4l2dev"]; ok {
		if _, err := os.Stat(target); err != nil {
			fmt.Fprintf(os.Stderr, "%sCannot open video device %s: No such file or directory\n%s: No such file or directory\n", prefix, target, target)
			return 1, true
		}
	}
	if list {
		name := opts["listformats"]
		if name == "" {
			name = "c920"
		}
		if name == "hang" {
			time.Sleep(time.Hour)
		}
		fmt.Fprint(os.Stderr, fakeListFormats[name])
		fmt.Fprintf(os.Stderr, "%s: Immediate exit requested\n", target)
		return 1, true
	}
	switch opts["v4l2err"] {
	case "busy":
		fmt.Fprintf(os.Stderr, "%s: Device or resource busy\n", target)
		return 1, true
	case "format":
		fmt.Fprintf(os.Stderr, "%sCannot find a proper format for codec 'mjpeg' (id 7), pixel format 'none' (id -1)\n%s: Invalid argument\n", prefix, target)
		return 1, true
	}
	return 0, false
}
