package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// siteStatus is what the site benchmark reads of /api/cameras/NAME.
type siteStatus struct {
	State            string  `json:"state"`
	Frames           uint64  `json:"frames"`
	Restarts         uint64  `json:"restarts"`
	LastError        string  `json:"last_error"`
	WhenIdle         string  `json:"when_idle"`
	Decoding         string  `json:"decoding"` // all, keyframes or none
	KeyframeInterval float64 `json:"keyframe_interval"`
}

func siteStatusOf(ctx context.Context, addr, cam string) (siteStatus, error) {
	var s siteStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/cameras/"+cam, nil)
	if err != nil {
		return s, err
	}
	resp, err := quickClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("status of %s: %w", cam, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/api/cameras/%s: %s", cam, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("status of %s: %w", cam, err)
	}
	return s, nil
}

// waitCams polls the status of cams every 50 ms until ok holds for every
// one, bounded by timeout. It returns the last statuses read.
func (b *bench) waitCams(d *daemon, cams []string, timeout time.Duration, what string, ok func(siteStatus) bool) ([]siteStatus, error) {
	deadline := time.Now().Add(timeout)
	sts := make([]siteStatus, len(cams))
	for {
		all := true
		var firstErr error
		for i, c := range cams {
			s, err := siteStatusOf(b.ctx, d.addr, c)
			sts[i] = s
			if err != nil || !ok(s) {
				all = false
				if firstErr == nil {
					firstErr = fmt.Errorf("camera %s: state %q, decoding %q, last error %q (%v)", c, s.State, s.Decoding, s.LastError, err)
				}
				break
			}
		}
		switch {
		case all:
			return sts, nil
		case !d.p.alive():
			return sts, fmt.Errorf("daemon exited: %s", d.p.tail(10))
		case time.Now().After(deadline):
			return sts, fmt.Errorf("%s: not after %v: %v", what, timeout, firstErr)
		case b.ctx.Err() != nil:
			return sts, b.ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restarts sums the ffmpeg restarts of cams, or -1 when a status failed.
func (b *bench) restarts(d *daemon, cams []string) int64 {
	var n int64
	for _, c := range cams {
		s, err := siteStatusOf(b.ctx, d.addr, c)
		if err != nil {
			return -1
		}
		n += int64(s.Restarts)
	}
	return n
}

func inStandby(s siteStatus) bool { return s.Decoding == "keyframes" && s.KeyframeInterval > 0 }

// waitFFmpegs waits until the daemon's children are want ffmpeg and
// nothing else: the ffprobe it runs once per camera after the first frame
// (codec auto) would otherwise start and end inside a CPU window.
func (b *bench) waitFFmpegs(d *daemon, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ff, other := 0, 0
		for _, k := range childrenOf(d.p.pid()) {
			if k.comm == "ffmpeg" {
				ff++
			} else {
				other++
			}
		}
		switch {
		case ff == want && other == 0:
			return nil
		case !d.p.alive():
			return fmt.Errorf("daemon exited: %s", d.p.tail(10))
		case time.Now().After(deadline):
			return fmt.Errorf("the daemon has %d ffmpeg and %d other children after %v, want %d ffmpeg", ff, other, timeout, want)
		case b.ctx.Err() != nil:
			return b.ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
}
