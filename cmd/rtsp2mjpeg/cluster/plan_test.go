package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

func testCameras(n int) []pipeline.CameraConfig {
	var cams []pipeline.CameraConfig
	for i := range n {
		c := pipeline.DefaultCameraConfig(fmt.Sprintf("cam%d", i), fmt.Sprintf("rtsp://viewer:pw@192.0.2.%d/stream", i+1))
		c.FPS, c.Width = 10, 640
		c.IdleTimeout = 45 * time.Second
		c.Profiles = append(pipeline.DefaultProfiles(), pipeline.ProfileConfig{Name: "sub", URL: "rtsp://viewer:pw@192.0.2.1/sub"})
		cams = append(cams, c)
	}
	return cams
}

// TestCamerasPartition: the origins together read every camera exactly
// once, as configured; each edge serves every camera.
func TestCamerasPartition(t *testing.T) {
	cfg := Config{Shards: 3, OriginURL: "http://origin-{shard}.origin:8007"}
	cams := testCameras(20)
	seen := map[string]int{}
	for s := range cfg.Shards {
		for _, c := range cfg.Cameras(Role{Shard: s}, cams, Credentials{}) {
			seen[c.Name]++
			if i := slices.IndexFunc(cams, func(x pipeline.CameraConfig) bool { return x.Name == c.Name }); !cams[i].Equal(c) {
				t.Errorf("origin %d changed %s's config", s, c.Name)
			}
		}
	}
	for _, c := range cams {
		if seen[c.Name] != 1 {
			t.Errorf("%s is read by %d origins, want 1", c.Name, seen[c.Name])
		}
	}
	if got := cfg.Cameras(Role{Edge: true}, cams, Credentials{}); len(got) != len(cams) {
		t.Errorf("edge serves %d cameras, want %d", len(got), len(cams))
	}
}

// TestRelayConfig: an edge's camera is its origin's stream, copied, on
// demand, with each profile relayed from the origin's ?profile=.
func TestRelayConfig(t *testing.T) {
	cfg := Config{Shards: 2, OriginURL: "http://origin-{shard}.origin:8007/"}
	cam := testCameras(1)[0]
	owner := Owner(cam.Name, 2)
	for _, tt := range []struct {
		cred      Credentials
		main, sub string
	}{
		{Credentials{}, "http://origin-%d.origin:8007/cameras/cam0/video", "http://origin-%d.origin:8007/cameras/cam0/video?profile=sub"},
		{Credentials{Username: "admin", Password: "p@ss"}, "http://admin:p%%40ss@origin-%d.origin:8007/cameras/cam0/video",
			"http://admin:p%%40ss@origin-%d.origin:8007/cameras/cam0/video?profile=sub"},
		{Credentials{Token: "t0k"}, "http://origin-%d.origin:8007/cameras/cam0/video?token=t0k",
			"http://origin-%d.origin:8007/cameras/cam0/video?profile=sub&token=t0k"},
	} {
		r := cfg.Cameras(Role{Edge: true}, []pipeline.CameraConfig{cam}, tt.cred)[0]
		if want := fmt.Sprintf(tt.main, owner); r.URL != want {
			t.Errorf("relay URL %q, want %q", r.URL, want)
		}
		if r.Codec != pipeline.CodecCopy || !r.OnDemand || r.IdleTimeout != 45*time.Second || r.FPS != 0 || r.Width != 0 {
			t.Errorf("relay %+v: want codec copy, on demand, the camera's idle_timeout, no fps or width", r)
		}
		if len(r.Profiles) != 2 || r.Profiles[0].Name != "thumb" || r.Profiles[0].Width != 0 || r.Profiles[1].Name != "sub" {
			t.Fatalf("relay profiles %+v, want thumb and sub, relayed as they are", r.Profiles)
		}
		if want := fmt.Sprintf(tt.sub, owner); r.Profiles[1].URL != want {
			t.Errorf("relayed profile URL %q, want %q", r.Profiles[1].URL, want)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("relay config does not validate: %v", err)
		}
	}
}
