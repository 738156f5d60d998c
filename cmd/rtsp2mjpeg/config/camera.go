package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// cameraKeys are the keys of a camera, in the order of DESIGN.md.
var cameraKeys = []string{
	"name", "url", "fps", "width", "quality", "on_demand", "when_idle", "decoder_threads",
	"idle_timeout", "start_timeout", "stall_timeout", "rtsp_transport", "codec",
	"input_format", "video_size", "framerate", // webcams only (DESIGN.md "Sources")
	"poll",     // still-image http(s) cameras only
	"profiles", // DESIGN.md "Contract additions"
}

// webcamKeys are the keys that only a webcam (url /dev/videoN) has.
var webcamKeys = []string{"input_format", "video_size", "framerate"}

// defaultsKeys are the keys of defaults: any camera key but name, url and
// poll (a URL that answers one JPEG is one camera's own).
var defaultsKeys = slices.DeleteFunc(slices.Clone(cameraKeys[2:]), func(k string) bool { return k == "poll" })

// field parses the value of one camera key and returns what sets it.
type field func(p *parser, n *yaml.Node, key string) (set func(*pipeline.CameraConfig), ok bool)

// fieldOf makes the parser of one key of a C (a camera or a profile) from
// parse and the field it sets.
func fieldOf[C, T any](parse func(string) (T, error), to func(*C) *T) func(p *parser, n *yaml.Node, key string) (func(*C), bool) {
	return func(p *parser, n *yaml.Node, key string) (func(*C), bool) {
		v, ok := value(p, n, key, parse)
		return func(c *C) { *to(c) = v }, ok
	}
}

func parseString(s string) (string, error) { return s, nil }

// parseURL takes a camera URL as the daemon keeps it: a webcam's bare
// index N is /dev/videoN.
func parseURL(s string) (string, error) { return pipeline.NormalizeURL(s), nil }

// parseFramerate accepts a number of frames per second above 0.
func parseFramerate(s string) (float64, error) {
	f, err := parseNumber(s)
	if err == nil && f <= 0 {
		return 0, fmt.Errorf("%s is not above 0 (leave framerate out for the webcam's own rate)", quote(s))
	}
	return f, err
}

// whenIdle parses when_idle: full, standby or stop (DESIGN.md "Idle
// behaviour").
func whenIdle(p *parser, n *yaml.Node, key string) (func(*pipeline.CameraConfig), bool) {
	v, ok := value(p, n, key, func(s string) (string, error) {
		switch s {
		case "full", "standby", "stop":
			return s, nil
		}
		return "", fmt.Errorf("%s: want full (decode every frame always), standby (keyframes only while nobody watches) or stop (no ffmpeg while nobody watches)", quote(s))
	})
	return func(c *pipeline.CameraConfig) { c.OnDemand, c.Standby = v == "stop", v == "standby" }, ok
}

// onDemand parses on_demand, the older name of when_idle: stop (true) or
// full (false, unless a lower layer asked for standby).
func onDemand(p *parser, n *yaml.Node, key string) (func(*pipeline.CameraConfig), bool) {
	v, ok := value(p, n, key, parseBool)
	return func(c *pipeline.CameraConfig) {
		c.OnDemand = v
		if v {
			c.Standby = false
		}
	}, ok
}

// fields parse each camera key but profiles; the range checks are
// pipeline's Validate.
var fields = map[string]field{
	"name":            fieldOf(parseString, func(c *pipeline.CameraConfig) *string { return &c.Name }),
	"url":             fieldOf(parseURL, func(c *pipeline.CameraConfig) *string { return &c.URL }),
	"fps":             fieldOf(parseNumber, func(c *pipeline.CameraConfig) *float64 { return &c.FPS }),
	"width":           fieldOf(parseInt, func(c *pipeline.CameraConfig) *int { return &c.Width }),
	"quality":         fieldOf(parseInt, func(c *pipeline.CameraConfig) *int { return &c.Quality }),
	"on_demand":       onDemand,
	"when_idle":       whenIdle,
	"decoder_threads": fieldOf(parseInt, func(c *pipeline.CameraConfig) *int { return &c.DecoderThreads }),
	"idle_timeout":    fieldOf(parseDuration, func(c *pipeline.CameraConfig) *time.Duration { return &c.IdleTimeout }),
	"start_timeout":   fieldOf(parseDuration, func(c *pipeline.CameraConfig) *time.Duration { return &c.StartTimeout }),
	"stall_timeout":   fieldOf(parseDuration, func(c *pipeline.CameraConfig) *time.Duration { return &c.StallTimeout }),
	"rtsp_transport":  fieldOf(parseString, func(c *pipeline.CameraConfig) *string { return &c.RTSPTransport }),
	"codec":           fieldOf(parseString, func(c *pipeline.CameraConfig) *string { return &c.Codec }),
	"input_format":    fieldOf(parseString, func(c *pipeline.CameraConfig) *string { return &c.InputFormat }),
	"poll":            fieldOf(parseDuration, func(c *pipeline.CameraConfig) *time.Duration { return &c.Poll }),
	"video_size":      fieldOf(parseString, func(c *pipeline.CameraConfig) *string { return &c.VideoSize }),
	"framerate":       fieldOf(parseFramerate, func(c *pipeline.CameraConfig) *float64 { return &c.Framerate }),
}

// layer is one mapping of camera keys, defaults or a camera, applied on top
// of what comes before it.
type layer struct {
	path  string                // key path of the mapping: "defaults", "cameras[1]"
	lines map[string]int        // line of each key the mapping sets
	c     pipeline.CameraConfig // the result
}

// apply parses the keys of mapping n onto l.c. Each value is checked alone
// on a valid camera with pipeline's Validate, so an error names the key it
// is about, and a camera is not blamed for a bad default.
func (p *parser) apply(l *layer, n *yaml.Node, known []string) {
	pairs := p.mapping(n, l.path, known)
	for _, key := range known { // a fixed order: the same errors every time
		kv, ok := pairs[key]
		if !ok {
			continue
		}
		path := join(l.path, key)
		if key == "profiles" {
			l.c.Profiles = p.profiles(kv, path, l.c.Profiles)
			l.lines[key] = kv.k.Line
			continue
		}
		set, ok := fields[key](p, kv.v, path)
		if !ok {
			continue
		}
		probe := pipeline.DefaultCameraConfig("camera", "rtsp://192.0.2.1/")
		if slices.Contains(webcamKeys, key) {
			probe.URL = "/dev/video0" // checked on a webcam; checkWebcam checks the camera's kind
		}
		if key == "poll" {
			probe.URL = "http://192.0.2.1/snapshot.jpg" // the camera's own Validate checks its kind
		}
		set(&probe)
		if key == "url" {
			p.urlSecrets(probe.URL)
		}
		if err := probe.Validate(); err != nil {
			p.errorf(deref(kv.v).Line, path, "%s", trimKey(err.Error(), key))
			continue
		}
		set(&l.c)
		l.lines[key] = deref(kv.v).Line
	}
	_, old := pairs["on_demand"]
	if kv, ok := pairs["when_idle"]; ok && old {
		p.errorf(deref(kv.k).Line, l.path, `both "when_idle" and "on_demand": on_demand is the older name of when_idle: stop; keep when_idle only`)
	}
}

// trimKey removes the leading key from one of Validate's messages, which
// name the key first: "fps: -1 is negative", `name "Door": must match ...`.
func trimKey(msg, key string) string {
	if rest, ok := strings.CutPrefix(msg, key+": "); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(msg, key+" "); ok {
		return rest
	}
	return msg
}

// defaults parses the defaults section onto l, which holds the built-in
// defaults and the top-level profiles. An empty one is allowed.
func (p *parser) defaults(kv pair, l *layer) {
	if n := deref(kv.v); n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		return
	}
	p.apply(l, kv.v, defaultsKeys)
	p.checkCopy(l, nil)
}

// keyIndex returns the index in mapping n's Content of the key named k, or -1.
func keyIndex(n *yaml.Node, k string) int {
	if n.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == k {
			return i
		}
	}
	return -1
}

// cameras parses the cameras list on top of defs: the built-in defaults,
// the top-level profiles and the defaults section.
func (p *parser) cameras(kv pair, defs *layer) []pipeline.CameraConfig {
	n := deref(kv.v)
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag, n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		p.errorf(kv.k.Line, "cameras", "no camera: want a list of cameras, each with a name and a url")
		return nil
	case n.Kind != yaml.SequenceNode:
		p.errorf(kv.k.Line, "cameras", "must be a list of cameras, not %s", kindName(n))
		return nil
	}
	var (
		cams  []pipeline.CameraConfig
		names = map[string]int{} // line of each name
	)
	for i, cn := range n.Content {
		path := fmt.Sprintf("cameras[%d]", i)
		before := len(p.errs)
		l := &layer{path: path, lines: map[string]int{}, c: defs.c}
		l.c.Profiles = slices.Clone(defs.c.Profiles) // each camera its own
		p.apply(l, cn, cameraKeys)
		line := deref(cn).Line
		for _, k := range []string{"name", "url"} {
			if keyIndex(deref(cn), k) < 0 && deref(cn).Kind == yaml.MappingNode {
				p.errorf(line, path, "missing %q", k)
			}
		}
		if first, dup := names[l.c.Name]; dup && l.c.Name != "" {
			p.errorf(l.lines["name"], join(path, "name"), "duplicate camera name %q (first at line %d)", l.c.Name, first)
		} else if _, ok := l.lines["name"]; ok {
			names[l.c.Name] = l.lines["name"]
		}
		p.checkCopy(l, defs)
		p.checkWebcam(l)
		if len(p.errs) > before {
			continue
		}
		if err := l.c.Validate(); err != nil { // each key passed: only a combination can fail
			p.errorf(line, path, "%v", err)
			continue
		}
		cams = append(cams, l.c)
	}
	return cams
}

// checkCopy reports fps or width set in layer l on a camera with codec
// copy: ffmpeg cannot filter a stream copy, so they would be ignored.
// Values of defaults do not count against a camera's own codec copy.
func (p *parser) checkCopy(l, defs *layer) {
	if l.c.Codec != pipeline.CodecCopy {
		return
	}
	codecAt := l.lines["codec"]
	if _, own := l.lines["codec"]; !own && defs != nil {
		codecAt = defs.lines["codec"]
	}
	for _, s := range []struct {
		key string
		set bool
		val any
	}{
		{"fps", l.c.FPS != 0, l.c.FPS},
		{"width", l.c.Width != 0, l.c.Width},
	} {
		if line, own := l.lines[s.key]; own && s.set {
			p.errorf(line, join(l.path, s.key), "%v cannot be used with codec copy (line %d): ffmpeg cannot filter a stream copy; remove %s or use codec mjpeg",
				s.val, codecAt, s.key)
		}
	}
}

// checkWebcam reports the keys of a webcam set on a camera that is not one
// (ffmpeg would not use them), and drops those it inherits from defaults,
// which are meant for the webcams among the cameras.
func (p *parser) checkWebcam(l *layer) {
	if _, ok := l.lines["url"]; !ok || pipeline.IsV4L2URL(l.c.URL) {
		return // no valid url: reported already
	}
	for _, key := range webcamKeys {
		if line, own := l.lines[key]; own {
			p.errorf(line, join(l.path, key), "only a webcam (url /dev/videoN) has %s; this camera's url is %s: remove it",
				key, pipeline.RedactURL(l.c.URL))
		}
	}
	l.c.InputFormat, l.c.VideoSize, l.c.Framerate = "", "", 0
}
