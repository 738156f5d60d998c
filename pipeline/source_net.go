package pipeline

import (
	"context"
	"net"
	"net/url"
)

// dialWatch returns a check that dials the host and port of u (port
// defaultPort when the URL has none); nil when u has no host.
func dialWatch(u *url.URL, defaultPort string) func(ctx context.Context) bool {
	if u.Hostname() == "" {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	dialer := net.Dialer{Timeout: probeEvery}
	return func(ctx context.Context) bool {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	}
}
