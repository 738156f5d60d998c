package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/cmd/testcam/synthcam"
)

// sloppyCam is an HTTP MJPEG camera of the tests' own that sends its
// frames the way careless firmwares do, one quirk per path:
//
//	/stream/QUIRK?fps=N
//
// QUIRK: clean, nolength (no Content-Length), noinitial (no boundary
// before the first part), dashes (boundary declared as "--x"), quoted
// (boundary="x"), lf (LF-only lines, header names in odd case), garbage
// (junk between parts), doubled (two boundary lines between parts),
// nodht (JPEGs without Huffman tables). With user and pass set it answers
// 401 with a Digest challenge until the request has the right response.
type sloppyCam struct {
	srv        *httptest.Server
	frames     [][]byte // what it sends, in turn
	user, pass string

	mu   sync.Mutex // guards shot
	shot int        // snapshots served
}

func newSloppyCam(t *testing.T, user, pass string) *sloppyCam {
	t.Helper()
	c := &sloppyCam{user: user, pass: pass}
	for i := range 12 {
		c.frames = append(c.frames, barJPEG(i))
	}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

// barJPEG is frame i: 320x240, a white bar that moves.
func barJPEG(i int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{30, 60, 150, 255}), image.Point{}, draw.Src)
	x := i * 24 % 320
	draw.Draw(img, image.Rect(x, 0, x+24, 240), image.NewUniform(color.White), image.Point{}, draw.Src)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// stripDHT removes the Huffman table segments of a JPEG, as webcams' AVI1
// frames come.
func stripDHT(j []byte) []byte {
	out := append([]byte(nil), j[:2]...)
	for i := 2; i+4 <= len(j); {
		m, n := j[i+1], int(j[i+2])<<8|int(j[i+3])
		if m == 0xDA { // SOS: the rest is scan data
			return append(out, j[i:]...)
		}
		if m != 0xC4 {
			out = append(out, j[i:i+2+n]...)
		}
		i += 2 + n
	}
	return out
}

func (c *sloppyCam) serve(w http.ResponseWriter, r *http.Request) {
	if c.user != "" && !c.digestOK(r) {
		w.Header().Set("WWW-Authenticate", `Digest realm="cam", nonce="n0nce42", qop="auth", opaque="op"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/snapshot.jpg" { // a still-image camera: the next frame, once
		c.mu.Lock()
		j := c.frames[c.shot%len(c.frames)]
		c.shot++
		c.mu.Unlock()
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(j)
		return
	}
	quirk := strings.TrimPrefix(r.URL.Path, "/stream/")
	fps, _ := strconv.ParseFloat(r.URL.Query().Get("fps"), 64)
	if fps <= 0 {
		fps = 10
	}
	boundary, declared := "x", "x"
	switch quirk {
	case "dashes":
		declared = "--x" // the lines are then ----x
		boundary = "--x"
	case "quoted":
		declared = `"x"`
	}
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary="+declared)
	w.WriteHeader(http.StatusOK)
	eol := "\r\n"
	if quirk == "lf" {
		eol = "\n"
	}
	flusher := w.(http.Flusher)
	tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
	defer tick.Stop()
	for i := 0; ; i++ {
		j := c.frames[i%len(c.frames)]
		if quirk == "nodht" {
			j = stripDHT(j)
		}
		var b bytes.Buffer
		if i > 0 || quirk != "noinitial" {
			b.WriteString("--" + boundary + eol)
		}
		if quirk == "doubled" && i > 0 {
			b.WriteString("--" + boundary + eol)
		}
		if quirk == "lf" {
			b.WriteString("content-TYPE: image/jpeg" + eol + "X-Whatever: 1" + eol)
		} else {
			b.WriteString("Content-Type: image/jpeg" + eol)
		}
		if quirk != "nolength" {
			b.WriteString("Content-Length: " + strconv.Itoa(len(j)) + eol)
		}
		b.WriteString(eol)
		b.Write(j)
		b.WriteString(eol)
		if quirk == "garbage" {
			b.WriteString("\x00\xffjunk--not-a-boundary\r\n" + eol)
		}
		if _, err := w.Write(b.Bytes()); err != nil {
			return
		}
		flusher.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// digestOK checks a Digest Authorization header (MD5, qop auth).
func (c *sloppyCam) digestOK(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Digest ") {
		return false
	}
	p := map[string]string{}
	for _, kv := range strings.Split(h[len("Digest "):], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		p[k] = strings.Trim(v, `"`)
	}
	md := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
	ha1 := md(c.user + ":cam:" + c.pass)
	ha2 := md(r.Method + ":" + p["uri"])
	want := md(ha1 + ":n0nce42:" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	return p["username"] == c.user && p["response"] == want
}

// TestHTTPMJPEGCameras reads the sloppy camera's every quirk in one
// daemon: each is read natively (no ffmpeg), in codec copy, and every part
// a viewer gets decodes; the camera's JPEGs come byte for byte, but for
// those without Huffman tables, which get the standard ones.
func TestHTTPMJPEGCameras(t *testing.T) {
	const pass = "d1gest-pw-77"
	cam := newSloppyCam(t, "", "")
	authCam := newSloppyCam(t, "viewer", pass)
	quirks := []string{"clean", "nolength", "noinitial", "dashes", "quoted", "lf", "garbage", "doubled", "nodht"}
	var y strings.Builder
	y.WriteString("cameras:\n")
	for _, q := range quirks {
		fmt.Fprintf(&y, "  - name: %s\n    url: %s/stream/%s\n", q, cam.srv.URL, q)
	}
	authURL := strings.Replace(authCam.srv.URL, "http://", "http://viewer:"+pass+"@", 1) + "/stream/clean"
	fmt.Fprintf(&y, "  - name: digest\n    url: %s\n", authURL)
	d := startDaemon(t, "--config", writeConfig(t, "", y.String()))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	sent := map[[32]byte]bool{}
	for _, j := range cam.frames {
		sent[sha256.Sum256(j)] = true
	}
	for _, name := range append(quirks, "digest") {
		t.Run(name, func(t *testing.T) {
			v := watch(ctx, t, d.base+"/cameras/"+name+"/video")
			for range 5 {
				p := v.nextLive(t, 15*time.Second)
				checkPart(t, p) // decodes, Content-Length and X-Timestamp
				if name != "nodht" && !sent[sha256.Sum256(p.body)] {
					t.Fatalf("a part that is not one of the camera's JPEGs, byte for byte (%d bytes)", len(p.body))
				}
			}
			if st := d.status(t, name); st["codec"] != "copy" || st["state"] != "streaming" {
				t.Errorf("status: codec %v, state %v", st["codec"], st["state"])
			}
		})
	}
	if n := len(d.ffmpegPIDs()); n != 0 {
		t.Errorf("%d ffmpeg processes: HTTP MJPEG cameras need none", n)
	}
	cancel()
	d.stop(t)
	if strings.Contains(d.log.String(), pass) {
		t.Error("the camera password is in the daemon's log")
	}
}

// TestHTTPMJPEGTenViewers: ten viewers of an HTTP MJPEG camera each get
// every frame the daemon gets from it (the test's own camera server and
// viewers share the race-instrumented test process, so the camera's rate
// itself is measured, not assumed).
func TestHTTPMJPEGTenViewers(t *testing.T) {
	cam := newSloppyCam(t, "", "")
	d := startDaemon(t, "--url", cam.srv.URL+"/stream/nolength?fps=10")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var vs []*viewer
	for range 10 {
		vs = append(vs, watch(ctx, t, d.base+"/video"))
	}
	rates := make([]float64, len(vs))
	var wg sync.WaitGroup
	for i, v := range vs {
		wg.Go(func() { rates[i] = rateOf(t, v, 4*time.Second) })
	}
	wg.Wait()
	camFPS := d.status(t, "default")["fps"].(float64)
	t.Logf("the camera: %.1f fps at the daemon; viewers: %.1f", camFPS, rates)
	for i, r := range rates {
		if r < 0.85*camFPS || r < 5 {
			t.Errorf("viewer %d: %.1f fps, want the camera's %.1f", i, r, camFPS)
		}
	}
}

// TestHTTPMJPEGSlowCamera: a camera that sends a frame every 4 s, with
// stall_timeout 2s, is not restarted in a loop: the watchdog follows the
// rate it has seen.
func TestHTTPMJPEGSlowCamera(t *testing.T) {
	cam := newSloppyCam(t, "", "")
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: slow\n    url: %s/stream/clean?fps=0.25\n    stall_timeout: 2s\n", cam.srv.URL)))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v := watch(ctx, t, d.base+"/video")
	v.nextLive(t, 10*time.Second)
	start := time.Now()
	deadline := start.Add(24 * time.Second) // six of its frames
	live, noSignalLate := 0, 0
	for time.Now().Before(deadline) {
		p := v.next(t, 10*time.Second)
		switch {
		case !p.noSignal:
			live++
		case p.at.Sub(start) > 12*time.Second:
			noSignalLate++
		}
	}
	restarts := d.status(t, "slow")["restarts"].(float64)
	t.Logf("slow camera: %d live parts in 24 s (frames and frames sent again), %v restarts, %d no-signal parts once its rate was learnt", live, restarts, noSignalLate)
	if restarts > 2 || live < 4 {
		t.Errorf("slow camera: %d live parts in 24 s and %v restarts, want >= 4 and <= 2 restarts (learning its rate)", live, restarts)
	}
	// Once its rate is known, its viewers see its last picture between two
	// frames, not "no signal".
	if noSignalLate > 0 {
		t.Errorf("%d no-signal parts in the last 12 s from a slow camera that is healthy", noSignalLate)
	}
}

// TestRelay: box B reads box A's /cameras/x/video. B's viewers get A's
// JPEGs byte for byte; A's camera down shows as B's own no-signal
// pictures, not as frames; A restarted is survived on the same connection.
func TestRelay(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, Log: camLog(t)})
	a := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf("cameras:\n  - name: x\n    url: %s\n    stall_timeout: 2s\n", cam.URL())))
	b := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf("cameras:\n  - name: x\n    url: %s/cameras/x/video\n", a.base)))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	va := watch(ctx, t, a.base+"/cameras/x/video")
	vb := watch(ctx, t, b.base+"/cameras/x/video")
	va.nextLive(t, 20*time.Second)
	vb.nextLive(t, 20*time.Second)

	// Byte for byte: each of B's frames is one of A's.
	seen := map[[32]byte]bool{}
	var aTimes = map[[32]byte]time.Time{}
	var hop []time.Duration
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		p := va.next(t, 5*time.Second)
		h := sha256.Sum256(p.body)
		seen[h] = true
		aTimes[h] = partTime(t, p)
	}
	drain(vb)
	matched := 0
	for range 10 {
		p := vb.nextLive(t, 5*time.Second)
		h := sha256.Sum256(p.body)
		for range 50 { // A's viewer may be a little behind B's
			if seen[h] {
				break
			}
			pa := va.next(t, 5*time.Second)
			ha := sha256.Sum256(pa.body)
			seen[ha] = true
			aTimes[ha] = partTime(t, pa)
		}
		if !seen[h] {
			t.Fatalf("B served a JPEG that A never sent (%d bytes)", len(p.body))
		}
		hop = append(hop, partTime(t, p).Sub(aTimes[h]))
		matched++
	}
	t.Logf("%d of B's frames byte-identical to A's; hop delay (B's X-Timestamp - A's): %v", matched, hop)

	// A's camera down: B's viewers get B's no-signal parts.
	must(t, cam.Stop())
	eventually(t, 15*time.Second, "B says the source's camera is down", func() bool {
		st := b.status(t, "x")
		return st["state"] != "streaming"
	})
	drain(vb)
	if p := vb.next(t, 5*time.Second); !p.noSignal {
		t.Error("B's viewer got a frame while A's camera was down")
	}
	must(t, cam.Restart())
	drain(vb)
	vb.nextLive(t, 20*time.Second)

	// A restarts: B's viewer resumes on the same connection.
	a.stop(t)
	a2 := startDaemonEnv(t, nil, "--listen", strings.TrimPrefix(a.base, "http://"), "--config",
		writeConfig(t, "", fmt.Sprintf("cameras:\n  - name: x\n    url: %s\n", cam.URL())))
	back := time.Now()
	drain(vb)
	p := vb.nextLive(t, 20*time.Second)
	t.Logf("B's viewer live again %v after A was started again", p.at.Sub(back).Round(time.Millisecond))
	_ = a2
}

// TestStillImageCameraPolled: `poll: 500ms` fetches a URL that answers one
// JPEG on that period, with no ffmpeg, and each becomes a frame.
func TestStillImageCameraPolled(t *testing.T) {
	cam := newSloppyCam(t, "", "")
	d := startDaemon(t, "--config", writeConfig(t, "", fmt.Sprintf(
		"cameras:\n  - name: still\n    url: %s/snapshot.jpg\n    poll: 500ms\n", cam.srv.URL)))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v := watch(ctx, t, d.base+"/video")
	seen := map[[32]byte]bool{}
	first := v.nextLive(t, 10*time.Second)
	var last part
	for len(seen) < 4 {
		last = v.nextLive(t, 5*time.Second)
		checkPart(t, last)
		seen[sha256.Sum256(last.body)] = true
	}
	period := last.at.Sub(first.at) / 4
	t.Logf("4 distinct pictures, one every %v", period.Round(time.Millisecond))
	if period < 300*time.Millisecond || period > 2*time.Second {
		t.Errorf("a picture every %v, want about 500ms", period)
	}
	if n := len(d.ffmpegPIDs()); n != 0 {
		t.Errorf("%d ffmpeg processes for a polled camera, want 0", n)
	}
	resp, body := d.get(t, "/snapshot")
	if resp.StatusCode != 200 {
		t.Errorf("snapshot: %d %s", resp.StatusCode, body)
	}
}

// TestRelayFromBoxWithAuth: box A has auth on; box B reads A's camera with
// the user and password in the URL, or with one of A's tokens in ?token=.
// Wrong or missing credentials are a clear error in B's status, and no
// password or token shows in B's status or either box's log.
func TestRelayFromBoxWithAuth(t *testing.T) {
	cam := startCamera(t, synthcam.Config{Width: 320, Height: 240, FPS: 10, Log: camLog(t)})
	const pass, token, wrong = "relay-pa55word", "relay-t0ken-9f2c", "wrong-pa55word"
	env := []string{"A_PASS=" + pass, "A_TOKEN=" + token}
	a := startDaemonEnv(t, env, "--config", writeConfig(t, "", fmt.Sprintf(
		"auth:\n  username: admin\n  password: ${A_PASS}\n  tokens: [${A_TOKEN}]\ncameras:\n  - name: x\n    url: %s\n", cam.URL())))
	host := strings.TrimPrefix(a.base, "http://")
	b := startDaemonEnv(t, env, "--config", writeConfig(t, "", fmt.Sprintf(`cameras:
  - name: basic
    url: http://admin:${A_PASS}@%[1]s/cameras/x/video
  - name: token
    url: http://%[1]s/cameras/x/video?token=${A_TOKEN}
  - name: wrong
    url: http://admin:%[2]s@%[1]s/cameras/x/video
  - name: bare
    url: http://%[1]s/cameras/x/video
`, host, wrong)))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, name := range []string{"basic", "token"} {
		v := watch(ctx, t, b.base+"/cameras/"+name+"/video")
		checkPart(t, v.nextLive(t, 20*time.Second))
	}
	want := map[string]string{
		"wrong": "refused the user and password",
		"bare":  "asks for credentials",
	}
	for name, msg := range want {
		eventually(t, 15*time.Second, name+"'s error says why", func() bool {
			e, _ := b.status(t, name)["last_error"].(string)
			return strings.Contains(e, "401") && strings.Contains(e, msg)
		})
	}
	_, list := b.get(t, "/api/cameras")
	t.Logf("B's /api/cameras: %s", list)
	for _, s := range []string{pass, token, wrong} {
		if strings.Contains(string(list), s) {
			t.Errorf("B's /api/cameras shows the secret %q", s)
		}
		if strings.Contains(a.log.String(), s) || strings.Contains(b.log.String(), s) {
			t.Errorf("a log shows the secret %q", s)
		}
	}
	if st := b.status(t, "token"); !strings.Contains(st["url"].(string), "token=xxxxx") {
		t.Errorf("token camera's URL in status = %q, want token=xxxxx", st["url"])
	}
}
