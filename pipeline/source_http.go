package pipeline

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// httpSource is a camera that serves its video over HTTP (http:// or
// https://), read by ffmpeg.
type httpSource struct {
	raw string // as given: ffmpeg gets it unchanged
	u   *url.URL
}

func (s httpSource) input(c CameraConfig, longProbe bool) (map[string]string, string) {
	kw := map[string]string{"timeout": strconv.FormatInt(c.StallTimeout.Microseconds(), 10)}
	lowDelayProbe(kw, longProbe)
	return kw, s.raw
}

func (s httpSource) watch() func(ctx context.Context) bool {
	port := "80"
	if s.u.Scheme == "https" {
		port = "443"
	}
	return dialWatch(s.u, port)
}

func (httpSource) unreachable(err error) bool { return isConnectError(err) }

func (httpSource) kind(c CameraConfig) string {
	if c.Poll > 0 {
		return "http-poll"
	}
	return "http"
}

// open reads the camera itself when it sends MJPEG over HTTP
// (multipart/x-mixed-replace): in codec copy there is nothing for ffmpeg
// to do. ffmpeg's mpjpeg demuxer would also read it, but it needs a
// boundary line before every part and a Content-Type per part, which many
// cameras omit, and it would add a process and a pipe copy per camera;
// PartReader (mpjpeg.go) takes what real cameras send. Credentials in the
// URL are sent with Basic auth, or Digest when the camera asks for it.
func (s httpSource) open(ctx context.Context, c CameraConfig) (partSource, error) {
	tr := &http.Transport{
		Proxy: nil, // a camera on the LAN: no proxy from the environment
		// As ffmpeg (tls_verify 0 by default), which read these cameras
		// before: most https cameras have a self-signed certificate.
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true},
		DialContext:           (&net.Dialer{Timeout: c.StallTimeout}).DialContext,
		TLSHandshakeTimeout:   c.StallTimeout,
		ResponseHeaderTimeout: c.StallTimeout,
		DisableCompression:    true,
	}
	client := &http.Client{Transport: tr}
	if c.Poll > 0 {
		ctx, cancel := context.WithCancel(ctx)
		return &pollParts{src: s, ctx: ctx, cancel: cancel, client: client, tr: tr, period: c.Poll}, nil
	}
	resp, err := s.get(ctx, client)
	if err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	fail := func(err error) (partSource, error) {
		resp.Body.Close()
		tr.CloseIdleConnections()
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fail(fmt.Errorf("HTTP %s: %s", resp.Status, s.refused()))
	case resp.StatusCode != http.StatusOK:
		return fail(fmt.Errorf("HTTP %s", resp.Status))
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); !strings.HasPrefix(mt, "multipart/") {
		return fail(fmt.Errorf("%w: Content-Type %q", errNotNative, ct))
	}
	return &httpParts{PartReader: NewPartReader(resp.Body, ct), body: resp.Body, tr: tr}, nil
}

// refused says why a 401 came back, by what the URL carried.
func (s httpSource) refused() string {
	switch {
	case s.u.User != nil:
		return "the camera refused the user and password of the URL"
	case len(QuerySecrets(s.raw)) > 0:
		return "the camera refused the token of the URL"
	default:
		return "the camera asks for credentials: put user:password@ in the URL (or ?token=… for another rtsp2mjpeg with tokens)"
	}
}

// httpParts is an open MJPEG-over-HTTP response.
type httpParts struct {
	*PartReader
	body io.Closer
	tr   *http.Transport
}

func (h *httpParts) Close() error {
	err := h.body.Close()
	h.tr.CloseIdleConnections()
	return err
}

// get sends a GET for the camera's URL, with the URL's credentials: Basic
// (net/http sends them), or Digest when the camera answers 401 with a
// Digest challenge.
func (s httpSource) get(ctx context.Context, client *http.Client) (*http.Response, error) {
	resp, err := httpGet(ctx, client, s.raw, "")
	if err == nil && resp.StatusCode == http.StatusUnauthorized && s.u.User != nil {
		if auth := digestAuth(resp.Header.Values("WWW-Authenticate"), s.u); auth != "" {
			resp.Body.Close()
			resp, err = httpGet(ctx, client, s.raw, auth)
		}
	}
	return resp, err
}

// pollParts is a still-image camera (poll: PERIOD): its URL answers one
// JPEG, fetched once a period, each published as a frame. A GET needs no
// ffmpeg.
type pollParts struct {
	src    httpSource
	ctx    context.Context
	cancel context.CancelFunc // Close: ends a wait or a request under way
	client *http.Client
	tr     *http.Transport
	period time.Duration
	next   time.Time // when to fetch again; zero: at once
	buf    []byte
}

func (p *pollParts) Next() (Part, error) {
	if !p.next.IsZero() {
		t := time.NewTimer(time.Until(p.next))
		select {
		case <-p.ctx.Done():
			t.Stop()
			return Part{}, p.ctx.Err()
		case <-t.C:
		}
	}
	p.next = time.Now().Add(p.period)
	resp, err := p.src.get(p.ctx, p.client)
	if err != nil {
		return Part{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return Part{}, fmt.Errorf("HTTP %s: %s", resp.Status, p.src.refused())
	}
	if resp.StatusCode != http.StatusOK {
		return Part{}, fmt.Errorf("HTTP %s", resp.Status)
	}
	b := bytes.NewBuffer(p.buf[:0])
	if _, err := b.ReadFrom(io.LimitReader(resp.Body, maxPolledJPEG+1)); err != nil {
		return Part{}, fmt.Errorf("read the picture: %w", err)
	}
	p.buf = b.Bytes()
	switch {
	case len(p.buf) > maxPolledJPEG:
		return Part{}, fmt.Errorf("the picture is larger than %d MiB", maxPolledJPEG>>20)
	case len(p.buf) < 4 || p.buf[0] != 0xFF || p.buf[1] != 0xD8:
		return Part{}, fmt.Errorf("the answer is not a JPEG (Content-Type %q)", resp.Header.Get("Content-Type"))
	}
	return Part{JPEG: p.buf}, nil
}

func (p *pollParts) Close() error {
	p.cancel()
	p.tr.CloseIdleConnections()
	return nil
}

// maxPolledJPEG bounds a polled picture, as the splitter bounds a frame.
const maxPolledJPEG = 16 << 20

func httpGet(ctx context.Context, client *http.Client, rawURL, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "rtsp2mjpeg")
	if auth != "" {
		req.Header.Set("Authorization", auth) // net/http then sends no Basic auth of the URL
	}
	return client.Do(req)
}

// digestAuth answers a Digest challenge (RFC 7616, MD5, qop auth or none)
// for the user and password of u, or "" when there is none to answer.
func digestAuth(challenges []string, u *url.URL) string {
	for _, ch := range challenges {
		scheme, params, ok := strings.Cut(strings.TrimSpace(ch), " ")
		if !ok || !strings.EqualFold(scheme, "Digest") {
			continue
		}
		p := parseAuthParams(params)
		if alg := p["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
			continue
		}
		user := u.User.Username()
		pass, _ := u.User.Password()
		uri := u.RequestURI()
		h := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
		ha1 := h(user + ":" + p["realm"] + ":" + pass)
		ha2 := h("GET:" + uri)
		out := fmt.Sprintf(`Digest username=%q, realm=%q, nonce=%q, uri=%q`, user, p["realm"], p["nonce"], uri)
		if qops := p["qop"]; qops != "" && slices.Contains(strings.Split(strings.ReplaceAll(qops, " ", ""), ","), "auth") {
			var b [8]byte
			_, _ = rand.Read(b[:])
			cnonce := hex.EncodeToString(b[:])
			resp := h(ha1 + ":" + p["nonce"] + ":00000001:" + cnonce + ":auth:" + ha2)
			out += fmt.Sprintf(`, qop=auth, nc=00000001, cnonce=%q, response=%q`, cnonce, resp)
		} else {
			out += fmt.Sprintf(`, response=%q`, h(ha1+":"+p["nonce"]+":"+ha2))
		}
		if p["opaque"] != "" {
			out += fmt.Sprintf(`, opaque=%q`, p["opaque"])
		}
		if p["algorithm"] != "" {
			out += ", algorithm=MD5"
		}
		return out
	}
	return ""
}

// parseAuthParams parses the key=value, key="quoted value" list of a
// WWW-Authenticate challenge.
func parseAuthParams(s string) map[string]string {
	m := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeft(strings.TrimSpace(s), ",") {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		rest = strings.TrimSpace(rest)
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				v, rest = rest[1:], ""
			} else {
				v, rest = rest[1:1+end], rest[2+end:]
			}
		} else {
			v, rest, _ = strings.Cut(rest, ",")
			v = strings.TrimSpace(v)
		}
		m[k] = v
		s = rest
	}
	return m
}
