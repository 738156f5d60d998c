package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Auth holds the credentials that open the API (DESIGN.md "HTTP API"). A
// nil *Auth means no authentication.
type Auth struct {
	Username, Password string   // HTTP Basic; off when Username is ""
	Tokens             []string // Authorization: Bearer, or ?token= for <img> tags
}

// credentials are compared as SHA-256 digests, in constant time: neither
// the content nor the length of a secret leaks through timing.
type credentials struct {
	basic  bool
	user   [32]byte
	pass   [32]byte
	tokens [][32]byte
	realm  string // WWW-Authenticate value(s)
}

func newCredentials(a *Auth) *credentials {
	if a == nil || (a.Username == "" && len(a.Tokens) == 0) {
		return nil
	}
	c := &credentials{basic: a.Username != ""}
	var challenges []string
	if c.basic {
		c.user, c.pass = sha256.Sum256([]byte(a.Username)), sha256.Sum256([]byte(a.Password))
		challenges = append(challenges, `Basic realm="rtsp2mjpeg", charset="UTF-8"`)
	}
	for _, t := range a.Tokens {
		c.tokens = append(c.tokens, sha256.Sum256([]byte(t)))
	}
	if len(c.tokens) > 0 {
		challenges = append(challenges, `Bearer realm="rtsp2mjpeg"`)
	}
	c.realm = strings.Join(challenges, ", ")
	return c
}

func equal(a [32]byte, b string) bool {
	h := sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(a[:], h[:]) == 1
}

// allows reports whether r carries valid credentials.
func (c *credentials) allows(r *http.Request) bool {
	if c.basic {
		if user, pass, ok := r.BasicAuth(); ok {
			// Both compared, always: no early exit on a wrong user name.
			u, p := equal(c.user, user), equal(c.pass, pass)
			if u && p {
				return true
			}
		}
	}
	if len(c.tokens) == 0 {
		return false
	}
	var given []string
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		given = append(given, strings.TrimSpace(h[7:]))
	}
	if t := r.URL.Query().Get("token"); t != "" {
		given = append(given, t)
	}
	ok := false
	for _, g := range given {
		for _, t := range c.tokens {
			if equal(t, g) {
				ok = true // no early exit: every token is compared
			}
		}
	}
	return ok
}

// requireAuth answers 401 to a request without valid credentials, except
// for /healthz and /readyz, which probes must reach unauthenticated.
func requireAuth(c *credentials, next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || c.allows(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", c.realm)
		writeError(w, http.StatusUnauthorized, "authentication required")
	})
}
