package chartcheck

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/config"
)

// TestDaemonReadsConfig parses every scenario's rendered cameras.yml with
// the daemon's own parser (cmd/rtsp2mjpeg/config, the module at ../..), in
// the environment the pods get, and resolves each pod's role as the daemon
// does (cluster.ParseRole with RTSP2MJPEG_SHARD and the pod's hostname).
func TestDaemonReadsConfig(t *testing.T) {
	var summary []string
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			r, err := Render(chartDir, s.options())
			if err != nil {
				t.Fatal(err)
			}
			x := newIndex(r)
			env := map[string]string{}
			for _, sec := range all[corev1.Secret](x, "Secret") {
				for k, v := range sec.StringData {
					env[k] = v
				}
			}
			getenv := func(name string) string {
				if v, ok := env[name]; ok {
					return v
				}
				if s.existingSecret != "" {
					return "from-" + s.existingSecret // a key of the user's own Secret
				}
				return ""
			}
			f, err := config.Parse(configPath, []byte(cameraConfig(t, x)), getenv)
			if err != nil {
				t.Fatalf("the daemon refuses the rendered config:\n%v\n%s", err, cameraConfig(t, x))
			}
			if len(f.Cameras) == 0 {
				t.Fatal("no cameras")
			}
			if !s.cluster {
				if f.Cluster != nil {
					t.Errorf("single box: the config has a cluster section %+v", *f.Cluster)
				}
				summary = append(summary, fmt.Sprintf("%-22s %d cameras, single box", s.name, len(f.Cameras)))
				return
			}
			c := f.Cluster
			if c == nil || c.Shards != s.shards {
				t.Fatalf("cluster section %+v: want shards %d", c, s.shards)
			}
			sts := all[appsv1.StatefulSet](x, "StatefulSet")[0]
			// Each origin pod gets the shard of its ordinal, and the
			// cameras of the config are split over the shards, each once.
			perShard := make([]int, s.shards)
			for i := range s.shards {
				role, err := cluster.ParseRole(shardEnv(t, &sts.Spec.Template.Spec), c.Shards, fmt.Sprintf("%s-%d", sts.Name, i))
				if err != nil || role.Edge || role.Shard != i {
					t.Fatalf("origin pod %s-%d: role %v, %v; want origin %d", sts.Name, i, role, err, i)
				}
				perShard[i] = len(c.Cameras(role, f.Cameras, cluster.Credentials{}))
			}
			total := 0
			for _, n := range perShard {
				total += n
			}
			if total != len(f.Cameras) {
				t.Errorf("origins run %v cameras, %d in all; want each of the %d once", perShard, total, len(f.Cameras))
			}
			// An edge relays every camera from the origin pod that owns it.
			edge := x.component("edge")
			role, err := cluster.ParseRole(shardEnv(t, &edge.pod.Spec), c.Shards, edge.name+"-5d8f9c7b6-abcde")
			if err != nil || !role.Edge {
				t.Fatalf("edge pod: role %v, %v; want edge", role, err)
			}
			relays := c.Cameras(role, f.Cameras, cluster.Credentials{})
			if len(relays) != len(f.Cameras) {
				t.Errorf("an edge relays %d cameras of %d", len(relays), len(f.Cameras))
			}
			for _, cam := range relays {
				owner, base := c.OriginOf(cam.Name)
				want := fmt.Sprintf("http://%s-%d.%s.", sts.Name, owner, sts.Spec.ServiceName)
				if !strings.HasPrefix(base, want) || !strings.HasPrefix(cam.URL, base+"/cameras/"+cam.Name+"/video") {
					t.Errorf("edge camera %s: relayed from %s (origin %s); want origin pod %s-%d", cam.Name, cam.URL, base, sts.Name, owner)
				}
			}
			summary = append(summary, fmt.Sprintf("%-22s %d cameras over %d origins %v, every one relayed by the edges", s.name, len(f.Cameras), s.shards, perShard))
		})
	}
	t.Logf("the daemon's config.Parse and cluster.ParseRole on the rendered config:\n%s", strings.Join(summary, "\n"))
}

// shardEnv is the RTSP2MJPEG_SHARD of a pod's container.
func shardEnv(t *testing.T, p *corev1.PodSpec) string {
	t.Helper()
	for _, e := range p.Containers[0].Env {
		if e.Name == "RTSP2MJPEG_SHARD" {
			return e.Value
		}
	}
	t.Fatal("no RTSP2MJPEG_SHARD")
	return ""
}
