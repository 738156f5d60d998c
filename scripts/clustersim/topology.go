package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

// topology is the simulated cluster: one synthetic RTSP server (every
// camera is a path on it), the origins and the edges, all reading one
// config file. Ports are base*10+shard for origin shard (the origin_url
// template puts {shard} as the port's last digit) and base*10+5+i for
// edge i, so that a process restarts at its own address.
type topology struct {
	o       options
	dir     string
	cam     *synthcam.Camera
	names   []string // camera names, c0..cN-1
	base    int
	cfgPath string
	shards  int     // in the config file now
	origins []*proc // by shard; nil while down
	edges   []*proc // by index; nil while down
}

// maxOrigins is how many origin ports are reserved: N goes from 2 to 3.
const maxOrigins = 3

func newTopology(ctx context.Context, o options, dir string) (*topology, error) {
	if o.Edges > 5 {
		return nil, fmt.Errorf("at most 5 edges (ports base*10+5..9), not %d", o.Edges)
	}
	t := &topology{o: o, dir: dir, cfgPath: filepath.Join(dir, "cluster.yml")}
	for i := range o.Cameras {
		t.names = append(t.names, "c"+strconv.Itoa(i))
	}
	var err error
	if t.base, err = freePortRun(); err != nil {
		return nil, err
	}
	t.cam, err = synthcam.Start(ctx, synthcam.Config{Width: o.Width, Height: o.Height, FPS: o.FPS, AnyPath: true})
	if err != nil {
		return nil, fmt.Errorf("synthetic camera: %w", err)
	}
	return t, nil
}

// freePortRun finds base such that 127.0.0.1:base*10+0..9 are all free.
func freePortRun() (int, error) {
	for range 100 {
		base := 2000 + rand.IntN(4000) // ports 20000..59999
		var lns []net.Listener
		for d := range 10 {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d%d", base, d))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if len(lns) == 10 {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no free run of 10 ports on 127.0.0.1")
}

func (t *topology) originAddr(shard int) string {
	return fmt.Sprintf("127.0.0.1:%d", t.base*10+shard)
}

func (t *topology) edgeAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", t.base*10+5+i) }

// writeConfig writes the one config of the cluster with shards origins,
// atomically (a watcher never reads half a file).
func (t *topology) writeConfig(shards int) error {
	camURL := strings.TrimSuffix(t.cam.URL(), t.cam.Config().Path)
	var b strings.Builder
	fmt.Fprintf(&b, "# written by scripts/clustersim\ncluster:\n  shards: %d\n  origin_url: http://127.0.0.1:%d{shard}\n", shards, t.base)
	b.WriteString("max_viewers: 0\n")
	if !t.o.Thumb {
		b.WriteString("profiles:\n  thumb: false\n")
	}
	fmt.Fprintf(&b, "defaults:\n  idle_timeout: %s\ncameras:\n", t.o.IdleTimeout)
	for _, n := range t.names {
		fmt.Fprintf(&b, "  - name: %s\n    url: %s/%s\n", n, camURL, n)
	}
	tmp := t.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp, t.cfgPath); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	t.shards = shards
	return nil
}

func (t *topology) daemonArgs(shard, addr string) []string {
	return []string{"--config", t.cfgPath, "--watch-config", "--shard", shard, "--listen", addr,
		"--log-format", "json", "--log-level", "info"}
}

// startOrigin starts (or restarts) origin shard and waits for /healthz.
func (t *topology) startOrigin(ctx context.Context, shard int) (*proc, error) {
	for len(t.origins) <= shard {
		t.origins = append(t.origins, nil)
	}
	addr := t.originAddr(shard)
	p, err := startProc(ctx, t.o.Daemon, fmt.Sprintf("origin %d", shard), addr,
		filepath.Join(t.dir, fmt.Sprintf("origin-%d.log", shard)), t.daemonArgs(strconv.Itoa(shard), addr)...)
	t.origins[shard] = p
	return p, err
}

// startEdge starts (or restarts) edge i and waits for /healthz.
func (t *topology) startEdge(ctx context.Context, i int) (*proc, error) {
	for len(t.edges) <= i {
		t.edges = append(t.edges, nil)
	}
	addr := t.edgeAddr(i)
	p, err := startProc(ctx, t.o.Daemon, fmt.Sprintf("edge %d", i), addr,
		filepath.Join(t.dir, fmt.Sprintf("edge-%d.log", i)), t.daemonArgs("edge", addr)...)
	t.edges[i] = p
	return p, err
}

// procs lists the running daemon processes, origins first.
func (t *topology) procs() []*proc {
	var out []*proc
	for _, p := range append(append([]*proc{}, t.origins...), t.edges...) {
		if p != nil && p.alive() {
			out = append(out, p)
		}
	}
	return out
}

// owned lists the cameras that origin shard owns with shards origins.
func (t *topology) owned(shard, shards int) []string {
	var out []string
	for _, n := range t.names {
		if cluster.Owner(n, shards) == shard {
			out = append(out, n)
		}
	}
	return out
}

// sessions is the number of RTSP sessions playing per camera, counted at
// the synthetic camera.
func (t *topology) sessions() map[string]int {
	out := map[string]int{}
	for path, n := range t.cam.ReadersByPath() {
		out[strings.TrimPrefix(path, "/")] = n
	}
	return out
}

// settled waits until every origin of the current config runs exactly
// the cameras it owns, each streaming with its codec known (so ffprobe's
// short extra session is over), and each camera has one RTSP session.
func (t *topology) settled(ctx context.Context, within time.Duration) error {
	return eventually(ctx, within, fmt.Sprintf("%d origins streaming their cameras, one RTSP session each", t.shards), func() (bool, string) {
		for s := range t.shards {
			p := t.origins[s]
			if p == nil || !p.alive() {
				return false, fmt.Sprintf("origin %d is down", s)
			}
			got, err := p.cameras(ctx)
			if err != nil {
				return false, err.Error()
			}
			want := t.owned(s, t.shards)
			if len(got) != len(want) {
				return false, fmt.Sprintf("origin %d runs %d cameras, owns %d", s, len(got), len(want))
			}
			for _, n := range want {
				c, ok := got[n]
				switch {
				case !ok:
					return false, fmt.Sprintf("origin %d does not run %s", s, n)
				case c.State != "streaming" || c.Codec == "auto":
					return false, fmt.Sprintf("origin %d: %s is %s, codec %s", s, n, c.State, c.Codec)
				}
			}
		}
		sess := t.sessions()
		for _, n := range t.names {
			if sess[n] != 1 {
				return false, fmt.Sprintf("camera %s has %d RTSP sessions", n, sess[n])
			}
		}
		return true, ""
	})
}

// close stops every process (SIGTERM, SIGKILL after 5 s) and the camera,
// and returns what did not stop cleanly.
func (t *topology) close() []string {
	var (
		mu  sync.Mutex // guards bad
		bad []string
		wg  sync.WaitGroup
	)
	for _, p := range t.procs() {
		wg.Go(func() {
			if err := p.stop(5 * time.Second); err != nil {
				mu.Lock()
				bad = append(bad, err.Error())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.cam != nil {
		_ = t.cam.Close()
	}
	return bad
}
