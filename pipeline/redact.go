package pipeline

import (
	"net/url"
	"slices"
	"strings"
)

// RedactURL returns raw with its password replaced by "xxxxx", as
// rtsp://viewer:xxxxx@192.0.2.10:554/stream1, and the values of credential
// query parameters too (?token=xxxxx). A URL that does not parse is
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
	if u.RawQuery != "" {
		u.RawQuery = RedactQuery(u.RawQuery)
	}
	return u.Redacted()
}

// secretQueryKeys are query parameters that carry a credential: another
// rtsp2mjpeg's ?token=, and the ?user=admin&pwd=… of many cheap cameras'
// CGI URLs. Their values are masked like a password.
var secretQueryKeys = map[string]bool{
	"token": true, "access_token": true, "auth": true, "key": true,
	"apikey": true, "api_key": true, "secret": true,
	"password": true, "passwd": true, "pass": true, "pwd": true,
}

// RedactQuery masks the values of secretQueryKeys in a raw query, keeping
// the rest as written.
func RedactQuery(raw string) string {
	parts := strings.Split(raw, "&")
	for i, kv := range parts {
		k, v, ok := strings.Cut(kv, "=")
		if ok && v != "" && isSecretQueryKey(k) {
			parts[i] = k + "=xxxxx"
		}
	}
	return strings.Join(parts, "&")
}

func isSecretQueryKey(k string) bool {
	if uk, err := url.QueryUnescape(k); err == nil {
		k = uk
	}
	return secretQueryKeys[strings.ToLower(k)]
}

// QuerySecrets returns the values of raw's credential query parameters
// (token=, pwd=…), decoded and as written, for masking in free text.
func QuerySecrets(raw string) []string {
	_, query, ok := strings.Cut(raw, "?")
	if !ok {
		return nil
	}
	query, _, _ = strings.Cut(query, "#")
	var out []string
	for _, kv := range strings.Split(query, "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" || !isSecretQueryKey(k) {
			continue
		}
		out = append(out, v)
		if dv, err := url.QueryUnescape(v); err == nil && dv != v {
			out = append(out, dv)
		}
	}
	return out
}

// Redactor masks one camera's secrets in free text such as ffmpeg's stderr or
// an error message: the password, in clear and percent-encoded, wherever it
// appears.
type Redactor struct {
	r *strings.Replacer // nil when there is nothing to mask
}

// NewRedactor returns a redactor for the secrets of rawURL.
func NewRedactor(rawURL string) *Redactor {
	var pairs []string
	add := func(s string) {
		if s != "" {
			pairs = append(pairs, s, "xxxxx")
		}
	}
	for _, s := range QuerySecrets(rawURL) {
		add(s)
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return newRedactor(pairs)
	}
	pass, ok := u.User.Password()
	if !ok || pass == "" {
		return newRedactor(pairs)
	}
	if _, raw, ok := strings.Cut(u.User.String(), ":"); ok {
		add(raw) // as written in the URL (userinfo escaping)
	}
	add(url.QueryEscape(pass))
	add(strings.ReplaceAll(url.QueryEscape(pass), "+", "%20"))
	add(url.PathEscape(pass))
	add(pass)
	return newRedactor(pairs)
}

// newRedactor masks each old string of pairs (old, new, old, new…), the
// longest first: a replacer picks the first match at a position.
func newRedactor(pairs []string) *Redactor {
	if len(pairs) == 0 {
		return &Redactor{}
	}
	olds := make([]string, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		olds = append(olds, pairs[i])
	}
	slices.SortStableFunc(olds, func(a, b string) int { return len(b) - len(a) })
	sorted := make([]string, 0, len(pairs))
	for _, o := range slices.Compact(olds) {
		sorted = append(sorted, o, "xxxxx")
	}
	return &Redactor{r: strings.NewReplacer(sorted...)}
}

// Redact returns s with the secrets masked.
func (r *Redactor) Redact(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}
