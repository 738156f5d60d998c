package main

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"time"
)

// readParts reads the multipart stream at url (a camera's or the wall's)
// for d from its first part, calling each with every part's header, body
// (valid during the call) and arrival time. It returns nil when d has
// passed, or why the stream ended before.
func readParts(ctx context.Context, url string, d time.Duration, each func(h textproto.MIMEHeader, body []byte, at time.Time)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || err != nil || params["boundary"] == "" {
		return fmt.Errorf("GET %s: %d %q", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var start time.Time
	var buf []byte
	for {
		p, err := mr.NextPart()
		if err != nil {
			return err
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := p.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		now := time.Now()
		if start.IsZero() {
			start = now
		}
		if now.Sub(start) > d {
			return nil
		}
		each(p.Header, buf, now)
	}
}
