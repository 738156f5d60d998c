package cluster

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// fakeOrigin answers /api/cameras with the cameras it is given, to
// requests with the right credentials.
func fakeOrigin(t *testing.T, cred Credentials, cams ...pipeline.Status) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, basic := r.BasicAuth()
		ok := (cred == Credentials{}) ||
			(cred.Username != "" && basic && u == cred.Username && p == cred.Password) ||
			(cred.Token != "" && r.Header.Get("Authorization") == "Bearer "+cred.Token)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/api/cameras" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(cams)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestOrigins polls two fake origins, with credentials: Ready while any
// answers, each camera's state from its owner, and why when one is down.
func TestOrigins(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, cred := range []Credentials{{}, {Username: "admin", Password: "pw"}, {Token: "t0k"}} {
		names := []string{"door", "yard", "porch", "gate"}
		var byShard [2][]pipeline.Status
		for _, n := range names {
			s := Owner(n, 2)
			byShard[s] = append(byShard[s], pipeline.Status{Name: n, State: pipeline.StateStreaming})
		}
		o0, o1 := fakeOrigin(t, cred, byShard[0]...), fakeOrigin(t, cred, byShard[1]...)
		// One template for two servers on different ports: {shard} picks
		// between two hosts that resolve to them.
		urls := []string{o0.URL, o1.URL}
		cfg := Config{Shards: 2, OriginURL: "http://origin-{shard}"}
		o := NewOrigins(cfg, cred)
		o.client.Transport = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			i := map[string]int{"origin-0:80": 0, "origin-1:80": 1}[addr]
			var d net.Dialer
			return d.DialContext(ctx, network, strings.TrimPrefix(urls[i], "http://"))
		}}
		if err := o.Ready(); err == nil {
			t.Error("ready before the first poll")
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { o.Run(ctx) })
		waitFor(t, "ready", func() bool { return o.Ready() == nil })
		for _, n := range names {
			got := o.Of(n)
			if got.Shard != Owner(n, 2) || !got.Reachable || got.State != pipeline.StateStreaming || got.URL != cfg.Origin(got.Shard) {
				t.Errorf("cred %+v: Of(%s) = %+v", cred, n, got)
			}
		}
		if got := o.Of("unknown"); got.LastError == "" || got.Reachable != true {
			t.Errorf("a camera its origin does not serve: %+v", got)
		}
		o1.Close()
		o.Set(cfg, cred) // poll again now
		waitFor(t, "origin 1 down", func() bool {
			return !o.Of(byShard[1][0].Name).Reachable && o.Of(byShard[1][0].Name).LastError != "not polled yet"
		})
		if err := o.Ready(); err != nil {
			t.Errorf("one origin of two down: not ready: %v", err)
		}
		if e := o.Of(byShard[1][0].Name).LastError; !strings.Contains(e, "does not answer") {
			t.Errorf("origin down: last_error %q", e)
		}
		o0.Close()
		o.Set(cfg, cred)
		waitFor(t, "no origin", func() bool { err := o.Ready(); return err != nil && strings.Contains(err.Error(), "no origin answers") })
		cancel()
		wg.Wait()
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
