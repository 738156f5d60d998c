package cluster

import (
	"strings"
	"testing"
)

func TestParseRole(t *testing.T) {
	tests := []struct {
		spec, host string
		shards     int
		want       Role
		err        string
	}{
		{"edge", "", 2, Role{Edge: true}, ""},
		{"1", "", 2, Role{Shard: 1}, ""},
		{"auto", "rtsp2mjpeg-origin-1", 2, Role{Shard: 1}, ""},
		{"auto", "web-0", 1, Role{Shard: 0}, ""},
		{"auto", "rtsp2mjpeg-origin-2", 2, Role{}, `hostname "rtsp2mjpeg-origin-2" is pod 2, but cluster.shards is 2`},
		{"auto", "nvr", 2, Role{}, `hostname "nvr" does not end in -N`},
		{"auto", "nvr-x", 2, Role{}, `does not end in -N`},
		{"2", "", 2, Role{}, "2 is not a shard of 2"},
		{"-1", "", 2, Role{}, "-1 is not a shard of 2"},
		{"origin", "", 2, Role{}, `"origin": want a shard number (0 to 1)`},
		{"", "", 2, Role{}, "no shard: set cluster.shard in the config, or pass --shard"},
	}
	for _, tt := range tests {
		got, err := ParseRole(tt.spec, tt.shards, tt.host)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRole(%q, %d, %q) error %v, want %q", tt.spec, tt.shards, tt.host, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRole(%q, %d, %q) = %v, %v; want %v", tt.spec, tt.shards, tt.host, got, err, tt.want)
		}
	}
}
