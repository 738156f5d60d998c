package httpapi

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
	"github.com/sirupsen/logrus"
)

// dropCounters counts, per camera and profile, the frames that viewers
// skipped because they were slower than the feed. It is keyed by names, not
// by Camera, so a count survives a camera set change (config reload).
type dropCounters struct {
	m sync.Map // feedKey -> *atomic.Uint64
}

// feedKey names one feed: a camera and a profile ("main": its main stream).
type feedKey struct{ camera, profile string }

// counter returns the counter of a camera's feed, made on first use.
func (d *dropCounters) counter(camera, profile string) *atomic.Uint64 {
	k := feedKey{camera, profile}
	if c, ok := d.m.Load(k); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := d.m.LoadOrStore(k, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

// load returns the count of a camera's feed, 0 if none.
func (d *dropCounters) load(camera, profile string) uint64 {
	if c, ok := d.m.Load(feedKey{camera, profile}); ok {
		return c.(*atomic.Uint64).Load()
	}
	return 0
}

// Metric descriptions of cameraCollector. Every series has the label camera.
var (
	descFrames = prometheus.NewDesc("rtsp2mjpeg_frames_total",
		"Frames received from the camera.", []string{"camera"}, nil)
	descBytes = prometheus.NewDesc("rtsp2mjpeg_bytes_total",
		"JPEG bytes received from the camera.", []string{"camera"}, nil)
	descRestarts = prometheus.NewDesc("rtsp2mjpeg_restarts_total",
		"Restarts of the camera's ffmpeg (crash, exit, start or stall timeout).", []string{"camera"}, nil)
	descDropped = prometheus.NewDesc("rtsp2mjpeg_dropped_frames_total",
		"Camera frames that viewers skipped because they read slower than the camera sends, summed over viewers. "+
			"Frames left out on purpose by a viewer's ?fps= cap are not counted.", []string{"camera"}, nil)
	descClients = prometheus.NewDesc("rtsp2mjpeg_clients",
		"Viewers (streams and waiting snapshots) of the camera now.", []string{"camera"}, nil)
	descUp = prometheus.NewDesc("rtsp2mjpeg_ffmpeg_up",
		"1 while an ffmpeg process runs for the camera, else 0.", []string{"camera"}, nil)
	descFPS = prometheus.NewDesc("rtsp2mjpeg_fps",
		"Frame rate received from the camera, measured over the last seconds.", []string{"camera"}, nil)
	descLastFrame = prometheus.NewDesc("rtsp2mjpeg_last_frame_timestamp_seconds",
		"Capture time of the camera's newest frame as unix time; 0 before the first frame.", []string{"camera"}, nil)
	descSinceFrame = prometheus.NewDesc("rtsp2mjpeg_seconds_since_last_frame",
		"Seconds since the camera's newest frame; absent before the first frame.", []string{"camera"}, nil)
	descState = prometheus.NewDesc("rtsp2mjpeg_camera_state",
		"1 for the camera's current state (starting, streaming, stalled, backoff, idle, failed).",
		[]string{"camera", "state"}, nil)
)

// cameraCollector reports every camera served at scrape time. Nothing is
// registered per camera: a camera added by a reload appears at the next
// scrape, and a removed one disappears.
type cameraCollector struct {
	a   *api
	now func() time.Time
}

// Describe sends the fixed descriptions, so the registry checks every
// series against them.
func (c cameraCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFrames, descBytes, descRestarts, descDropped,
		descClients, descUp, descFPS, descLastFrame, descSinceFrame, descState} {
		ch <- d
	}
}

// Collect reads the status of every camera served now.
func (c cameraCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, cam := range c.a.cameras().cams {
		st := cam.Status()
		name := cam.Name()
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), name)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		counter(descFrames, st.Frames)
		counter(descBytes, st.Bytes)
		counter(descRestarts, st.Restarts)
		counter(descDropped, c.a.drops.load(name, pipeline.MainProfile))
		gauge(descClients, float64(st.Clients))
		gauge(descUp, boolFloat(st.Running))
		gauge(descFPS, st.FPS)
		if st.LastFrameAt != nil && !st.LastFrameAt.IsZero() {
			gauge(descLastFrame, float64(st.LastFrameAt.UnixMilli())/1e3)
			gauge(descSinceFrame, max(now.Sub(*st.LastFrameAt).Seconds(), 0))
		} else {
			// 0, not absent: "time() - last_frame > 60" then also alerts on a
			// camera that never sent a frame.
			gauge(descLastFrame, 0)
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, name, string(st.State))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricsHandler serves the camera metrics and the Go runtime and process
// metrics of a private registry (not the global one, so that two routers,
// as in tests, do not collide).
func (a *api) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		cameraCollector{a: a, now: time.Now},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      promLog{a.log},
		ErrorHandling: promhttp.ContinueOnError, // a failing collector must not hide the cameras
	})
}

// promLog logs the metric handler's errors through logrus.
type promLog struct{ log *logrus.Entry }

func (l promLog) Println(v ...any) { l.log.Warnln(append([]any{"metrics:"}, v...)...) }
