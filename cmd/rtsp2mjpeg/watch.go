package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// watchEvery is how often --watch-config reads the config file.
const watchEvery = 2 * time.Second

// watchFile reads path every period and signals when its content differs
// from the last read, as when Kubernetes swaps a mounted ConfigMap's files
// (it replaces a symlink: the path's content changes, not the file that an
// inotify watch on it would follow). The goroutine it starts ends with ctx.
func watchFile(ctx context.Context, wg *sync.WaitGroup, path string, period time.Duration, log *logrus.Entry) <-chan struct{} {
	changed := make(chan struct{}, 1)
	sum := func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		s := sha256.Sum256(b)
		return s[:], nil
	}
	last, _ := sum()
	failing := false
	wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, err := sum()
			if err != nil {
				if !failing { // once per outage, not every period
					log.WithError(err).Warn("watch-config: cannot read the config file; the running config stays")
				}
				failing = true
				continue
			}
			failing = false
			if bytes.Equal(s, last) {
				continue
			}
			last = s
			select {
			case changed <- struct{}{}:
			default: // one pending reload reads the newest content
			}
		}
	})
	return changed
}
