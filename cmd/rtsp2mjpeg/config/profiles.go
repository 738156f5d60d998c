package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// profileKeys are the keys of one profile, all optional.
var profileKeys = []string{"url", "fps", "width", "quality"}

// profileField parses the value of one profile key and returns what sets it.
type profileField func(p *parser, n *yaml.Node, key string) (set func(*pipeline.ProfileConfig), ok bool)

// profileFields parse each profile key; the range checks are pipeline's
// ProfileConfig.Validate.
var profileFields = map[string]profileField{
	"url":     fieldOf(parseURL, func(c *pipeline.ProfileConfig) *string { return &c.URL }),
	"fps":     fieldOf(parseNumber, func(c *pipeline.ProfileConfig) *float64 { return &c.FPS }),
	"width":   fieldOf(parseInt, func(c *pipeline.ProfileConfig) *int { return &c.Width }),
	"quality": fieldOf(parseInt, func(c *pipeline.ProfileConfig) *int { return &c.Quality }),
}

// profiles parses the profiles mapping kv (at key path) on top of
// inherited, the profiles of the level above, and returns the result:
// inherited in their order, one named again replaced in its place as a
// whole (no key of the one above is kept: a substream's url and a width
// from different levels would surprise), one set to false removed, then
// the new ones in file order. inherited is not modified.
func (p *parser) profiles(kv pair, path string, inherited []pipeline.ProfileConfig) []pipeline.ProfileConfig {
	n := deref(kv.v)
	if n.Kind != yaml.MappingNode {
		p.errorf(valueLine(kv), path, "must be a mapping of profile names to profiles, as {low: {width: 640, fps: 10}, thumb: false}, not %s", kindName(n))
		return inherited
	}
	pairs := p.mapping(n, path, nil)
	names := make([]string, len(inherited))
	for i, c := range inherited {
		names[i] = c.Name
	}
	out := slices.Clone(inherited)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		pkv, ok := pairs[k.Value]
		if !ok || pkv.k != k {
			continue // reported by mapping
		}
		name := restoreVars(k.Value, p.vars) // a name is not expanded: ${X} is no name
		ppath := profilePath(path, name)
		if err := (pipeline.ProfileConfig{Name: name}).Validate(); err != nil {
			p.errorf(k.Line, ppath, "%s", trimKey(err.Error(), name))
			continue
		}
		at := slices.IndexFunc(out, func(c pipeline.ProfileConfig) bool { return c.Name == name })
		if isFalse(pkv.v) {
			if at < 0 {
				p.errorf(k.Line, ppath, "there is no profile %q to remove%s", name, inheritedHint(name, names))
				continue
			}
			out = slices.Delete(out, at, at+1)
			continue
		}
		c, ok := p.profile(pkv, ppath, name)
		switch {
		case !ok:
		case at >= 0:
			out[at] = c
		default:
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// profile parses the definition of the profile called name, a mapping of
// profileKeys. Each value is checked alone with Validate, so an error names
// the key it is about.
func (p *parser) profile(kv pair, path, name string) (pipeline.ProfileConfig, bool) {
	c := pipeline.ProfileConfig{Name: name}
	n := deref(kv.v)
	if n.Kind != yaml.MappingNode {
		what := kindName(n)
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
			what = n.Value // true
		}
		p.errorf(valueLine(kv), path, "must be a mapping, as {width: 640, fps: 10} ({} for the source as it is), or false to remove the profile; not %s", what)
		return c, false
	}
	before := len(p.errs)
	pairs := p.mapping(n, path, profileKeys)
	for _, key := range profileKeys { // a fixed order: the same errors every time
		kv, ok := pairs[key]
		if !ok {
			continue
		}
		kpath := join(path, key)
		line := deref(kv.v).Line
		set, ok := profileFields[key](p, kv.v, kpath)
		if !ok {
			continue
		}
		probe := pipeline.ProfileConfig{Name: "p"}
		set(&probe)
		if key == "url" {
			p.urlSecrets(probe.URL)
			if probe.URL == "" { // Validate takes "" for "no url"; written, it is a mistake
				p.errorf(line, kpath, "empty")
				continue
			}
		}
		if err := probe.Validate(); err != nil {
			p.errorf(line, kpath, "%s", trimKey(err.Error(), "p."+key))
			continue
		}
		set(&c)
	}
	if len(p.errs) > before {
		return c, false
	}
	if err := c.Validate(); err != nil { // each key passed: not expected
		p.errorf(n.Line, path, "%s", strings.TrimPrefix(err.Error(), name+"."))
		return c, false
	}
	return c, true
}

// valueLine is the line of kv's value, or of its key when the value is
// empty (yaml.v3 may place an empty value on the next line).
func valueLine(kv pair) int {
	if n := deref(kv.v); n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		return kv.k.Line
	}
	return deref(kv.v).Line
}

// isFalse reports whether n is the boolean false, which removes a profile.
func isFalse(n *yaml.Node) bool {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false
	}
	v, err := parseBool(n.Value)
	return err == nil && !v
}

// profilePath is the key path of the profile called name in the profiles
// mapping at path: profiles.thumb, or profiles["a b"] for a name that would
// not read as one word (its check reports it).
func profilePath(path, name string) string {
	plain := name != "" && len(name) <= 40 && !strings.ContainsAny(name, `.:[]"`)
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			plain = false
		}
	}
	if plain {
		return join(path, name)
	}
	return path + "[" + quote(name) + "]"
}

// inheritedHint ends the message for a removal of a profile that is not
// inherited: the likely typo, or what is inherited.
func inheritedHint(name string, names []string) string {
	if len(names) == 0 {
		return ": none is inherited here"
	}
	if s := suggest(name, names); strings.HasPrefix(s, " (did you mean") {
		return s
	}
	return fmt.Sprintf(" (inherited: %s)", strings.Join(names, ", "))
}
