package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

var authKeys = []string{"username", "password", "password_file", "tokens"}

// auth parses the auth section. Its password and tokens are recorded as
// secrets before anything is checked, so no error can show them.
func (p *parser) auth(kv pair) *Auth {
	if n := deref(kv.v); n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		// Not "off": whoever wrote auth: meant to turn it on.
		p.errorf(kv.k.Line, "auth", `has no value: set "username" and "password" (or "password_file"), or "tokens"; or remove "auth" to turn auth off`)
		return nil
	}
	pairs := p.mapping(kv.v, "auth", authKeys)
	if pairs == nil {
		return nil
	}
	a := &Auth{}
	line := func(key string) int { return deref(pairs[key].v).Line }
	str := func(key string, to *string, secret bool) {
		kv, ok := pairs[key]
		if !ok {
			return
		}
		v, ok := p.scalar(kv.v, "auth."+key)
		if secret {
			p.secret(v)
		}
		if ok && v == "" {
			p.errorf(line(key), "auth."+key, "is empty")
		}
		*to = v
	}
	str("password", &a.Password, true)
	str("username", &a.Username, false)
	str("password_file", &a.PasswordFile, false)
	a.PasswordFile = p.resolveFile(a.PasswordFile)
	if kv, ok := pairs["tokens"]; ok {
		a.Tokens = p.tokens(kv.v)
	}

	_, user := pairs["username"]
	_, pass := pairs["password"]
	_, file := pairs["password_file"]
	tokens := len(a.Tokens) > 0
	if kv, ok := pairs["tokens"]; ok && !tokens {
		n := deref(kv.v) // bad tokens, reported: not "no credentials" too
		tokens = n.Kind != yaml.SequenceNode || len(n.Content) > 0
	}
	if strings.Contains(a.Username, ":") {
		p.errorf(line("username"), "auth.username", `must not contain ":" (HTTP Basic auth cannot carry it)`)
	}
	switch {
	case pass && file:
		p.errorf(line("password_file"), "auth.password_file", "cannot be used with auth.password (line %d): set one of them", line("password"))
	case (pass || file) && !user:
		p.errorf(kv.k.Line, "auth", `"username" is missing`)
	case user && !pass && !file:
		p.errorf(line("username"), "auth.username", `needs "password" or "password_file"`)
	case !user && !tokens:
		p.errorf(kv.k.Line, "auth", `set "username" and "password" (or "password_file"), or "tokens"; or remove "auth" to turn auth off`)
	}
	return a
}

// tokens parses auth.tokens, a list of strings.
func (p *parser) tokens(n *yaml.Node) []string {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, "auth.tokens", `must be a list, as ["${DASH_TOKEN}"], not %s`, kindName(n))
		if n.Kind == yaml.ScalarNode {
			p.secret(n.Value) // a token written without brackets
		}
		return nil
	}
	var out []string
	for i, tn := range n.Content {
		key := fmt.Sprintf("auth.tokens[%d]", i)
		v, ok := p.scalar(tn, key)
		p.secret(v)
		switch {
		case !ok:
		case v == "":
			p.errorf(deref(tn).Line, key, "is empty")
		default:
			out = append(out, v)
		}
	}
	return out
}
