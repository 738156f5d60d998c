package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/scripts/procfs"
)

// camStatus is what the tool reads of a camera in /api/cameras.
type camStatus struct {
	Name     string  `json:"name"`
	State    string  `json:"state"`
	Codec    string  `json:"codec"`
	FPS      float64 `json:"fps"`
	Restarts uint64  `json:"restarts"`
	Clients  int     `json:"clients"`
	Origin   *struct {
		Shard     int    `json:"shard"`
		Reachable bool   `json:"reachable"`
		State     string `json:"state"`
	} `json:"origin"`
}

var apiClient = &http.Client{Timeout: 3 * time.Second}

// cameras reads p's /api/cameras, by camera name.
func (p *proc) cameras(ctx context.Context) (map[string]camStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base()+"/api/cameras", nil)
	if err != nil {
		return nil, err
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: /api/cameras: %w", p.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: /api/cameras: %s", p.name, resp.Status)
	}
	var list []camStatus
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: /api/cameras: %w", p.name, err)
	}
	out := make(map[string]camStatus, len(list))
	for _, c := range list {
		out[c.Name] = c
	}
	return out, nil
}

// ffmpegByCamera maps each camera of an origin to the pid of the ffmpeg
// reading it, from the command lines of the origin's own children (the
// camera's URL ends in /NAME).
func (p *proc) ffmpegByCamera(names []string) map[string]int {
	out := map[string]int{}
	for _, s := range procfs.Children(p.pid()) {
		if s.Comm != "ffmpeg" || s.Zombie() {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(s.PID) + "/cmdline")
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if !strings.HasPrefix(arg, "rtsp://") {
				continue
			}
			for _, n := range names {
				if strings.HasSuffix(arg, "/"+n) {
					out[n] = s.PID
				}
			}
		}
	}
	return out
}

// eventually polls cond every 100 ms until it holds, ctx ends or within
// passes; the error says what was awaited and the last reason cond gave.
func eventually(ctx context.Context, within time.Duration, what string, cond func() (bool, string)) error {
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v (%s)", what, within, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
