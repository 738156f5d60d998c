package pipeline

import (
	"net/url"
	"strings"
)

// RedactURL returns raw with its password replaced by "xxxxx", as
// rtsp://viewer:xxxxx@192.0.2.10:554/stream1. A URL that does not parse is
// replaced whole, since its password cannot be located.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	if u.User == nil && u.Host == "" && strings.Contains(raw, "@") {
		// A malformed URL (rtsp:/u:p@h, rtsp:u:p@h) keeps the userinfo in
		// its path or opaque part, where Redacted does not look.
		at := strings.LastIndexByte(raw, '@')
		if u.Scheme != "" {
			return u.Scheme + ":xxxxx" + raw[at:]
		}
		return "xxxxx" + raw[at:]
	}
	return u.Redacted()
}

// Redactor masks one camera's secrets in free text such as ffmpeg's stderr or
// an error message: the password, in clear and percent-encoded, wherever it
// appears.
type Redactor struct {
	r *strings.Replacer // nil when there is nothing to mask
}

// NewRedactor returns a redactor for the secrets of rawURL.
func NewRedactor(rawURL string) *Redactor {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return &Redactor{}
	}
	pass, ok := u.User.Password()
	if !ok || pass == "" {
		return &Redactor{}
	}
	var pairs []string
	add := func(s string) {
		if s != "" {
			pairs = append(pairs, s, "xxxxx")
		}
	}
	// Longest forms first: the replacer picks the first match at a position.
	if _, raw, ok := strings.Cut(u.User.String(), ":"); ok {
		add(raw) // as written in the URL (userinfo escaping)
	}
	add(url.QueryEscape(pass))
	add(strings.ReplaceAll(url.QueryEscape(pass), "+", "%20"))
	add(url.PathEscape(pass))
	add(pass)
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// Redact returns s with the secrets masked.
func (r *Redactor) Redact(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}
