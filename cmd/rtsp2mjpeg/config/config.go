// Package config reads the daemon's YAML config file (DESIGN.md "Config
// file"): listen address, auth, profiles, camera defaults and cameras.
//
// The file is decoded into a yaml.Node tree and walked by hand, so every
// problem is reported with the file, the line and the key path, as
//
//	cameras.yml:7: cameras[1].fps: "ten" is not a number
//
// and every problem of the file is reported at once, one per line. Camera
// passwords and auth secrets never appear in an error.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// File is a parsed and validated config file.
type File struct {
	Path   string // the file it came from
	Listen string // HTTP address; "" when absent
	Auth   *Auth  // nil when absent
	// Cameras are in file order, each valid, with defaults applied and
	// Profiles resolved: built-in (pipeline.DefaultProfiles) <- top-level
	// profiles <- defaults.profiles <- the camera's profiles. FFmpeg and
	// FFprobe are DefaultCameraConfig's.
	Cameras []pipeline.CameraConfig

	// HTTP settings; 0 when absent, so the caller's (httpapi's) default applies.
	WriteTimeout    time.Duration // write_timeout: drop a viewer that accepted nothing for this long
	SnapshotTimeout time.Duration // snapshot_timeout: how long a snapshot waits for a fresh frame
	MaxAge          time.Duration // max_age: default max_age of a snapshot

	// Viewer caps; 0 when absent (the caller's default), -1 for "no cap"
	// when written as 0.
	MaxViewers          int // max_viewers: concurrent streams in all
	MaxViewersPerCamera int // max_viewers_per_camera

	// Cluster is the cluster section; nil when absent (a single box).
	Cluster *cluster.Config
}

// Auth is the auth section. Either Username with exactly one of Password
// and PasswordFile is set, or Tokens is not empty, or both.
type Auth struct {
	Username     string
	Password     string
	PasswordFile string // relative paths are made relative to the config file's directory
	Tokens       []string
}

// Load reads and parses the config file at path. getenv expands ${VAR};
// nil means os.Getenv.
func Load(path string, getenv func(string) string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, &Error{Path: path, Msg: "cannot read: " + err.Error(), Err: err}
	}
	return Parse(path, data, getenv)
}

// Parse parses data, the contents of the config file at path (used in
// messages and to resolve auth.password_file). getenv expands ${VAR}; nil
// means os.Getenv. The error, if any, holds one line per problem, each an
// *Error (see errors.As and errors.Join).
func Parse(path string, data []byte, getenv func(string) string) (*File, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := &parser{path: path, getenv: getenv}
	f := p.file(data)
	if err := p.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// parser walks one file, collecting its problems and its secrets.
type parser struct {
	path    string
	getenv  func(string) string
	errs    []*Error
	secrets []string // masked in every error message
	vars    []string // ${...} texts hidden from the YAML parser, see protectVars
}

// Top-level keys, in the order of DESIGN.md.
var topKeys = []string{"listen", "auth", "defaults", "cameras", "write_timeout", "snapshot_timeout", "max_age",
	"max_viewers", "max_viewers_per_camera", "profiles", "cluster"}

func (p *parser) file(data []byte) *File {
	root, ok := p.decode(data)
	if !ok {
		return nil
	}
	f := &File{Path: p.path}
	pairs := p.mapping(root, "", topKeys)
	if pairs == nil {
		return nil
	}
	if kv, ok := pairs["listen"]; ok {
		if v, ok := p.scalar(kv.v, "listen"); ok {
			if msg := checkListen(v); msg != "" {
				p.errorf(kv.v.Line, "listen", "%s", msg)
			}
			f.Listen = v
		}
	}
	if kv, ok := pairs["auth"]; ok {
		f.Auth = p.auth(kv)
	}
	if kv, ok := pairs["cluster"]; ok {
		f.Cluster = p.cluster(kv)
	}
	for _, d := range []struct {
		key string
		to  *time.Duration
	}{
		{"write_timeout", &f.WriteTimeout},
		{"snapshot_timeout", &f.SnapshotTimeout},
		{"max_age", &f.MaxAge},
	} {
		if kv, ok := pairs[d.key]; ok {
			if v, ok := value(p, kv.v, d.key, parseDuration); ok {
				if v <= 0 {
					p.errorf(kv.v.Line, d.key, "must be positive")
				}
				*d.to = v
			}
		}
	}
	for _, c := range []struct {
		key string
		to  *int
	}{
		{"max_viewers", &f.MaxViewers},
		{"max_viewers_per_camera", &f.MaxViewersPerCamera},
	} {
		if kv, ok := pairs[c.key]; ok {
			if v, ok := value(p, kv.v, c.key, parseInt); ok {
				switch {
				case v < 0:
					p.errorf(kv.v.Line, c.key, "%d is negative (0 means no cap)", v)
				case v == 0:
					*c.to = -1
				default:
					*c.to = v
				}
			}
		}
	}
	// Each camera starts from defs: built-in <- profiles <- defaults.
	defs := &layer{path: "defaults", lines: map[string]int{}, c: pipeline.DefaultCameraConfig("", "")}
	if kv, ok := pairs["profiles"]; ok {
		defs.c.Profiles = p.profiles(kv, "profiles", defs.c.Profiles)
	}
	if kv, ok := pairs["defaults"]; ok {
		p.defaults(kv, defs)
	}
	kv, ok := pairs["cameras"]
	if !ok {
		p.errorf(root.Line, "", `no "cameras": want a list of cameras, each with a name and a url`)
		return f
	}
	f.Cameras = p.cameras(kv, defs)
	return f
}

// decode parses data into the root node of its one YAML document.
func (p *parser) decode(data []byte) (*yaml.Node, bool) {
	data, p.vars = protectVars(data)
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := safeDecode(dec, &doc)
	if err == io.EOF {
		p.errs = append(p.errs, &Error{Path: p.path, Msg: `the file is empty: want a "cameras" list`})
		return nil, false
	}
	if err != nil {
		p.syntaxError(data, err)
		return nil, false
	}
	var next yaml.Node
	switch err := safeDecode(dec, &next); {
	case err == io.EOF:
	case err != nil:
		p.syntaxError(data, err)
		return nil, false
	default: // reported, and the first document is still checked
		p.errorf(max(next.Line, 1), "", `a second YAML document ("---") is not supported`)
	}
	if len(doc.Content) == 0 {
		p.errs = append(p.errs, &Error{Path: p.path, Msg: `the file is empty: want a "cameras" list`})
		return nil, false
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == nullTag {
		p.errs = append(p.errs, &Error{Path: p.path, Msg: `the file is empty: want a "cameras" list`})
		return nil, false
	}
	return root, true
}

// safeDecode is dec.Decode, turning a panic of the YAML library into an
// error: a config file must never crash the daemon.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

// pair is one key and its value in a mapping.
type pair struct {
	k, v *yaml.Node
}

// mapping checks that n is a mapping whose keys are unique and among known
// (any key when known is nil), and returns its pairs by key. It returns nil after reporting an error if n
// is not a mapping. path is n's key path ("" for the top level).
func (p *parser) mapping(n *yaml.Node, path string, known []string) map[string]pair {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, path, "must be a mapping of keys to values, not %s", kindName(n))
		return nil
	}
	pairs := make(map[string]pair, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, path, "a key must be a plain word, not %s", kindName(k))
			continue
		}
		switch {
		case k.Value == "<<" && k.Tag == "!!merge":
			p.errorf(k.Line, path, `merge keys ("<<") are not supported: use "defaults" for values shared by cameras`)
		case path == "defaults" && (k.Value == "name" || k.Value == "url"):
			p.errorf(k.Line, path, "%q cannot have a default: set it on each camera", k.Value)
		case known != nil && !slices.Contains(known, k.Value):
			key := restoreVars(k.Value, p.vars) // ${...} as written, not its placeholder
			p.errorf(k.Line, path, "unknown key %s%s", quote(key), suggest(key, known))
		default:
			if first, dup := pairs[k.Value]; dup {
				p.errorf(k.Line, path, "duplicate key %s (first at line %d)", quote(restoreVars(k.Value, p.vars)), first.k.Line)
				continue
			}
			pairs[k.Value] = pair{k, v}
		}
	}
	return pairs
}

// deref follows an alias (*name) to its anchored node.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// kindName describes a node for messages, never quoting its value.
func kindName(n *yaml.Node) string {
	switch n = deref(n); n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == nullTag {
			return "empty"
		}
		return "a single value"
	}
	return "an unknown node"
}

// join builds a key path: join("cameras[1]", "fps") is "cameras[1].fps".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolveFile makes a relative file name in the config file relative to
// the config file's directory.
func (p *parser) resolveFile(name string) string {
	if name == "" || filepath.IsAbs(name) || p.path == "" {
		return name
	}
	return filepath.Join(filepath.Dir(p.path), name)
}
