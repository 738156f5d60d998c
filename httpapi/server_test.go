package httpapi

import (
	"context"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestServeStopsWithOpenStream(t *testing.T) {
	cam := newFakeCamera("door")
	cam.Publish(payload(1, 100), time.Now())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, NewRouter(Config{}, []Camera{cam}, quietLog()), quietLog()) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := "http://" + ln.Addr().String()

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "ok" {
		t.Errorf("/healthz = %q", body)
	}
	resp.Body.Close()

	resp, err = client.Get(base + "/video")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mr := multipart.NewReader(resp.Body, "frame")
	if p := nextPart(t, mr); payloadIndex(p.body) != 1 {
		t.Fatalf("first part %q", p.body)
	}
	waitFor(t, "the stream to acquire the camera", func() bool { return cam.holding() == 1 })

	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of cancel")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Serve took %s to stop", d)
	}
	// Serve waited for the stream handler.
	if n := cam.holding(); n != 0 {
		t.Errorf("%d stream handlers still hold the camera after Serve returned", n)
	}
	// The client sees the end of the stream.
	within(t, 5*time.Second, "stream end", func() { _, _ = io.Copy(io.Discard, resp.Body) })
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepts after Serve returned")
	}
}

func TestServeListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve's Accept fails at once
	done := make(chan error, 1)
	go func() { done <- Serve(t.Context(), ln, http.NotFoundHandler(), quietLog()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve on a closed listener returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestHandlersIdle(t *testing.T) {
	var h handlers
	select {
	case <-h.idle():
	default:
		t.Fatal("idle not closed with no handler")
	}
	h.add()
	h.add()
	idle := h.idle()
	h.done()
	select {
	case <-idle:
		t.Fatal("idle closed with a handler running")
	default:
	}
	h.done()
	select {
	case <-idle:
	default:
		t.Fatal("idle not closed after the last handler")
	}
	h.add()
	select {
	case <-h.idle():
		t.Fatal("idle closed with a handler running")
	default:
	}
	h.done()
}
