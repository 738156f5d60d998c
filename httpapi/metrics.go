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

// Metric descriptions of cameraCollector. Every series has the labels
// camera and profile: "main" for the camera's main stream, else the name of
// one of its profiles (DESIGN.md "Profiles").
var (
	feedLabels = []string{"camera", "profile"}

	descFrames = prometheus.NewDesc("rtsp2mjpeg_frames_total",
		"Frames received from the camera, per output (profile main: the main stream).", feedLabels, nil)
	descBytes = prometheus.NewDesc("rtsp2mjpeg_bytes_total",
		"JPEG bytes received from the camera, per output.", feedLabels, nil)
	descRestarts = prometheus.NewDesc("rtsp2mjpeg_restarts_total",
		"Restarts of the ffmpeg that makes the output (crash, exit, start or stall timeout): the main stream's, "+
			"and a substream profile's. A profile made by the camera's own ffmpeg has no series: its restarts are main's.", feedLabels, nil)
	descDropped = prometheus.NewDesc("rtsp2mjpeg_dropped_frames_total",
		"Frames of the output that viewers skipped because they read slower than it sends, summed over viewers. "+
			"Frames left out on purpose by a viewer's ?fps= cap are not counted.", feedLabels, nil)
	descClients = prometheus.NewDesc("rtsp2mjpeg_clients",
		"Viewers (streams and waiting snapshots) of the output now.", feedLabels, nil)
	descUp = prometheus.NewDesc("rtsp2mjpeg_ffmpeg_up",
		"1 while an ffmpeg process runs for the output, else 0.", feedLabels, nil)
	descFPS = prometheus.NewDesc("rtsp2mjpeg_fps",
		"Frame rate of the output, measured over the last seconds.", feedLabels, nil)
	descLastFrame = prometheus.NewDesc("rtsp2mjpeg_last_frame_timestamp_seconds",
		"Capture time of the output's newest frame as unix time; 0 before the first frame.", feedLabels, nil)
	descSinceFrame = prometheus.NewDesc("rtsp2mjpeg_seconds_since_last_frame",
		"Seconds since the output's newest frame; absent before the first frame.", feedLabels, nil)
	descState = prometheus.NewDesc("rtsp2mjpeg_camera_state",
		"1 for the output's current state (starting, streaming, stalled, backoff, idle, failed).",
		[]string{"camera", "profile", "state"}, nil)

	// Of a camera's decoding (DESIGN.md "Idle behaviour").
	descDecoding = prometheus.NewDesc("rtsp2mjpeg_decoding",
		"1 for what the camera's ffmpeg decodes now: all (every frame), keyframes (standby, or fps <= 1) or none "+
			"(stopped, or a stream copy).", []string{"camera", "mode"}, nil)
	descKeyframeInterval = prometheus.NewDesc("rtsp2mjpeg_keyframe_interval_seconds",
		"The camera's keyframe interval, measured in standby; absent before it is known.", []string{"camera"}, nil)

	// Of the whole process: what an autoscaler of edges reads.
	descViewers = prometheus.NewDesc("rtsp2mjpeg_viewers",
		"Streams open now (video and wall), of every camera.", nil, nil)
	descSent = prometheus.NewDesc("rtsp2mjpeg_sent_bytes_total",
		"Bytes written to stream viewers (video and wall), of every camera.", nil, nil)
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
		descClients, descUp, descFPS, descLastFrame, descSinceFrame, descState, descViewers, descSent,
		descDecoding, descKeyframeInterval} {
		ch <- d
	}
}

// feedMetrics is what the collector reports of one feed.
type feedMetrics struct {
	profile                 string
	state                   pipeline.State
	frames, bytes, restarts uint64
	clients                 int
	running                 bool
	fps                     float64
	lastFrameAt             *time.Time
	// ownFFmpeg: the main stream, or a substream. A profile written by the
	// camera's ffmpeg reports no restarts of its own, so that a sum over a
	// camera's profiles counts each restart once.
	ownFFmpeg bool
	// idleProfile: a profile made only while watched (of a codec-copy
	// camera) that nobody watches. Its missing frames are no outage: it has
	// no last-frame series, so "time() - last_frame > 60" does not fire.
	idleProfile bool
}

// Collect reads the status of every camera served now: its main stream,
// then each of its profiles.
func (c cameraCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	ch <- prometheus.MustNewConstMetric(descViewers, prometheus.GaugeValue, float64(c.a.viewers.open()))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(c.a.sent.Load()))
	for _, cam := range c.a.cameras().cams {
		st := cam.Status()
		name := cam.Name()
		for _, mode := range []string{"all", "keyframes", "none"} {
			ch <- prometheus.MustNewConstMetric(descDecoding, prometheus.GaugeValue, boolFloat(st.Decoding == mode), name, mode)
		}
		if st.KeyframeInterval > 0 {
			ch <- prometheus.MustNewConstMetric(descKeyframeInterval, prometheus.GaugeValue, st.KeyframeInterval, name)
		}
		c.collectFeed(ch, now, name, feedMetrics{
			profile: pipeline.MainProfile, state: st.State, ownFFmpeg: true,
			frames: st.Frames, bytes: st.Bytes, restarts: st.Restarts,
			clients: st.Clients, running: st.Running, fps: st.FPS, lastFrameAt: st.LastFrameAt,
		})
		for _, p := range st.Profiles {
			c.collectFeed(ch, now, name, feedMetrics{
				profile: p.Name, state: p.State, ownFFmpeg: p.URL != "", idleProfile: p.State == pipeline.StateIdle,
				frames: p.Frames, bytes: p.Bytes, restarts: p.Restarts,
				clients: p.Clients, running: p.Running, fps: p.FPS, lastFrameAt: p.LastFrameAt,
			})
		}
	}
}

func (c cameraCollector) collectFeed(ch chan<- prometheus.Metric, now time.Time, camera string, m feedMetrics) {
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), camera, m.profile)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, camera, m.profile)
	}
	counter(descFrames, m.frames)
	counter(descBytes, m.bytes)
	if m.ownFFmpeg {
		counter(descRestarts, m.restarts)
	}
	counter(descDropped, c.a.drops.load(camera, m.profile))
	gauge(descClients, float64(m.clients))
	gauge(descUp, boolFloat(m.running))
	gauge(descFPS, m.fps)
	if m.lastFrameAt != nil && !m.lastFrameAt.IsZero() {
		gauge(descLastFrame, float64(m.lastFrameAt.UnixMilli())/1e3)
		gauge(descSinceFrame, max(now.Sub(*m.lastFrameAt).Seconds(), 0))
	} else if !m.idleProfile {
		// 0, not absent: "time() - last_frame > 60" then also alerts on a
		// camera that never sent a frame.
		gauge(descLastFrame, 0)
	}
	ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, camera, m.profile, string(m.state))
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
