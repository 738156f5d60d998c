package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// responseWriter records what a handler answered, for the access log and
// panic recovery. It implements Unwrap, so http.ResponseController still
// reaches Flush and SetWriteDeadline of the connection.
type responseWriter struct {
	http.ResponseWriter
	status int   // 0 until the header is written
	bytes  int64 // body bytes accepted
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController find the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type logKey struct{}

// requestLog returns the request's logger, with its method and URL.
func requestLog(r *http.Request) *logrus.Entry {
	if e, ok := r.Context().Value(logKey{}).(*logrus.Entry); ok {
		return e
	}
	return logrus.NewEntry(logrus.StandardLogger())
}

// logRequests puts a per-request logger in the request context and logs
// every request at debug level when its handler returns.
func logRequests(log *logrus.Entry, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rlog := log.WithFields(logrus.Fields{
			"method": r.Method,
			"url":    maskedURL(r.URL),
			"remote": r.RemoteAddr,
		})
		rw := &responseWriter{ResponseWriter: w}
		defer func() {
			status := rw.status
			if status == 0 {
				status = http.StatusOK
			}
			rlog.WithFields(logrus.Fields{
				"status":   status,
				"bytes":    rw.bytes,
				"duration": time.Since(start).Round(time.Microsecond).String(),
			}).Debug("http request")
		}()
		ctx := context.WithValue(r.Context(), logKey{}, rlog)
		next.ServeHTTP(rw, r.WithContext(ctx))
	})
}

// recoverPanics turns a handler's panic into a 500 JSON answer (when no
// header went out yet) and an error log with the stack, instead of a
// crash or a silently dropped connection.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v) // the handler asks net/http to abort the response
			}
			requestLog(r).WithFields(logrus.Fields{
				"panic": v,
				"stack": string(debug.Stack()),
			}).Error("http handler panicked")
			if !headerWritten(w) {
				writeError(w, http.StatusInternalServerError, "internal server error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// headerWritten reports whether w, or a writer it wraps, sent the header.
func headerWritten(w http.ResponseWriter) bool {
	for w != nil {
		if rw, ok := w.(*responseWriter); ok {
			return rw.status != 0
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
	return false
}

// maskedURL is u's path and query with every token= value (and any other
// credential parameter) masked, for logs.
func maskedURL(u *url.URL) string {
	if u.RawQuery == "" {
		return u.EscapedPath()
	}
	return u.EscapedPath() + "?" + pipeline.RedactQuery(u.RawQuery)
}
