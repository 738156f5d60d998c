package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Timeouts of the daemon's server. There is no WriteTimeout: it would cut
// every long stream; each stream write has its own deadline instead.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownBudget    = 5 * time.Second
)

// Serve serves h on ln until ctx ends, then shuts down within 5 s: it stops
// accepting, ends every request (their contexts derive from ctx, so streams
// return at once) and waits for the handlers. It returns nil on a clean stop.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *logrus.Entry) error {
	var active handlers
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			active.add()
			defer active.done()
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          newServerLog(log),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.WithField("addr", ln.Addr().String()).Info("http server listening")

	var serveErr error
	select {
	case serveErr = <-served: // the listener failed
		serveErr = fmt.Errorf("http serve: %w", serveErr)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownBudget)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Some handler did not end in time: cut its connection, so that its
		// next write fails, and give it the rest of the budget.
		_ = srv.Close()
		err = fmt.Errorf("http shutdown: %w", err)
	}
	if serveErr == nil {
		<-served // http.ErrServerClosed, at once after Shutdown started
	}
	select {
	case <-active.idle():
	case <-time.After(time.Second):
		err = errors.Join(err, errors.New("http shutdown: handlers still running"))
	}
	if serveErr != nil {
		return errors.Join(serveErr, err)
	}
	if err == nil {
		log.Info("http server stopped")
	}
	return err
}

// handlers counts the running handlers. Unlike a sync.WaitGroup, it may
// count up while someone waits, as a kept-alive connection may still start
// a request during a shutdown that timed out.
type handlers struct {
	mu     sync.Mutex    // guards n and isZero
	n      int           // running handlers
	isZero chan struct{} // closed while n is 0; nil until first used
}

func (a *handlers) add() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		a.isZero = make(chan struct{})
	}
	a.n++
}

func (a *handlers) done() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n--
	if a.n == 0 {
		close(a.isZero)
	}
}

// idle returns a channel closed when no handler runs.
func (a *handlers) idle() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.isZero == nil {
		a.isZero = make(chan struct{})
		close(a.isZero)
	}
	return a.isZero
}

// newServerLog sends net/http's own messages (TLS handshake errors, bad
// requests) to log at debug level, without the goroutine that
// logrus.Entry.Writer would start.
func newServerLog(entry *logrus.Entry) *log.Logger {
	return log.New(serverLogWriter{entry}, "", 0)
}

type serverLogWriter struct{ log *logrus.Entry }

func (w serverLogWriter) Write(p []byte) (int, error) {
	w.log.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}
