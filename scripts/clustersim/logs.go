package main

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"time"
)

// logEntry is what the tool reads of a daemon's JSON log line.
type logEntry struct {
	Time    time.Time `json:"time"`
	Msg     string    `json:"msg"`
	Camera  string    `json:"camera"`
	Reason  string    `json:"reason"`
	RetryIn string    `json:"retry_in"`
}

// readLog returns the entries of a daemon's log file from since on (the
// log's times are whole seconds: since is rounded down).
func readLog(path string, since time.Time) []logEntry {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	since = since.Truncate(time.Second)
	var out []logEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out
}

// relayRefusals counts, over every edge's log since the given time, the
// relay restarts of cams refused with HTTP 404 by an origin, and returns
// the longest backoff one of them was given.
func (t *topology) relayRefusals(cams []string, since time.Time) (n int, longest time.Duration) {
	for _, e := range t.edges {
		if e == nil {
			continue
		}
		for _, l := range readLog(e.logPath, since) {
			if l.Msg != "ffmpeg stopped, restarting" || !slices.Contains(cams, l.Camera) || !strings.Contains(l.Reason, "404") {
				continue
			}
			n++
			if d, err := time.ParseDuration(l.RetryIn); err == nil {
				longest = max(longest, d)
			}
		}
	}
	return n, longest
}
