package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// readParts reads the multipart stream at url until it ends, fails or ctx
// ends, calling each with every part's header, body (valid during the
// call only) and arrival time. It returns how many parts came and why the
// stream ended.
func readParts(ctx context.Context, client *http.Client, url string, each func(h textproto.MIMEHeader, body []byte, at time.Time)) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || err != nil || params["boundary"] == "" {
		return 0, fmt.Errorf("HTTP %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var buf bytes.Buffer
	n := 0
	for {
		p, err := mr.NextPart()
		if err != nil {
			return n, err
		}
		buf.Reset()
		if _, err := io.Copy(&buf, p); err != nil {
			return n, err
		}
		n++
		each(p.Header, buf.Bytes(), time.Now())
	}
}

// parseStamp reads an X-Timestamp ("1733097487.123", Unix seconds with
// ms) as Unix ms; 0 when absent or malformed.
func parseStamp(s string) int64 {
	sec, frac, _ := strings.Cut(s, ".")
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0
	}
	for len(frac) < 3 {
		frac += "0"
	}
	b, err := strconv.ParseInt(frac[:3], 10, 64)
	if err != nil {
		return 0
	}
	return a*1000 + b
}
