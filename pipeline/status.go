package pipeline

import "time"

// State is where a camera's supervisor is in its cycle.
type State string

// Camera states, as reported by the status API (DESIGN.md).
const (
	StateStarting  State = "starting"  // ffmpeg runs, no first frame yet
	StateStreaming State = "streaming" // frames arrive
	StateStalled   State = "stalled"   // frames stopped; ffmpeg is being restarted
	StateBackoff   State = "backoff"   // waiting before the next start
	StateIdle      State = "idle"      // on-demand camera with no viewer: no ffmpeg
	StateFailed    State = "failed"    // will not be retried
)

// Status is a snapshot of one camera for the status API and metrics.
type Status struct {
	Name        string     `json:"name"`
	URL         string     `json:"url"`    // password redacted
	Source      string     `json:"source"` // the URL's kind: rtsp, http, http-poll, webcam, file
	State       State      `json:"state"`
	FPS         float64    `json:"fps"` // measured over the last seconds
	Frames      uint64     `json:"frames"`
	Bytes       uint64     `json:"bytes"`
	LastFrameAt *time.Time `json:"last_frame_at"`
	Restarts    uint64     `json:"restarts"`
	LastError   string     `json:"last_error"` // password redacted
	Clients     int        `json:"clients"`
	Codec       string     `json:"codec"`          // auto until detected, then mjpeg or copy
	Running     bool       `json:"ffmpeg_running"` // an ffmpeg process exists
	// Profiles are the camera's extra outputs, in config order; empty when
	// it has none.
	Profiles []ProfileStatus `json:"profiles"`

	// Origin is set on a cluster edge: the origin the camera is relayed
	// from, and its state there.
	Origin *Origin `json:"origin,omitempty"`
	// FrameInterval is the usual time between two frames of a camera the
	// daemon reads itself (an HTTP MJPEG or still-image camera), as its
	// stall watchdog learnt it; 0 when unknown (every ffmpeg camera).
	FrameInterval time.Duration `json:"-"`
}

// ProfileStatus is the state and counters of one profile of a camera. A
// profile that is an output of the camera's ffmpeg shares its state,
// restarts and ffmpeg; a substream (URL set) has its own.
type ProfileStatus struct {
	Name        string     `json:"name"`
	URL         string     `json:"url,omitempty"` // a substream's URL, password redacted; absent for an output of the camera's ffmpeg
	Width       int        `json:"width"`         // configured width; 0: the source's size
	MaxFPS      float64    `json:"max_fps"`       // configured rate cap; 0: the source's rate
	State       State      `json:"state"`
	FPS         float64    `json:"fps"` // measured over the last seconds
	Frames      uint64     `json:"frames"`
	Bytes       uint64     `json:"bytes"`
	LastFrameAt *time.Time `json:"last_frame_at"`
	Restarts    uint64     `json:"restarts"`
	LastError   string     `json:"last_error"` // password redacted
	Clients     int        `json:"clients"`
	Running     bool       `json:"ffmpeg_running"`

	// FrameInterval is as Status.FrameInterval: a substream's own, else
	// the camera's (a profile made from its frames is no faster).
	FrameInterval time.Duration `json:"-"`
}

// Origin is where a cluster edge's camera comes from (cmd/rtsp2mjpeg/cluster):
// the origin that owns it and the camera's state there, as the edge last
// read it from the origin's /api/cameras.
type Origin struct {
	Shard     int    `json:"shard"`
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"` // the origin answered the edge's last poll
	State     State  `json:"state,omitempty"`
	LastError string `json:"last_error,omitempty"` // the camera's there, or why the origin did not answer
}
