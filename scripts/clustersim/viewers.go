package main

import (
	"context"
	"fmt"
	"hash/maphash"
	"net"
	"net/http"
	"net/textproto"
	"sync"
	"time"
)

// part is one part a viewer received.
type part struct {
	at       int64  // receive time, Unix ns
	stamp    int64  // X-Timestamp, Unix ms
	hash     uint64 // of the JPEG; sampled viewers only
	edge     int8   // the edge it came from
	noSignal bool   // X-No-Signal: 1
}

// viewer watches one camera's main stream through an edge: viewer i
// starts at edge i%edges, and when its connection fails or stalls moves to
// the next edge. It keeps every part it received, for the analysis.
type viewer struct {
	id     int
	cam    string
	sample bool // hashes its JPEGs, to match them with the origin's

	mu         sync.Mutex // guards the fields below
	edge       int        // the edge it reads now, or tries next
	parts      []part
	reconnects int
	lastErr    string
}

// crowd is the viewers, with what they share.
type crowd struct {
	viewers []*viewer
	edges   func(i int) string // base URL of edge i
	nEdges  int
	client  *http.Client
	seed    maphash.Seed
	wg      sync.WaitGroup
}

// stallAfter: a connection without a part this long is taken for dead.
// An edge sends a no-signal part every 2 s even when it has no frame.
const stallAfter = 5 * time.Second

func newCrowd(n, nEdges, sampled int, cams []string, edges func(int) string) *crowd {
	c := &crowd{
		edges:  edges,
		nEdges: nEdges,
		seed:   maphash.MakeSeed(),
		client: &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: time.Second}).DialContext,
			ResponseHeaderTimeout: 3 * time.Second,
			DisableCompression:    true,
			MaxIdleConnsPerHost:   -1, // streams are never reused
		}},
	}
	for i := range n {
		// Viewer i watches camera i%cams at edge i%edges: with 8 cameras
		// and 3 edges the first 24 cover every pair.
		c.viewers = append(c.viewers, &viewer{id: i, cam: cams[i%len(cams)], edge: i % nEdges, sample: i < sampled})
	}
	return c
}

// start runs every viewer until ctx ends; wait waits for them.
func (c *crowd) start(ctx context.Context) {
	for _, v := range c.viewers {
		c.wg.Go(func() { c.run(ctx, v) })
	}
}

func (c *crowd) wait() { c.wg.Wait() }

// run is one viewer's life: watch, and on failure the next edge.
func (c *crowd) run(ctx context.Context, v *viewer) {
	failed := 0 // connections in a row that brought no part
	for ctx.Err() == nil {
		v.mu.Lock()
		edge := v.edge
		v.mu.Unlock()
		n, err := c.watch(ctx, v, edge)
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			failed = 0
		} else {
			failed++
		}
		v.mu.Lock()
		v.edge = (edge + 1) % c.nEdges
		v.reconnects++
		if err != nil {
			v.lastErr = fmt.Sprintf("edge %d: %v", edge, err)
		}
		v.mu.Unlock()
		if failed >= c.nEdges { // every edge refused: do not spin
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// watch reads one connection to edge until it fails, stalls or ctx ends,
// and returns how many parts it brought.
func (c *crowd) watch(ctx context.Context, v *viewer, edge int) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stall := time.AfterFunc(stallAfter, cancel)
	defer stall.Stop()
	return readParts(ctx, c.client, c.edges(edge)+"/cameras/"+v.cam+"/video", func(h textproto.MIMEHeader, body []byte, at time.Time) {
		stall.Reset(stallAfter)
		pt := part{at: at.UnixNano(), stamp: parseStamp(h.Get("X-Timestamp")), edge: int8(edge),
			noSignal: h.Get("X-No-Signal") == "1"}
		if v.sample && !pt.noSignal {
			pt.hash = maphash.Bytes(c.seed, body)
		}
		v.mu.Lock()
		v.parts = append(v.parts, pt)
		v.mu.Unlock()
	})
}

// snapshot returns a copy of v's parts and its current edge.
func (v *viewer) snapshot() ([]part, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]part(nil), v.parts...), v.edge
}

// liveAfter returns the time of v's first live part received after t
// (and, when notEdge >= 0, from another edge than notEdge).
func (v *viewer) liveAfter(t time.Time, notEdge int) (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	tn := t.UnixNano()
	for i := len(v.parts) - 1; i >= 0; i-- { // the newest last: search back to t
		if v.parts[i].at <= tn {
			for _, p := range v.parts[i+1:] {
				if !p.noSignal && int(p.edge) != notEdge {
					return time.Unix(0, p.at), true
				}
			}
			return time.Time{}, false
		}
	}
	for _, p := range v.parts {
		if !p.noSignal && int(p.edge) != notEdge {
			return time.Unix(0, p.at), true
		}
	}
	return time.Time{}, false
}

// edgeAt returns the edge v was reading at t: that of its last part
// before t.
func (v *viewer) edgeAt(t time.Time) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	tn := t.UnixNano()
	for i := len(v.parts) - 1; i >= 0; i-- {
		if v.parts[i].at <= tn {
			return int(v.parts[i].edge)
		}
	}
	return v.edge
}
