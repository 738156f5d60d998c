// Package httpapi serves cameras over HTTP: MJPEG streams, JPEG snapshots,
// a status API and a browser page (DESIGN.md "HTTP API").
package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"
)

// Config tunes the HTTP layer. A zero field takes its default.
type Config struct {
	WriteTimeout    time.Duration // drop a viewer that accepted nothing for this long; default 10s
	SnapshotTimeout time.Duration // how long a snapshot waits for a fresh frame; default 5s
	MaxAge          time.Duration // default max_age of a snapshot; default 2s
	NoSignalEvery   time.Duration // send a "no signal" part after this long without a frame, and as often; default 2s
	Auth            *Auth         // nil: no authentication

	// Concurrent streams, in all and per camera, past which a new viewer
	// gets 503. 0 takes the default, a negative value means no cap.
	MaxViewers          int // default 1000
	MaxViewersPerCamera int // default: no cap but MaxViewers

	// Ready tells /readyz whether the process can serve (nil: it can);
	// nil Ready means ready as soon as it serves. It must not fail because
	// one camera is down: that would take every other camera out of
	// service with it.
	Ready func() error
}

// Defaults of Config (DESIGN.md).
const (
	DefaultWriteTimeout    = 10 * time.Second
	DefaultSnapshotTimeout = 5 * time.Second
	DefaultMaxAge          = 2 * time.Second
	DefaultNoSignalEvery   = 2 * time.Second
	DefaultMaxViewers      = 1000
)

func (c Config) withDefaults() Config {
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.SnapshotTimeout <= 0 {
		c.SnapshotTimeout = DefaultSnapshotTimeout
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.NoSignalEvery <= 0 {
		c.NoSignalEvery = DefaultNoSignalEvery
	}
	if c.MaxViewers == 0 {
		c.MaxViewers = DefaultMaxViewers
	}
	return c
}

// api holds what the handlers share.
type api struct {
	cfg     Config
	log     *logrus.Entry
	set     atomic.Pointer[cameraSet] // replaced whole by SetCameras
	drops   dropCounters              // frames skipped by slow viewers, per camera and profile
	viewers viewerCount
	sent    atomic.Uint64 // bytes written to stream viewers
}

// cameraSet is the cameras served at one time; never modified once stored.
type cameraSet struct {
	cams         []Camera                 // config order; cams[0] serves /video and /snapshot
	byName       map[string]Camera        // the same cameras by name
	placeholders map[string]*placeholders // "no signal" image caches, per camera name
}

// Router is the HTTP handler of the daemon.
type Router struct {
	http.Handler
	a *api
}

// NewRouter returns the handler of every route in DESIGN.md "HTTP API",
// wrapped in the access log and panic recovery. cams are in config order:
// the first one also serves /video, /snapshot and the mjpg-streamer URLs.
func NewRouter(cfg Config, cams []Camera, log *logrus.Entry) *Router {
	cfg = cfg.withDefaults()
	a := &api{cfg: cfg, log: log}
	a.setCameras(cams)

	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)
	get := func(path string, h http.HandlerFunc) {
		// HEAD goes to the same handler: net/http drops the body, and the
		// stream handler returns right after the headers.
		r.Path(path).Methods(http.MethodGet, http.MethodHead).HandlerFunc(h)
	}
	get("/", a.root)
	get("/healthz", healthz)
	get("/readyz", a.readyz)
	get("/video", a.first(a.video))
	get("/snapshot", a.first(a.snapshot))
	get("/cameras/{name}/video", a.named(a.video))
	get("/cameras/{name}/snapshot", a.named(a.snapshot))
	get("/wall/video", a.wall)
	get("/api/cameras", a.statusAll)
	get("/api/cameras/{name}", a.named(a.status))
	get("/metrics", a.metricsHandler().ServeHTTP)

	return &Router{Handler: logRequests(log, recoverPanics(requireAuth(newCredentials(cfg.Auth), r))), a: a}
}

// SetCameras replaces the cameras served (a config reload). Requests under
// way keep the camera they resolved; a camera kept across the change keeps
// its viewers.
func (rt *Router) SetCameras(cams []Camera) { rt.a.setCameras(cams) }

func (a *api) setCameras(cams []Camera) {
	old := a.set.Load()
	s := &cameraSet{
		cams:         cams,
		byName:       make(map[string]Camera, len(cams)),
		placeholders: make(map[string]*placeholders, len(cams)),
	}
	for _, c := range cams {
		s.byName[c.Name()] = c
		if old != nil && old.placeholders[c.Name()] != nil {
			s.placeholders[c.Name()] = old.placeholders[c.Name()]
		} else {
			s.placeholders[c.Name()] = newPlaceholders(c.Name(), a.cfg.NoSignalEvery)
		}
	}
	a.set.Store(s)
}

// placeholder returns the "no signal" cache of a camera's feed (a new one
// for a camera removed meanwhile).
func (a *api) placeholder(camera, profile string) *noSignal {
	p := a.cameras().placeholders[camera]
	if p == nil {
		p = newPlaceholders(camera, a.cfg.NoSignalEvery)
	}
	return p.feed(profile)
}

// cameras returns the cameras served now.
func (a *api) cameras() *cameraSet { return a.set.Load() }

// cameraHandler serves a request about one camera.
type cameraHandler func(w http.ResponseWriter, r *http.Request, cam Camera)

// named resolves the {name} route variable, answering 404 if it is unknown.
func (a *api) named(h cameraHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := mux.Vars(r)["name"]
		cam, ok := a.cameras().byName[name]
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown camera %q", name))
			return
		}
		h(w, r, cam)
	}
}

// first serves h with the first camera (the old service's URLs).
func (a *api) first(h cameraHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cams := a.cameras().cams
		if len(cams) == 0 {
			writeError(w, http.StatusNotFound, "no camera configured")
			return
		}
		h(w, r, cams[0])
	}
}

// root serves the page or index JSON, and the mjpg-streamer URLs
// /?action=stream and /?action=snapshot that many dashboards hard-code.
func (a *api) root(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("action") {
		switch action := q.Get("action"); action {
		case "stream":
			a.first(a.video)(w, r)
		case "snapshot":
			a.first(a.snapshot)(w, r)
		default:
			writeError(w, http.StatusBadRequest,
				fmt.Sprintf("invalid action %q: want stream or snapshot", action))
		}
		return
	}
	if wantsHTML(r) {
		a.page(w, r)
		return
	}
	cams := a.cameras().cams
	names := make([]string, len(cams))
	for i, c := range cams {
		names[i] = c.Name()
	}
	writeJSON(w, http.StatusOK, struct {
		Message string   `json:"message"`
		Cameras []string `json:"cameras"`
	}{
		Message: "rtsp2mjpeg: MJPEG at /cameras/{name}/video, JPEG at /cameras/{name}/snapshot, status at /api/cameras",
		Cameras: names,
	})
}

// wantsHTML reports whether the client accepts text/html (a browser), as
// opposed to */* (curl, scripts), which gets JSON.
func wantsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, item := range strings.Split(v, ",") {
			mt, params, _ := strings.Cut(item, ";")
			if !strings.EqualFold(strings.TrimSpace(mt), "text/html") {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && k == "q" {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						q = f
					}
				}
			}
			if q > 0 {
				return true
			}
		}
	}
	return false
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", "2")
	_, _ = w.Write([]byte("ok"))
}

// readyz answers 200 while the process can serve (DESIGN.md "Cluster"),
// else 503 with the reason. Like /healthz it needs no credentials: probes
// have none.
func (a *api) readyz(w http.ResponseWriter, _ *http.Request) {
	if a.cfg.Ready != nil {
		if err := a.cfg.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", "5")
	_, _ = w.Write([]byte("ready"))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("no such path %q", r.URL.Path))
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use GET or HEAD", r.Method))
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// writeJSON answers v as JSON with an explicit Content-Length, so that HEAD
// gets the same headers as GET.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":"encode response"}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
