package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// snapAges are the ages of snapshots of cameras in standby.
type snapAges struct {
	threads  int
	ages     []time.Duration // sorted: time received − X-Timestamp
	interval float64         // the cameras' measured keyframe interval, mean, s
	failed   int
	firstErr error
	woke     int // cameras no longer in standby after the snapshots
}

var snapClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 32},
}

// snapshotAge takes one snapshot of url and returns its age when received.
func snapshotAge(ctx context.Context, url string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := snapClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	got := time.Now()
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	if resp.StatusCode != http.StatusOK || n == 0 {
		return 0, fmt.Errorf("answer %d, %d bytes", resp.StatusCode, n)
	}
	ts, ok := parseTimestampMs([]byte(resp.Header.Get("X-Timestamp")))
	if !ok {
		return 0, fmt.Errorf("X-Timestamp %q: not unix seconds.ms", resp.Header.Get("X-Timestamp"))
	}
	return got.Sub(time.UnixMilli(ts)), nil
}

// snapshotAges takes a snapshot of every camera every o.snapEvery for
// o.snapWindow (one goroutine per camera, their ticks spread over the
// period) and returns their ages.
func (b *bench) snapshotAges(so siteOpts, d *daemon, cams []string) snapAges {
	r := snapAges{}
	b.logf("snapshots in standby: every %v from each of %d cameras for %v", so.snapEvery, len(cams), so.snapWindow)
	ctx, cancel := context.WithTimeout(b.ctx, so.snapWindow)
	defer cancel()
	var mu sync.Mutex // guards r
	var wg sync.WaitGroup
	for i, c := range cams {
		url := "http://" + d.addr + "/cameras/" + c + "/snapshot"
		offset := so.snapEvery * time.Duration(i) / time.Duration(len(cams))
		wg.Go(func() {
			t := time.NewTimer(offset)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				t.Reset(so.snapEvery)
				age, err := snapshotAge(ctx, url)
				if ctx.Err() != nil {
					return // the window ended during the request
				}
				mu.Lock()
				if err != nil {
					r.failed++
					if r.firstErr == nil {
						r.firstErr = fmt.Errorf("%s: %w", c, err)
					}
				} else {
					r.ages = append(r.ages, age)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(r.ages)
	var sum float64
	for _, c := range cams {
		s, err := siteStatusOf(b.ctx, d.addr, c)
		if err != nil {
			r.firstErr = errors.Join(r.firstErr, err)
			continue
		}
		if !inStandby(s) {
			r.woke++
		}
		sum += s.KeyframeInterval
	}
	r.interval = sum / float64(len(cams))
	b.logf("snapshots: %d, failed %d, age p50 %v p99 %v max %v; keyframe interval %.3f s; %d cameras woke",
		len(r.ages), r.failed, ms(quantile(r.ages, .5)), ms(quantile(r.ages, .99)), ms(quantile(r.ages, 1)), r.interval, r.woke)
	return r
}
