package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// expand replaces ${NAME} in s with getenv(NAME), ${NAME:-default} with
// default when NAME is unset or empty, and $$ with $. It runs on the value
// of one scalar after YAML parsing, so the value of a variable is never
// parsed as YAML, and what it returns is not expanded again. Errors never
// quote s: it may hold a password.
func expand(s string, getenv func(string) string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		switch {
		case strings.HasPrefix(s, "$"):
			b.WriteByte('$')
			s = s[1:]
			continue
		case !strings.HasPrefix(s, "{"):
			return "", errors.New(`"$" must start ${NAME} or ${NAME:-default}; write "$$" for a literal "$"`)
		}
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", errors.New(`"${" has no closing "}"`)
		}
		expr := s[1:end]
		s = s[end+1:]
		n := nameLen(expr)
		name, rest := expr[:n], expr[n:]
		if name == "" {
			return "", errors.New(`"${" must be followed by a variable name: letters, digits and _, not starting with a digit`)
		}
		v := getenv(name)
		switch {
		case rest == "":
			if v == "" {
				return "", fmt.Errorf("environment variable %s is not set (or is empty); write ${%s:-default} for a default", name, name)
			}
		case strings.HasPrefix(rest, ":-"):
			if v == "" {
				v = rest[2:]
			}
		default:
			return "", fmt.Errorf("${%s...}: only ${%s} and ${%s:-default} are supported", name, name, name)
		}
		b.WriteString(v)
	}
}

// nameLen returns the length of the variable name at the start of s:
// [A-Za-z_][A-Za-z0-9_]*.
func nameLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return i
		}
	}
	return len(s)
}

// varMark starts the placeholder of a ${...} hidden from the YAML parser.
const varMark = "__rtsp2mjpeg_var_"

// protectVars replaces each ${...} of a config file with a placeholder made
// of letters, digits and _, before YAML parsing: DESIGN.md writes
// `tokens: [${DASH_TOKEN}]`, where YAML would take the braces for a flow
// mapping. Line numbers do not change. restoreVars puts them back in each
// value, before expand.
func protectVars(data []byte) ([]byte, []string) {
	if !bytes.Contains(data, []byte("${")) {
		return data, nil
	}
	var out []byte
	var vars []string
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '$' && i+1 < len(data) && data[i+1] == '$' { // a literal $
			out = append(out, '$', '$')
			i++
			continue
		}
		if c == '$' && i+1 < len(data) && data[i+1] == '{' {
			end := bytes.IndexAny(data[i:], "}\n")
			if end > 0 && data[i+end] == '}' {
				out = append(out, varMark...)
				out = strconv.AppendInt(out, int64(len(vars)), 10)
				out = append(out, "__"...)
				vars = append(vars, string(data[i:i+end+1]))
				i += end
				continue
			}
		}
		out = append(out, c)
	}
	return out, vars
}

// restoreVars puts back the ${...} texts that protectVars hid in s.
func restoreVars(s string, vars []string) string {
	if len(vars) == 0 || !strings.Contains(s, varMark) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, varMark)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+len(varMark):]
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		idx, err := strconv.Atoi(rest[:n])
		if err != nil || idx >= len(vars) || !strings.HasPrefix(rest[n:], "__") {
			b.WriteString(varMark) // not ours: keep the text
			s = rest
			continue
		}
		b.WriteString(vars[idx])
		s = rest[n+2:]
	}
}
