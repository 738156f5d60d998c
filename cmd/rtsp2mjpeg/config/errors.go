package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// Error is one problem of a config file. Its text is
// "path:line: key: message", as cameras.yml:7: cameras[1].fps: "ten" is not
// a number; without line or key when the problem has none (an unreadable
// or empty file).
type Error struct {
	Path string // the config file
	Line int    // 1-based; 0 when the problem is with the file as a whole
	Key  string // key path, as cameras[1].fps; "" for the file or its top level
	Msg  string // never holds a password or token
	Err  error  // the underlying error, if any (os.ReadFile's)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is(err, fs.ErrNotExist)
// works on Load's error.
func (e *Error) Unwrap() error { return e.Err }

// errorf records a problem at line and key path.
func (p *parser) errorf(line int, key, format string, args ...any) {
	p.errs = append(p.errs, &Error{Path: p.path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err returns every recorded problem, in file order, secrets masked.
func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	mask := p.masker()
	slices.SortStableFunc(p.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		e.Key = mask.Replace(e.Key)
		e.Msg = mask.Replace(e.Msg)
		errs[i] = e
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// secret records s (a password, a token) to be masked in errors.
func (p *parser) secret(s string) {
	if s != "" {
		p.secrets = append(p.secrets, s, url.QueryEscape(s), url.PathEscape(s),
			strings.ReplaceAll(url.QueryEscape(s), "+", "%20"))
	}
}

// urlSecrets records the password of a camera URL. Besides the password
// url.Parse finds, it takes what looks like one in a URL it cannot parse
// or parses oddly (rtsp:/user:pass@host): after the last "/" and the first
// ":" before the last "@".
func (p *parser) urlSecrets(raw string) {
	for _, s := range pipeline.QuerySecrets(raw) {
		p.secret(s)
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if pass, ok := u.User.Password(); ok {
			p.secret(pass)
		}
	}
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return
	}
	userinfo := raw[:at]
	if i := strings.LastIndexByte(userinfo, '/'); i >= 0 {
		userinfo = userinfo[i+1:]
	}
	if _, pass, ok := strings.Cut(userinfo, ":"); ok {
		p.secret(pass)
		if s, err := url.PathUnescape(pass); err == nil {
			p.secret(s)
		}
	}
}

// masker replaces every recorded secret with xxxxx, longest first.
func (p *parser) masker() *strings.Replacer {
	s := slices.Clone(p.secrets)
	slices.SortFunc(s, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	s = slices.Compact(s)
	pairs := make([]string, 0, 2*len(s))
	for _, v := range s {
		if v != "" {
			pairs = append(pairs, v, "xxxxx")
		}
	}
	return strings.NewReplacer(pairs...)
}

// yamlLineRE matches the position in a yaml.v3 syntax error.
var yamlLineRE = regexp.MustCompile(`^line (\d+): `)

// syntaxError records a YAML syntax error at the line where it is.
//
// yaml.v3 reports the line where the enclosing block starts, 0-based, for
// parser errors (a wrongly indented key on line 4 of a camera that starts
// on line 2 says "line 1"), and no line at all for errors on the first line
// or in the character stream. So the line is found again: it is the first
// line at which the file, cut after that line, fails with the same problem.
func (p *parser) syntaxError(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	if l := locate(data, msg, max(line, 1)); l > 0 {
		line = l
	}
	line = max(line, 1)
	if text := lineText(data, line); strings.Contains(text, "${") && strings.ContainsAny(text, "[{") {
		// DESIGN.md's own tokens: [${DASH_TOKEN}] is such a line.
		msg += `; in [...] and {...}, quote a value with ${VAR}, as ["${DASH_TOKEN}"]`
	}
	p.errorf(line, "", "not valid YAML: %s", msg)
}

// locate returns the first line, from line from on, at which the file cut
// after that line fails to parse with problem msg, or 0. Cuts before the
// faulty line parse, or fail otherwise (at an unclosed [ of an earlier
// line, say), and cuts after it fail as the whole file does, so a binary
// search finds it in a few parses.
func locate(data []byte, msg string, from int) int {
	var ends []int // ends[i] is the end of line i+1, its newline included
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	fails := func(line int) bool { // the file cut after line fails with msg
		dec := yaml.NewDecoder(bytes.NewReader(data[:ends[line-1]]))
		for {
			var doc yaml.Node
			err := safeDecode(dec, &doc)
			if err == io.EOF {
				return false
			}
			if err != nil {
				m := yamlLineRE.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
				return m == msg
			}
		}
	}
	lo, hi := from, len(ends)
	if lo > hi || !fails(hi) {
		return 0
	}
	for lo < hi { // fails(hi) holds
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

// lineText returns line n (1-based) of data.
func lineText(data []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return ""
		}
		data = data[j+1:]
	}
	if j := bytes.IndexByte(data, '\n'); j >= 0 {
		data = data[:j]
	}
	return string(data)
}
