package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// PollEvery is how often an edge asks each origin for its cameras' status:
// what /api/cameras shows of them, and /readyz's reachability.
const PollEvery = 2 * time.Second

// Origins is an edge's view of its origins, polled on their /api/cameras.
type Origins struct {
	client *http.Client

	mu     sync.Mutex // guards the fields below
	cfg    Config
	cred   Credentials
	polled []originPoll // by shard
	wake   chan struct{}
}

// originPoll is what the last poll of one origin found.
type originPoll struct {
	done  bool // polled at least once (with this config)
	err   string
	state map[string]pipeline.Status // by camera name
}

// NewOrigins returns the view of cfg's origins; Run polls them.
func NewOrigins(cfg Config, cred Credentials) *Origins {
	o := &Origins{
		client: &http.Client{Timeout: PollEvery * 3 / 4},
		wake:   make(chan struct{}, 1),
	}
	o.Set(cfg, cred)
	return o
}

// Set changes the cluster config (a reload); the next poll uses it.
func (o *Origins) Set(cfg Config, cred Credentials) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if cfg.OriginURL != o.cfg.OriginURL || cfg.Shards != o.cfg.Shards || cred != o.cred {
		o.polled = make([]originPoll, cfg.Shards)
	}
	o.cfg, o.cred = cfg, cred
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run polls every origin each PollEvery until ctx ends.
func (o *Origins) Run(ctx context.Context) {
	t := time.NewTicker(PollEvery)
	defer t.Stop()
	for {
		o.pollAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.wake:
		}
	}
}

func (o *Origins) pollAll(ctx context.Context) {
	o.mu.Lock()
	cfg, cred := o.cfg, o.cred
	o.mu.Unlock()
	var wg sync.WaitGroup
	results := make([]originPoll, cfg.Shards)
	for s := range cfg.Shards {
		wg.Go(func() { results[s] = o.poll(ctx, cfg.Origin(s), cred) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg == cfg && o.cred == cred { // else a reload came meanwhile: poll again
		o.polled = results
	}
}

// poll reads one origin's /api/cameras.
func (o *Origins) poll(ctx context.Context, base string, cred Credentials) originPoll {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/cameras", nil)
	if err != nil {
		return originPoll{done: true, err: err.Error()}
	}
	switch {
	case cred.Username != "":
		req.SetBasicAuth(cred.Username, cred.Password)
	case cred.Token != "":
		req.Header.Set("Authorization", "Bearer "+cred.Token)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return originPoll{done: true, err: fmt.Sprintf("origin %s does not answer: %v", base, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return originPoll{done: true, err: fmt.Sprintf("origin %s: /api/cameras: HTTP %s", base, resp.Status)}
	}
	var list []pipeline.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&list); err != nil {
		return originPoll{done: true, err: fmt.Sprintf("origin %s: /api/cameras: %v", base, err)}
	}
	p := originPoll{done: true, state: make(map[string]pipeline.Status, len(list))}
	for _, st := range list {
		p.state[st.Name] = st
	}
	return p
}

// unwrapURLError drops net/http's "Get URL:" prefix, which repeats the URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok && strings.HasPrefix(err.Error(), "Get ") {
		return ue.Unwrap()
	}
	return err
}

// Ready tells whether the edge can serve: some origin answered its last
// poll. One origin down does not make the edge unready: the cameras of the
// others still stream, and an edge pulled from service would take them
// away too. The error says which origins do not answer.
func (o *Origins) Ready() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var down []string
	polled := false
	for s, p := range o.polled {
		if !p.done {
			continue
		}
		polled = true
		if p.err == "" {
			return nil
		}
		down = append(down, fmt.Sprintf("%d: %s", s, p.err))
	}
	if !polled {
		return fmt.Errorf("the origins have not been polled yet")
	}
	return fmt.Errorf("no origin answers (%s)", strings.Join(down, "; "))
}

// Of returns where camera name comes from and its state there.
func (o *Origins) Of(name string) *pipeline.Origin {
	o.mu.Lock()
	defer o.mu.Unlock()
	shard, base := o.cfg.OriginOf(name)
	out := &pipeline.Origin{Shard: shard, URL: base}
	if shard >= len(o.polled) {
		return out
	}
	p := o.polled[shard]
	switch {
	case !p.done:
		out.LastError = "not polled yet"
	case p.err != "":
		out.LastError = p.err
	default:
		out.Reachable = true
		st, ok := p.state[name]
		if !ok {
			out.LastError = "the origin does not serve this camera (is its config the same as this edge's?)"
			break
		}
		out.State, out.LastError = st.State, st.LastError
	}
	return out
}
