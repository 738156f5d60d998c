package cluster

import (
	"net/url"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// Credentials are what an edge sends to the origins: the auth section of
// the shared config (the user and password, or else its first token).
type Credentials struct {
	Username, Password, Token string
}

// Cameras returns the cameras a process in role runs, out of the cameras
// of the config: an origin those it owns, as configured; an edge every
// camera, each a relay of the origin that owns it.
func (c Config) Cameras(role Role, cams []pipeline.CameraConfig, cred Credentials) []pipeline.CameraConfig {
	var out []pipeline.CameraConfig
	for _, cam := range cams {
		owner := Owner(cam.Name, c.Shards)
		switch {
		case role.Edge:
			out = append(out, c.relay(cam, owner, cred))
		case owner == role.Shard:
			out = append(out, cam)
		}
	}
	return out
}

// relay is the edge's camera for cam: origin owner's stream of it, read in
// codec copy (the JPEGs pass byte for byte; the origin applied fps, width
// and quality), only while watched and idle_timeout after, and each of
// its profiles relayed the same way from the origin's ?profile=NAME.
func (c Config) relay(cam pipeline.CameraConfig, owner int, cred Credentials) pipeline.CameraConfig {
	r := pipeline.DefaultCameraConfig(cam.Name, c.streamURL(owner, cam.Name, "", cred))
	r.Codec = pipeline.CodecCopy
	r.OnDemand = true
	r.IdleTimeout = cam.IdleTimeout
	r.StartTimeout, r.StallTimeout = cam.StartTimeout, cam.StallTimeout
	r.FFmpeg, r.FFprobe = cam.FFmpeg, cam.FFprobe
	r.Profiles = nil
	for _, p := range cam.Profiles {
		r.Profiles = append(r.Profiles, pipeline.ProfileConfig{Name: p.Name, URL: c.streamURL(owner, cam.Name, p.Name, cred)})
	}
	return r
}

// streamURL is origin shard's URL of camera name's stream (profile "": the
// main stream), with the credentials.
func (c Config) streamURL(shard int, name, profile string, cred Credentials) string {
	u, err := url.Parse(c.Origin(shard))
	if err != nil { // CheckOriginURL refused it before
		return c.Origin(shard)
	}
	u.Path = "/cameras/" + name + "/video"
	u.RawPath = "/cameras/" + url.PathEscape(name) + "/video"
	q := url.Values{}
	if profile != "" {
		q.Set("profile", profile)
	}
	switch {
	case cred.Username != "":
		u.User = url.UserPassword(cred.Username, cred.Password)
	case cred.Token != "":
		q.Set("token", cred.Token)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// OriginOf returns the shard that owns camera name and its base URL.
func (c Config) OriginOf(name string) (shard int, base string) {
	shard = Owner(name, c.Shards)
	return shard, c.Origin(shard)
}
