// Package cluster spreads cameras over several rtsp2mjpeg processes
// (DESIGN.md "Cluster", issue 11): origins, each reading the cameras it
// owns, and edges, each serving every camera relayed on demand from the
// origin that owns it. Every process reads the same config; its role comes
// from cluster.shard or --shard.
package cluster

import (
	"encoding/binary"
	"hash/fnv"
)

// Owner returns the shard, in [0, shards), that owns the camera called
// name, by rendezvous (highest random weight) hashing: each shard scores
// the name and the highest score wins. Changing the number of shards moves
// only the cameras that must move: going from N to N+1 shards, a camera
// moves only to the new shard, and only when the new shard outscores all
// others (about 1 in N+1 of the cameras).
func Owner(name string, shards int) int {
	best, bestScore := 0, uint64(0)
	for s := range shards {
		if sc := score(name, s); s == 0 || sc > bestScore {
			best, bestScore = s, sc
		}
	}
	return best
}

// score is shard s's weight for name: FNV-1a of the shard and the name,
// then a 64-bit finaliser, so that the scores of one name for different
// shards are independent (FNV alone keeps their low bits correlated).
func score(name string, s int) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(s))
	h.Write(b[:])
	h.Write([]byte(name))
	return mix64(h.Sum64())
}

// mix64 is the finaliser of SplitMix64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
