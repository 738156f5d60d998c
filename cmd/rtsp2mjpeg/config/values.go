package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

const nullTag = "!!null"

// scalar returns the text of the single value n, at key path, with ${VAR}
// expanded. It reports an error and returns false for a list, a mapping,
// an empty value or an unusual tag. Any single value reads as a string, so
// a password of digits needs no quotes.
func (p *parser) scalar(n *yaml.Node, key string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n.Line, key, "must be a single value, not %s", kindName(n))
		return "", false
	}
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
	case nullTag:
		p.errorf(n.Line, key, "has no value")
		return "", false
	default:
		p.errorf(n.Line, key, "unsupported tag %s", quote(tag))
		return "", false
	}
	v, err := expand(restoreVars(n.Value, p.vars), p.getenv)
	if err != nil {
		p.errorf(n.Line, key, "%v", err)
		return "", false
	}
	return v, true
}

// value parses the single value n at key path with parse, which returns an
// error without the key.
func value[T any](p *parser, n *yaml.Node, key string, parse func(string) (T, error)) (T, bool) {
	var zero T
	s, ok := p.scalar(n, key)
	if !ok {
		return zero, false
	}
	v, err := parse(s)
	if err != nil {
		p.errorf(deref(n).Line, key, "%v", err)
		return zero, false
	}
	return v, true
}

// parseNumber accepts an integer or a decimal number, as 10 or 0.5.
func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is not a number", quote(s))
	}
	return f, nil
}

// parseInt accepts a whole number, as 1280.
func parseInt(s string) (int, error) {
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s is out of range", quote(s))
	}
	if err != nil {
		return 0, fmt.Errorf("%s is not a whole number", quote(s))
	}
	return i, nil
}

// parseBool accepts true and false, as YAML 1.2 does; not yes, no, on, off.
func parseBool(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("%s is not true or false", quote(s))
}

// parseDuration accepts a Go duration, as "30s", "500ms" or "1m30s", or a
// number of seconds, as 30 or 0.5.
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		ns := f * float64(time.Second)
		if math.IsNaN(ns) || math.Abs(ns) >= math.MaxInt64 {
			return 0, fmt.Errorf("%s is not a duration in range", quote(s))
		}
		return time.Duration(ns), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf(`%s is not a duration: want e.g. "30s", "500ms", "1m" or a number of seconds`, quote(s))
	}
	return d, nil
}

// checkListen returns what is wrong with a listen address, or "".
func checkListen(v string) string {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Sprintf(`%s is not host:port, as ":8007" or "127.0.0.1:8007"`, quote(v))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return fmt.Sprintf("port %s is not a number in 0..65535", quote(port))
	}
	return ""
}

// quote quotes a value for a message, cut to a readable length.
func quote(s string) string {
	const maxRunes = 40
	if utf8.RuneCountInString(s) > maxRunes {
		s = string([]rune(s)[:maxRunes]) + "…"
	}
	return strconv.Quote(s)
}

// suggest returns " (did you mean "fps"?)" when key is a likely typo of a
// known key, else the list of known keys.
func suggest(key string, known []string) string {
	best, bestD := "", 3 // at most two edits
	if len(key) <= 64 {
		for _, k := range known {
			if d := editDistance(key, k); d < bestD && d < len(k) {
				best, bestD = k, d
			}
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (want one of " + strings.Join(known, ", ") + ")"
}

// editDistance is the Levenshtein distance of a and b, in bytes, counting a
// swap of neighbours as one edit (so "fsp" is one edit from "fps").
func editDistance(a, b string) int {
	// d[i][j] is the distance of a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
