package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

// originPorts returns an origin_url template on 127.0.0.1 whose shards
// 0..n-1 are free ports: the shard is the port's last digit.
func originPorts(t *testing.T, n int) (tpl string, port func(shard int) int) {
	t.Helper()
	for range 50 {
		base := 2000 + rand.IntN(4000) // ports 20000..59999
		var lns []net.Listener
		for s := range n {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d%d", base, s))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if len(lns) == n {
			return fmt.Sprintf("http://127.0.0.1:%d{shard}", base), func(s int) int { return base*10 + s }
		}
	}
	t.Fatal("no free run of ports for the origins")
	return "", nil
}

// clusterConfig is the one config every process of a test cluster reads.
func clusterConfig(camURL, tpl string, shards int, names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster:\n  shards: %d\n  origin_url: %s\ndefaults:\n  idle_timeout: 1s\ncameras:\n", shards, tpl)
	for _, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    url: %s/%s\n", n, camURL, n)
	}
	return b.String()
}

// apiCameras returns /api/cameras by name.
func apiCameras(t *testing.T, d *daemon) map[string]map[string]any {
	t.Helper()
	_, body := d.get(t, "/api/cameras")
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("/api/cameras: %v: %s", err, body)
	}
	out := map[string]map[string]any{}
	for _, c := range list {
		out[c["name"].(string)] = c
	}
	return out
}

// TestClusterOriginsAndEdge runs a cluster as processes on 127.0.0.1: one
// synthetic camera server with 6 cameras, 2 origins, an edge. Each camera
// is read once, by the origin that owns it; the edge serves every camera
// and its thumb by relay while watched, says where each comes from, and
// stays ready while one origin is down.
func TestClusterOriginsAndEdge(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, AnyPath: true, Log: camLog(t)})
	camURL := strings.TrimSuffix(cam.URL(), "/stream")
	names := []string{"door", "garage", "porch", "yard", "gate", "drive"}
	tpl, port := originPorts(t, 3)
	cfg := writeConfig(t, "", clusterConfig(camURL, tpl, 2, names))
	origins := make([]*daemon, 2)
	for s := range origins {
		origins[s] = startDaemon(t, "--config", cfg, "--shard", strconv.Itoa(s), "--listen", fmt.Sprintf("127.0.0.1:%d", port(s)))
	}
	edge := startDaemonEnv(t, []string{"RTSP2MJPEG_SHARD=edge"}, "--config", cfg)

	// Each origin runs what it owns; each camera has one RTSP session.
	for s, o := range origins {
		var want []string
		for _, n := range names {
			if cluster.Owner(n, 2) == s {
				want = append(want, n)
			}
		}
		eventually(t, 20*time.Second, fmt.Sprintf("origin %d streams its %d cameras", s, len(want)), func() bool {
			got := apiCameras(t, o)
			for _, n := range want {
				// Codec known: ffprobe's session, which finds it, is over.
				if got[n]["state"] != "streaming" || got[n]["codec"] == "auto" {
					return false
				}
			}
			return len(got) == len(want)
		})
	}
	sessions := func() map[string]int { return cam.ReadersByPath() }
	for _, n := range names {
		if got := sessions()["/"+n]; got != 1 {
			t.Errorf("camera %s: %d RTSP sessions, want 1", n, got)
		}
	}

	// The edge: ready, every camera listed with its origin's state.
	eventually(t, 10*time.Second, "edge ready", func() bool {
		resp, _ := edge.get(t, "/readyz")
		return resp.StatusCode == 200
	})
	eventually(t, 10*time.Second, "edge shows every camera streaming at its origin", func() bool {
		for _, c := range apiCameras(t, edge) {
			if o, _ := c["origin"].(map[string]any); o == nil || o["state"] != "streaming" {
				return false
			}
		}
		return true
	})
	for n, c := range apiCameras(t, edge) {
		o, _ := c["origin"].(map[string]any)
		shard := cluster.Owner(n, 2)
		if o["shard"] != float64(shard) || o["url"] != fmt.Sprintf("http://127.0.0.1:%d", port(shard)) || o["reachable"] != true {
			t.Errorf("edge's %s: origin %v, want shard %d", n, c["origin"], shard)
		}
		if c["state"] != "idle" || c["ffmpeg_running"] != false {
			t.Errorf("edge's %s unwatched: state %v, ffmpeg_running %v; want idle, false", n, c["state"], c["ffmpeg_running"])
		}
	}

	// A viewer at the edge: live frames, relayed (still one RTSP session).
	ctx, cancel := context.WithCancel(t.Context())
	v := watch(ctx, t, edge.base+"/cameras/door/video")
	for range 5 {
		checkPart(t, v.nextLive(t, 15*time.Second))
	}
	owner := origins[cluster.Owner("door", 2)]
	if c := apiCameras(t, owner)["door"]["clients"]; c != float64(1) {
		t.Errorf("door's origin has %v viewers, want 1 (the edge)", c)
	}
	// The wall of thumbs at the edge: every camera.
	seen := wallCameras(t, edge.base+"/wall/video?profile=thumb&cameras="+strings.Join(names, ","), len(names), 20*time.Second)
	t.Logf("edge wall: thumbs of %d cameras", len(seen))
	for _, n := range names {
		if got := sessions()["/"+n]; got != 1 {
			t.Errorf("camera %s with edge viewers: %d RTSP sessions, want 1", n, got)
		}
	}
	// The viewer leaves: idle_timeout later the edge stops its relay.
	cancel()
	eventually(t, 10*time.Second, "edge's relay of door stops", func() bool {
		return apiCameras(t, owner)["door"]["clients"] == float64(0) && apiCameras(t, edge)["door"]["state"] == "idle"
	})

	// One origin down: the edge says so per camera, and stays ready.
	down := 1
	origins[down].stop(t)
	eventually(t, 10*time.Second, "edge sees origin 1 down", func() bool {
		for n, c := range apiCameras(t, edge) {
			o := c["origin"].(map[string]any)
			if cluster.Owner(n, 2) == down && (o["reachable"] != false || !strings.Contains(o["last_error"].(string), "does not answer")) {
				return false
			}
		}
		return true
	})
	if resp, body := edge.get(t, "/readyz"); resp.StatusCode != 200 {
		t.Errorf("edge with one origin of two down: /readyz %d %s, want 200", resp.StatusCode, body)
	}
	origins[0].stop(t)
	eventually(t, 10*time.Second, "edge unready with no origin", func() bool {
		resp, body := edge.get(t, "/readyz")
		return resp.StatusCode == 503 && strings.Contains(string(body), "no origin answers")
	})
}

// wallCameras reads a wall until it has a live part of n cameras, and
// returns the cameras seen.
func wallCameras(t *testing.T, url string, n int, within time.Duration) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	seen := map[string]bool{}
	err := readWall(ctx, url, func(camera string, noSignal bool, body []byte) bool {
		if !noSignal {
			seen[camera] = true
		}
		return len(seen) < n
	})
	if len(seen) < n {
		t.Fatalf("wall %s: live parts of %d cameras (%v), want %d: %v", url, len(seen), slices.Sorted(maps.Keys(seen)), n, err)
	}
	return seen
}

// readWall reads the parts of a /wall/video response, calling part for
// each until it returns false, ctx ends or the response does.
func readWall(ctx context.Context, url string, part func(camera string, noSignal bool, body []byte) bool) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 200 || err != nil || mt != "multipart/mixed" {
		return fmt.Errorf("GET %s: %d %q", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return err
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return err
		}
		if !part(p.Header.Get("X-Camera"), p.Header.Get("X-No-Signal") == "1", body) {
			return nil
		}
	}
}

// TestClusterReshard: from 2 origins to 3 by rewriting the one config
// (every process has --watch-config): only the cameras whose owner changed
// move, the others keep running untouched, each camera still has one RTSP
// session, and an edge's viewer of a moved camera gets frames again.
func TestClusterReshard(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, AnyPath: true, Log: camLog(t)})
	camURL := strings.TrimSuffix(cam.URL(), "/stream")
	names := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	var moved, stayed []string
	for _, n := range names {
		if cluster.Owner(n, 2) != cluster.Owner(n, 3) {
			moved = append(moved, n)
		} else {
			stayed = append(stayed, n)
		}
	}
	if len(moved) == 0 {
		t.Fatal("no camera moves from 2 to 3 shards: pick other names")
	}
	tpl, port := originPorts(t, 3)
	cfg := writeConfig(t, "", clusterConfig(camURL, tpl, 2, names))
	origin := func(s int) *daemon {
		return startDaemon(t, "--config", cfg, "--watch-config", "--shard", strconv.Itoa(s), "--listen", fmt.Sprintf("127.0.0.1:%d", port(s)))
	}
	origins := []*daemon{origin(0), origin(1)}
	edge := startDaemon(t, "--config", cfg, "--watch-config", "--shard", "edge")
	settled := func(what string, shards int) {
		t.Helper()
		eventually(t, 30*time.Second, what, func() bool {
			for s, o := range origins {
				got := apiCameras(t, o)
				n := 0
				for _, name := range names {
					if cluster.Owner(name, shards) != s {
						continue
					}
					n++
					if got[name]["state"] != "streaming" || got[name]["codec"] == "auto" {
						return false
					}
				}
				if len(got) != n {
					return false
				}
			}
			for _, name := range names {
				if cam.ReadersByPath()["/"+name] != 1 {
					return false
				}
			}
			return true
		})
	}
	settled("2 origins stream their cameras, one session each", 2)
	restarts := map[string]any{}
	for s, o := range origins {
		for name, c := range apiCameras(t, o) {
			if cluster.Owner(name, 3) == s {
				restarts[name] = c["restarts"]
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v := watch(ctx, t, edge.base+"/cameras/"+moved[0]+"/video")
	v.nextLive(t, 15*time.Second)

	// The config first: origin 2 is not a shard of 2, and says so.
	writeConfig(t, cfg, clusterConfig(camURL, tpl, 3, names))
	changed := time.Now()
	origins = append(origins, origin(2))
	settled("3 origins stream their cameras, one session each", 3)
	t.Logf("resharded in %v: moved %v, stayed %v", time.Since(changed).Round(time.Millisecond), moved, stayed)
	for s, o := range origins[:2] {
		for name, c := range apiCameras(t, o) {
			if c["restarts"] != restarts[name] {
				t.Errorf("origin %d restarted %s (restarts %v, was %v), which did not move", s, name, c["restarts"], restarts[name])
			}
		}
	}
	drain(v)
	p := v.nextLive(t, 15*time.Second)
	t.Logf("edge viewer of moved camera %s live again %v after the config changed", moved[0], p.at.Sub(changed).Round(time.Millisecond))
	eventually(t, 10*time.Second, "edge shows the new owner", func() bool {
		o, _ := apiCameras(t, edge)[moved[0]]["origin"].(map[string]any)
		return o != nil && o["shard"] == float64(2) && o["state"] == "streaming"
	})
}

// TestClusterShardAuto: `--shard auto` takes a StatefulSet pod's ordinal
// from its hostname, and refuses a hostname without one.
func TestClusterShardAuto(t *testing.T) {
	tpl, _ := originPorts(t, 2)
	cfg := writeConfig(t, "", clusterConfig("rtsp://127.0.0.1:9/x", tpl, 2, []string{"door", "yard", "porch"}))
	d := startDaemonEnv(t, []string{"HOSTNAME=rtsp2mjpeg-origin-1"}, "--config", cfg, "--shard", "auto")
	role := ""
	for _, e := range d.entries() {
		if e["msg"] == "serving" {
			role, _ = e["role"].(string)
		}
	}
	if role != "origin 1" {
		t.Errorf("hostname rtsp2mjpeg-origin-1: role %q, want origin 1", role)
	}
	bad := launchEnv(t, []string{"HOSTNAME=nvr"}, "--config", cfg, "--shard", "auto", "--listen", "127.0.0.1:0")
	if code := bad.exitCode(t, 10*time.Second); code != 2 || !strings.Contains(bad.log.String(), `hostname "nvr" does not end in -N`) {
		t.Errorf("hostname nvr: exit %d, log %s; want 2 and a message", code, bad.log)
	}
}
