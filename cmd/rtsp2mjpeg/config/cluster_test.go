package config

import (
	"testing"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/rtsp2mjpeg/cluster"
)

func TestParseCluster(t *testing.T) {
	f, err := Parse("cameras.yml", []byte(withCamera(
		"cluster:",
		"  shards: 3",
		"  origin_url: http://rtsp2mjpeg-origin-{shard}.rtsp2mjpeg-origin:8007",
		"  shard: ${SHARD}",
	)), env(map[string]string{"SHARD": "auto"}))
	if err != nil {
		t.Fatal(err)
	}
	want := cluster.Config{Shards: 3, OriginURL: "http://rtsp2mjpeg-origin-{shard}.rtsp2mjpeg-origin:8007", Shard: "auto"}
	if f.Cluster == nil || *f.Cluster != want {
		t.Fatalf("cluster = %+v, want %+v", f.Cluster, want)
	}
	if got := f.Cluster.Origin(2); got != "http://rtsp2mjpeg-origin-2.rtsp2mjpeg-origin:8007" {
		t.Errorf("origin 2 = %q", got)
	}
	f, err = Parse("cameras.yml", []byte(withCamera()), testEnv)
	if err != nil || f.Cluster != nil {
		t.Errorf("without a cluster section: cluster %+v, err %v", f.Cluster, err)
	}
}
