package main

import (
	"os"
	"strings"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/config"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/httpapi"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// plan is what one reading of the config file asks of this process: the
// cameras it runs and how it serves them. In a cluster, the same file
// gives each process its own share (DESIGN.md "Cluster").
type plan struct {
	cameras []pipeline.CameraConfig
	http    httpapi.Config
	listen  string
	cluster *cluster.Config // nil: a single box
	role    cluster.Role
	cred    cluster.Credentials // what an edge sends to its origins
}

// edge tells whether the process is a cluster edge.
func (p *plan) edge() bool { return p != nil && p.cluster != nil && p.role.Edge }

// loadPlan reads the config file and works out this process's share.
// shard is --shard (or RTSP2MJPEG_SHARD), which wins over cluster.shard.
func loadPlan(path, shard string, getenv func(string) string, ffmpegPath, ffprobePath string) (*plan, error) {
	file, err := config.Load(path, getenv)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	p := &plan{cameras: file.Cameras, listen: file.Listen}
	if p.http, err = httpConfig(file); err != nil {
		return nil, err
	}
	if file.Cluster == nil {
		if shard != "" {
			return nil, usagef("--shard %s: %s has no cluster section (cluster: shards, origin_url)", shard, path)
		}
		return p, prepare(p.cameras, ffmpegPath, ffprobePath, false)
	}
	c := *file.Cluster
	if shard != "" {
		c.Shard = shard
	}
	if p.role, err = cluster.ParseRole(c.Shard, c.Shards, hostname(getenv)); err != nil {
		return nil, usagef("%s: %v", path, err)
	}
	p.cluster = &c
	if a := p.http.Auth; a != nil {
		p.cred = cluster.Credentials{Username: a.Username, Password: a.Password}
		if a.Username == "" && len(a.Tokens) > 0 {
			p.cred.Token = a.Tokens[0]
		}
	}
	// Validated whole first: an error in a camera another shard owns is
	// still an error of the file every process reads.
	if err := prepare(p.cameras, ffmpegPath, ffprobePath, false); err != nil {
		return nil, err
	}
	p.cameras = c.Cameras(p.role, p.cameras, p.cred)
	return p, prepare(p.cameras, ffmpegPath, ffprobePath, true)
}

// hostname is the pod's name in Kubernetes (HOSTNAME), else the host's.
func hostname(getenv func(string) string) string {
	if h := strings.TrimSpace(getenv("HOSTNAME")); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}

// roleName names the role of p for messages.
func roleName(p *plan) string {
	switch {
	case p == nil || p.cluster == nil:
		return "single box"
	default:
		return p.role.String()
	}
}

// edgeCamera is a camera of a cluster edge: its status also says where it
// comes from and its state there.
type edgeCamera struct {
	*pipeline.Camera
	origins *cluster.Origins
}

func (e edgeCamera) Status() pipeline.Status {
	st := e.Camera.Status()
	st.Origin = e.origins.Of(st.Name)
	return st
}
