package config

import (
	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
)

var clusterKeys = []string{"shards", "origin_url", "shard"}

// cluster parses the cluster section (DESIGN.md "Cluster"): shards and
// origin_url are required; shard may be left to --shard.
func (p *parser) cluster(sec pair) *cluster.Config {
	pairs := p.mapping(sec.v, "cluster", clusterKeys)
	if pairs == nil {
		return nil
	}
	c := &cluster.Config{}
	if kv, ok := pairs["shards"]; ok {
		if v, ok := value(p, kv.v, "cluster.shards", parseInt); ok {
			if v < 1 {
				p.errorf(deref(kv.v).Line, "cluster.shards", "%d: want 1 or more origins", v)
			}
			c.Shards = v
		}
	} else {
		p.errorf(deref(sec.k).Line, "cluster", `no "shards": how many origins read the cameras`)
	}
	if kv, ok := pairs["origin_url"]; ok {
		if v, ok := p.scalar(kv.v, "cluster.origin_url"); ok {
			p.urlSecrets(v) // refused below, but never shown
			if msg := cluster.CheckOriginURL(v); msg != "" {
				p.errorf(deref(kv.v).Line, "cluster.origin_url", "%s", msg)
			}
			c.OriginURL = v
		}
	} else {
		p.errorf(deref(sec.k).Line, "cluster", `no "origin_url": the address of origin {shard}, e.g. http://rtsp2mjpeg-origin-{shard}.rtsp2mjpeg-origin:8007`)
	}
	if kv, ok := pairs["shard"]; ok {
		if v, ok := p.scalar(kv.v, "cluster.shard"); ok {
			if c.Shards >= 1 {
				if msg := cluster.CheckShard(v, c.Shards); msg != "" {
					p.errorf(deref(kv.v).Line, "cluster.shard", "%s", msg)
				}
			}
			c.Shard = v
		}
	}
	return c
}
