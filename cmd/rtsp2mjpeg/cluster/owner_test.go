package cluster

import (
	"fmt"
	"testing"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("cam-%03d", i)
	}
	return out
}

// TestOwnerStable: the owner depends on the name and the shard count
// only, so every process computes the same map (these values are fixed:
// a change of the hash would move cameras between versions in a rolling
// upgrade).
func TestOwnerStable(t *testing.T) {
	want := map[string]int{"door": 0, "garage": 1, "porch": 1, "yard": 2, "cam-000": 0}
	for name, shard := range want {
		if got := Owner(name, 3); got != shard {
			t.Errorf("Owner(%q, 3) = %d, want %d", name, got, shard)
		}
		if got := Owner(name, 1); got != 0 {
			t.Errorf("Owner(%q, 1) = %d, want 0", name, got)
		}
	}
}

// TestOwnerBalanced: over 1000 names every shard owns its share within 20%.
func TestOwnerBalanced(t *testing.T) {
	all := names(1000)
	for shards := 2; shards <= 8; shards++ {
		count := make([]int, shards)
		for _, n := range all {
			count[Owner(n, shards)]++
		}
		fair := float64(len(all)) / float64(shards)
		for s, c := range count {
			if float64(c) < 0.8*fair || float64(c) > 1.2*fair {
				t.Errorf("%d shards: shard %d owns %d of %d cameras, want %.0f ± 20%%", shards, s, c, len(all), fair)
			}
		}
		t.Logf("%d shards: %v", shards, count)
	}
}

// TestOwnerMinimalMovement: from N to N+1 shards, a camera either stays or
// moves to the new shard, and about 1/(N+1) of them move; from N+1 back to
// N, only the new shard's cameras move.
func TestOwnerMinimalMovement(t *testing.T) {
	all := names(1000)
	for n := 1; n <= 7; n++ {
		moved := 0
		for _, name := range all {
			before, after := Owner(name, n), Owner(name, n+1)
			if before != after {
				moved++
				if after != n {
					t.Fatalf("%q moved from shard %d to %d going from %d to %d shards: only a move to the new shard is needed", name, before, after, n, n+1)
				}
			}
		}
		share := float64(moved) / float64(len(all))
		want := 1 / float64(n+1)
		if share < 0.8*want || share > 1.2*want {
			t.Errorf("%d -> %d shards moved %d of %d cameras, want about %.0f", n, n+1, moved, len(all), want*float64(len(all)))
		}
	}
}
