// Command rtsp2mjpeg serves RTSP IP cameras as HTTP MJPEG streams and JPEG
// snapshots. See README.md and DESIGN.md for the contract.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/config"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/httpapi"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitUsage is the exit code for bad flags, config or environment (DESIGN.md).
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a problem with how the program was started: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// options are the command line after flags and environment are merged.
type options struct {
	url       string
	config    string
	listen    string
	demo      bool
	logLevel  string
	logFormat string
	shard     string // cluster role: a shard number, auto or edge; "" for cluster.shard
	watch     bool   // reload the config file when its content changes
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("rtsp2mjpeg", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.url, "url", "", "one camera, named \"default\": rtsp://..., http://..., file://..., or a webcam, /dev/videoN or its index N (env RTSP2MJPEG_URL)")
	fs.StringVar(&o.config, "config", "", "YAML file with several cameras (env RTSP2MJPEG_CONFIG)")
	fs.StringVar(&o.listen, "listen", "", "HTTP address (env RTSP2MJPEG_LISTEN, default \":8007\")")
	fs.BoolVar(&o.demo, "demo", false, "serve a built-in synthetic camera (no hardware needed)")
	fs.StringVar(&o.logLevel, "log-level", "", "debug|info|warn|error (env RTSP2MJPEG_LOG_LEVEL, default info)")
	fs.StringVar(&o.logFormat, "log-format", "", "text|json (env RTSP2MJPEG_LOG_FORMAT, default text)")
	fs.StringVar(&o.shard, "shard", "", "cluster role, over the config's cluster.shard: a shard number, auto (a StatefulSet pod's ordinal) or edge (env RTSP2MJPEG_SHARD)")
	fs.BoolVar(&o.watch, "watch-config", false, "reload the config file when its content changes, as on SIGHUP (env RTSP2MJPEG_WATCH_CONFIG=1)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  rtsp2mjpeg [flags]     serve (the default)\n  rtsp2mjpeg version\n  rtsp2mjpeg healthcheck [URL]   exit 0 when the daemon's /healthz answers (the image's HEALTHCHECK)\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExamples:\n  rtsp2mjpeg --url 'rtsp://user:pass@192.0.2.10:554/stream1'\n  rtsp2mjpeg --url /dev/video0\n  rtsp2mjpeg --demo\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q (try --help)", fs.Arg(0))
	}
	// Flags win over the environment.
	envDefault := func(v *string, key, def string) {
		if *v == "" {
			*v = getenv(key)
		}
		if *v == "" {
			*v = def
		}
	}
	envDefault(&o.url, "RTSP2MJPEG_URL", "")
	envDefault(&o.config, "RTSP2MJPEG_CONFIG", "")
	envDefault(&o.listen, "RTSP2MJPEG_LISTEN", "") // then the config file, then :8007
	envDefault(&o.logLevel, "RTSP2MJPEG_LOG_LEVEL", "info")
	envDefault(&o.logFormat, "RTSP2MJPEG_LOG_FORMAT", "text")
	envDefault(&o.shard, "RTSP2MJPEG_SHARD", "")
	if !o.watch {
		switch v := strings.ToLower(getenv("RTSP2MJPEG_WATCH_CONFIG")); v {
		case "", "0", "false", "no":
		case "1", "true", "yes":
			o.watch = true
		default:
			return o, usagef("RTSP2MJPEG_WATCH_CONFIG=%q: want 1 or 0", v)
		}
	}
	if (o.shard != "" || o.watch) && o.config == "" {
		return o, usagef("--shard and --watch-config need a config file (--config)")
	}

	sources := 0
	for _, set := range []bool{o.url != "", o.config != "", o.demo} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		return o, usagef("no camera: pass --url rtsp://user:pass@host:554/path or --url /dev/video0 for a webcam (or RTSP2MJPEG_URL), --config FILE (or RTSP2MJPEG_CONFIG), or --demo")
	case sources > 1:
		return o, usagef("--url, --config and --demo are exclusive: pass only one")
	}
	return o, nil
}

func newLogger(o options, stderr io.Writer) (*logrus.Logger, error) {
	log := logrus.New()
	log.SetOutput(stderr)
	level, err := logrus.ParseLevel(o.logLevel)
	if err != nil || !map[string]bool{"debug": true, "info": true, "warn": true, "warning": true, "error": true}[strings.ToLower(o.logLevel)] {
		return nil, usagef("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	log.SetLevel(level)
	switch o.logFormat {
	case "text":
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return nil, usagef("--log-format %q: want text or json", o.logFormat)
	}
	return log, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "version" {
		fmt.Fprintf(stdout, "rtsp2mjpeg %s\n", version)
		return 0
	}
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], getenv, stdout, stderr)
	}
	err := serve(ctx, args, getenv, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "rtsp2mjpeg: %s\n", ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "rtsp2mjpeg: %s\n", err)
		return 1
	}
}

const defaultListen = ":8007"

// prepare completes camera configs with the programs found at start and
// checks them. none allows an empty list: a cluster origin may own no
// camera.
func prepare(cfgs []pipeline.CameraConfig, ffmpegPath, ffprobePath string, none bool) error {
	if len(cfgs) == 0 && !none {
		return usagef("no camera configured")
	}
	for i := range cfgs {
		cfgs[i].FFmpeg = ffmpegPath
		cfgs[i].FFprobe = ffprobePath
		if err := cfgs[i].Validate(); err != nil {
			return usagef("camera %s: %v", cfgs[i].Name, err)
		}
	}
	return nil
}

// httpConfig takes the HTTP settings of a config file, reading the auth
// password file if there is one.
func httpConfig(f *config.File) (httpapi.Config, error) {
	c := httpapi.Config{
		WriteTimeout:        f.WriteTimeout,
		SnapshotTimeout:     f.SnapshotTimeout,
		MaxAge:              f.MaxAge,
		MaxViewers:          f.MaxViewers,
		MaxViewersPerCamera: f.MaxViewersPerCamera,
	}
	if a := f.Auth; a != nil {
		c.Auth = &httpapi.Auth{Username: a.Username, Password: a.Password, Tokens: a.Tokens}
		if a.PasswordFile != "" {
			b, err := os.ReadFile(a.PasswordFile)
			if err != nil {
				return c, usagef("%s: auth.password_file: %v", f.Path, err)
			}
			c.Auth.Password = strings.TrimRight(string(b), "\r\n")
			if c.Auth.Password == "" {
				return c, usagef("%s: auth.password_file %s is empty", f.Path, a.PasswordFile)
			}
		}
	}
	return c, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	// Caught from the start: SIGHUP's default action would end the daemon.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(o, stderr)
	if err != nil {
		return err
	}
	ffmpegPath, err := exec.LookPath("ffmpeg")
	if err != nil {
		return usagef("ffmpeg not found in PATH: install it (Debian/Ubuntu: sudo apt-get install ffmpeg; Alpine: apk add ffmpeg; macOS: brew install ffmpeg)")
	}

	ffprobePath, _ := exec.LookPath("ffprobe") // optional: codec auto re-encodes without it

	var cfgs []pipeline.CameraConfig
	var wg sync.WaitGroup
	defer wg.Wait() // cameras and the demo camera end before we return
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var httpCfg httpapi.Config
	var pl *plan // nil without a config file
	switch {
	case o.config != "":
		if pl, err = loadPlan(o.config, o.shard, getenv, ffmpegPath, ffprobePath); err != nil {
			return err
		}
		cfgs, httpCfg = pl.cameras, pl.http
		if o.listen == "" {
			o.listen = pl.listen
		}
	case o.demo:
		url, err := startDemo(ctx, &wg, ffmpegPath, log.WithField("component", "demo"))
		if err != nil {
			return fmt.Errorf("demo camera: %w", err)
		}
		c := pipeline.DefaultCameraConfig("demo", url)
		cfgs = append(cfgs, c)
	default:
		cfgs = append(cfgs, pipeline.DefaultCameraConfig("default", pipeline.NormalizeURL(o.url))) // "0" is /dev/video0
	}
	if pl == nil {
		if err := prepare(cfgs, ffmpegPath, ffprobePath, false); err != nil {
			return err
		}
	}

	if o.listen == "" {
		o.listen = defaultListen
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return usagef("listen on %s: %v (is another program using the port? pass --listen)", o.listen, err)
	}

	f := newFleet(ctx, log.WithField("component", "pipeline"))
	fields := logrus.Fields{"listen": ln.Addr().String(), "version": version}
	if pl != nil && pl.cluster != nil {
		fields["role"] = pl.role.String()
		fields["shards"] = pl.cluster.Shards
	}
	var origins *cluster.Origins // a cluster edge's view of its origins; nil otherwise
	if pl.edge() {
		// An edge polls its origins: for /readyz, and to show each
		// camera's state at its origin in /api/cameras.
		origins = cluster.NewOrigins(*pl.cluster, pl.cred)
		wg.Go(func() { origins.Run(ctx) })
		f.wrap = func(c *pipeline.Camera) httpapi.Camera { return edgeCamera{c, origins} }
		httpCfg.Ready = origins.Ready
	}
	cams, _ := f.apply(cfgs)
	defer f.wait()
	log.WithFields(fields).Info("serving")
	h := httpapi.NewRouter(httpCfg, cams, log.WithField("component", "http"))
	reload := func(why string) {
		if o.config == "" {
			log.Info("SIGHUP: no config file to reload")
			return
		}
		next, err := loadPlan(o.config, o.shard, getenv, ffmpegPath, ffprobePath)
		if err == nil && next.edge() != pl.edge() {
			err = fmt.Errorf("the process's role changed (%s to %s): restart it to change roles", roleName(pl), roleName(next))
		}
		if err != nil {
			log.WithError(err).Error("config reload failed; the running config stays")
			return
		}
		if next.listen != "" && next.listen != o.listen && getenv("RTSP2MJPEG_LISTEN") == "" {
			log.WithField("listen", next.listen).Warn("config reload: a new listen address needs a restart")
		}
		if origins != nil {
			origins.Set(*next.cluster, next.cred)
		}
		cams, removed := f.apply(next.cameras)
		h.SetCameras(cams)
		retire(removed) // after the router stopped serving them
		pl = next
		log.WithFields(logrus.Fields{"cameras": len(cams), "trigger": why}).Info("config reloaded")
	}
	var changed <-chan struct{}
	if o.watch {
		changed = watchFile(ctx, &wg, o.config, watchEvery, log.WithField("component", "config"))
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload("SIGHUP")
			case <-changed:
				reload("file changed")
			}
		}
	})
	err = httpapi.Serve(ctx, ln, h, log.WithField("component", "http"))
	cancel()
	wg.Wait()
	log.Info("stopped")
	return err
}
