package cluster

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Config is the cluster section of the config file, the same in every
// process of the cluster.
type Config struct {
	Shards    int    // number of origins, >= 1
	OriginURL string // base URL of origin {shard}, e.g. http://rtsp2mjpeg-origin-{shard}.rtsp2mjpeg-origin:8007
	Shard     string // this process's role: a shard number, "auto" or "edge"; "" when --shard must say
}

// ShardPlaceholder is what OriginURL has where a shard's number goes.
const ShardPlaceholder = "{shard}"

// Origin returns the base URL of origin shard, without a trailing slash.
func (c Config) Origin(shard int) string {
	return strings.TrimRight(strings.ReplaceAll(c.OriginURL, ShardPlaceholder, strconv.Itoa(shard)), "/")
}

// CheckOriginURL tells what is wrong with an origin_url template, "" when
// nothing.
func CheckOriginURL(tpl string) string {
	if !strings.Contains(tpl, ShardPlaceholder) {
		return fmt.Sprintf("%q has no %s: each origin has its own address, e.g. http://rtsp2mjpeg-origin-{shard}.rtsp2mjpeg-origin:8007", tpl, ShardPlaceholder)
	}
	u, err := url.Parse(strings.ReplaceAll(tpl, ShardPlaceholder, "0"))
	switch {
	case err != nil:
		return fmt.Sprintf("%q does not parse as a URL: %v", tpl, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q: want an http:// or https:// URL", tpl)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", tpl)
	case u.User != nil:
		return fmt.Sprintf("%q: no credentials here; an edge sends the auth section's to its origins", tpl)
	case u.RawQuery != "" || (u.Path != "" && u.Path != "/"):
		return fmt.Sprintf("%q: want the origin's base URL (scheme, host and port), without a path or query", tpl)
	}
	return ""
}

// Role is what one process of the cluster does.
type Role struct {
	Edge  bool // serves every camera, relayed from the origins
	Shard int  // an origin: the shard whose cameras it reads (when !Edge)
}

func (r Role) String() string {
	if r.Edge {
		return "edge"
	}
	return "origin " + strconv.Itoa(r.Shard)
}

// CheckShard tells what is wrong with a shard spec ("" when nothing):
// a number in [0, shards), "auto" or "edge".
func CheckShard(spec string, shards int) string {
	switch spec {
	case "auto", "edge":
		return ""
	}
	n, err := strconv.Atoi(spec)
	if err != nil {
		return fmt.Sprintf("%q: want a shard number (0 to %d), auto (from a StatefulSet pod's name) or edge", spec, shards-1)
	}
	if n < 0 || n >= shards {
		return fmt.Sprintf("%d is not a shard of %d: want 0 to %d (or auto, or edge)", n, shards, shards-1)
	}
	return ""
}

// ParseRole returns the role that spec names. "auto" takes the shard from
// hostname's trailing ordinal, as a StatefulSet names its pods (NAME-I).
func ParseRole(spec string, shards int, hostname string) (Role, error) {
	if spec == "" {
		return Role{}, fmt.Errorf("no shard: set cluster.shard in the config, or pass --shard (env RTSP2MJPEG_SHARD): a shard number, auto or edge")
	}
	if msg := CheckShard(spec, shards); msg != "" {
		return Role{}, fmt.Errorf("shard %s", msg)
	}
	switch spec {
	case "edge":
		return Role{Edge: true}, nil
	case "auto":
		i := strings.LastIndexByte(hostname, '-')
		n, err := strconv.Atoi(hostname[i+1:])
		if i < 0 || err != nil || n < 0 {
			return Role{}, fmt.Errorf("shard auto: hostname %q does not end in -N (a StatefulSet pod's ordinal): pass --shard N", hostname)
		}
		if n >= shards {
			return Role{}, fmt.Errorf("shard auto: hostname %q is pod %d, but cluster.shards is %d: raise shards, or scale the StatefulSet to %d", hostname, n, shards, shards)
		}
		return Role{Shard: n}, nil
	}
	n, _ := strconv.Atoi(spec)
	return Role{Shard: n}, nil
}
