package scripts

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/httpapi"
	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
	"github.com/sirupsen/logrus"
)

const cronScript = "snapshot-cron.sh"

// needTools skips the test when a command is missing, unless CI is set: CI
// must run every test.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing from PATH (CI is set, so this test must run): apt-get install -y %s", tool, tool)
			}
			t.Skipf("%s is missing from PATH", tool)
		}
	}
}

// camera is an httpapi.Camera on a real hub. A good camera publishes a fresh
// frame whenever a snapshot acquires it (as a running camera would have); a
// bad one never has a frame.
type camera struct {
	*pipeline.Hub
	name  string
	state pipeline.State
	jpeg  []byte // nil: never a frame

	mu sync.Mutex // serializes Publish: a hub has a single producer
}

func goodCamera(t *testing.T, name string) *camera {
	c := &camera{Hub: pipeline.NewHub(), name: name, state: pipeline.StateStreaming, jpeg: testJPEG(t)}
	c.Publish(c.jpeg, time.Now())
	t.Cleanup(c.Close)
	return c
}

func badCamera(t *testing.T, name string) *camera {
	c := &camera{Hub: pipeline.NewHub(), name: name, state: pipeline.StateBackoff}
	t.Cleanup(c.Close)
	return c
}

func (c *camera) Name() string { return c.name }

func (c *camera) Status() pipeline.Status {
	return pipeline.Status{Name: c.name, URL: "rtsp://192.0.2.1/" + c.name, State: c.state}
}

func (c *camera) Acquire() (release func()) {
	if c.jpeg != nil {
		c.mu.Lock()
		c.Publish(c.jpeg, time.Now())
		c.mu.Unlock()
	}
	return func() {}
}

func (c *camera) Profile(string) (pipeline.Feed, bool) { return nil, false }

var _ httpapi.Camera = (*camera)(nil)

func testJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for y := range 24 {
		for x := range 32 {
			img.Set(x, y, color.RGBA{uint8(8 * x), uint8(10 * y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// router is the daemon's real HTTP handler over cams.
func router(cams ...httpapi.Camera) http.Handler {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return httpapi.NewRouter(httpapi.Config{SnapshotTimeout: 300 * time.Millisecond}, cams, logrus.NewEntry(log))
}

// serve starts h on 127.0.0.1 and returns its base URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL
}

// result is one run of the script.
type result struct {
	code           int
	stdout, stderr string
	days           []string // the local date before and after the run (usually the same)
}

// runCron runs snapshot-cron.sh with bash and args, with env added to the
// environment. The script's own temporary files must all be gone after it.
func runCron(t *testing.T, env []string, args ...string) result {
	t.Helper()
	needTools(t, "bash", "curl")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, "bash", append([]string{cronScript}, args...)...)
	cmd.Env = append(append(os.Environ(), "TMPDIR="+tmp), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := result{days: []string{today()}}
	err := cmd.Run()
	r.days = append(r.days, today())
	r.stdout, r.stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.code = exit.ExitCode()
	default:
		t.Fatalf("bash %s %q: %v\nstderr:\n%s", cronScript, args, err, r.stderr)
	}
	t.Logf("bash %s %q: exit %d\nstdout:\n%s\nstderr:\n%s", cronScript, args, r.code, r.stdout, r.stderr)
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the script left %s in TMPDIR", left[0].Name())
	}
	return r
}

func today() string { return time.Now().Format(time.DateOnly) }

// files returns every regular file under dir, as slash paths relative to
// dir, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// checkSaved checks that the files under dir are exactly one decodable JPEG
// DAY/NAME-HHMMSS.jpg per name, DAY being a day of the run, and no .tmp.
func checkSaved(t *testing.T, dir string, r result, names ...string) {
	t.Helper()
	got := files(t, dir)
	if len(got) != len(names) {
		t.Fatalf("files under %s: %q, want one JPEG for each of %q", dir, got, names)
	}
	for _, name := range names {
		re := regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})/` + regexp.QuoteMeta(name) + `-\d{6}\.jpg$`)
		i := slices.IndexFunc(got, re.MatchString)
		if i < 0 {
			t.Errorf("no DAY/%s-HHMMSS.jpg among %q", name, got)
			continue
		}
		if day := re.FindStringSubmatch(got[i])[1]; !slices.Contains(r.days, day) {
			t.Errorf("%s: saved in folder %s, want today's (%s)", got[i], day, r.days[0])
		}
		b, err := os.ReadFile(filepath.Join(dir, got[i]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s is not a JPEG: %v", got[i], err)
		}
	}
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not say %q:\n%s", what, sub, s)
		}
	}
}

// One camera streams, the other has no frame: the good one is saved, the
// script tries both, exits 1 and says which camera failed and why (the
// daemon's 503 JSON), with both JSON parsers (python3 and grep/sed).
func TestSnapshotCronOneCameraDown(t *testing.T) {
	for _, tc := range []struct {
		parser string
		env    []string
	}{
		{"python3", nil},
		{"grep-sed", []string{"SNAPSHOT_CRON_PYTHON="}},
	} {
		t.Run(tc.parser, func(t *testing.T) {
			if tc.env == nil {
				needTools(t, "python3")
			}
			base := serve(t, router(badCamera(t, "yard"), goodCamera(t, "door")))
			dir := filepath.Join(t.TempDir(), "snapshots")
			r := runCron(t, tc.env, "-u", base, "-d", dir, "-t", "5")
			if r.code != 1 {
				t.Errorf("exit code %d, want 1 (a camera failed)", r.code)
			}
			checkSaved(t, dir, r, "door")
			mustContain(t, "stderr", r.stderr,
				`yard: HTTP 503: no fresh frame from camera "yard"`,
				"(state: backoff)",
				"1 of 2 cameras failed: yard")
			if strings.Contains(r.stderr, "door:") {
				t.Errorf("stderr reports the good camera as failed:\n%s", r.stderr)
			}
		})
	}
}

func TestSnapshotCronAllGood(t *testing.T) {
	base := serve(t, router(goodCamera(t, "door"), goodCamera(t, "back_yard-2")))
	dir := t.TempDir()
	r := runCron(t, nil, "-u", base+"/", "-d", dir)
	if r.code != 0 {
		t.Errorf("exit code %d, want 0", r.code)
	}
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("output on success, want none (cron mails any output):\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	checkSaved(t, dir, r, "door", "back_yard-2")

	// -v says what was saved.
	r = runCron(t, nil, "-v", "-u", base, "-d", dir, "door")
	if r.code != 0 {
		t.Errorf("-v: exit code %d, want 0", r.code)
	}
	mustContain(t, "stderr of -v", r.stderr, "door: saved "+dir+"/")
}

// Camera names on the command line: only those are fetched; unknown and
// invalid names fail without touching anything outside DIR.
func TestSnapshotCronExplicitCameras(t *testing.T) {
	base := serve(t, router(goodCamera(t, "door"), badCamera(t, "yard"), goodCamera(t, "gate")))

	t.Run("one good camera", func(t *testing.T) {
		dir := t.TempDir()
		r := runCron(t, nil, "-u", base, "-d", dir, "door", "door")
		if r.code != 0 {
			t.Errorf("exit code %d, want 0: the bad camera was not asked for", r.code)
		}
		checkSaved(t, dir, r, "door")
	})

	t.Run("unknown camera", func(t *testing.T) {
		dir := t.TempDir()
		r := runCron(t, nil, "-u", base, "-d", dir, "gate", "nosuch")
		if r.code != 1 {
			t.Errorf("exit code %d, want 1", r.code)
		}
		checkSaved(t, dir, r, "gate")
		mustContain(t, "stderr", r.stderr, `nosuch: HTTP 404: unknown camera "nosuch"`, "1 of 2 cameras failed: nosuch")
	})

	t.Run("invalid names", func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "snapshots")
		r := runCron(t, nil, "-u", base, "-d", dir, "../evil", "Door", "a b", "door")
		if r.code != 1 {
			t.Errorf("exit code %d, want 1", r.code)
		}
		checkSaved(t, dir, r, "door")
		if got := files(t, parent); len(got) != 1 {
			t.Errorf("files under the parent of DIR: %q, want only DIR's JPEG", got)
		}
		mustContain(t, "stderr", r.stderr,
			`"../evil": invalid camera name`, `"Door": invalid camera name`, `"a b": invalid camera name`,
			"3 of 4 cameras failed")
	})
}

// -k deletes the dated folders of old days, and nothing else in DIR.
func TestSnapshotCronDeletesOldDays(t *testing.T) {
	base := serve(t, router(goodCamera(t, "door")))
	dir := t.TempDir()
	outside := t.TempDir()
	now := time.Now()
	day := func(n int) string { return now.AddDate(0, 0, -n).Format(time.DateOnly) }
	keep := []string{
		day(1) + "/door-120000.jpg", // yesterday
		day(7) + "/door-120000.jpg", // 7 days ago: kept with -k 7
		"notes/2000-01-01/a.txt",    // not at the top of DIR
		"2000-01-01-backup/a.jpg",   // not a bare date
		"2000-01-02.txt",            // a file, not a folder
		"keep.txt",
		"tmp-dir/door-000000.jpg.tmp", // not ours
	}
	gone := []string{
		"2000-01-01/door-000000.jpg",
		"2000-01-01/sub/x.jpg",
		day(8) + "/door-120000.jpg",
	}
	for _, f := range slices.Concat(keep, gone) {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink named like an old day, to a folder outside DIR: neither the
	// link nor what it points to is deleted.
	if err := os.WriteFile(filepath.Join(outside, "precious.jpg"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "1999-12-31")); err != nil {
		t.Fatal(err)
	}

	r := runCron(t, nil, "-u", base, "-d", dir, "-k", "7")
	if r.code != 0 {
		t.Errorf("exit code %d, want 0", r.code)
	}
	if r.days[0] != r.days[1] || r.days[0] != today() {
		t.Skip("the day changed during the test")
	}
	got := files(t, dir)
	for _, f := range keep {
		if !slices.Contains(got, f) {
			t.Errorf("%s was deleted", f)
		}
	}
	for _, f := range gone {
		if slices.Contains(got, f) {
			t.Errorf("%s is still there, want its day deleted with -k 7", f)
		}
	}
	for _, d := range []string{"2000-01-01", day(8)} {
		if _, err := os.Lstat(filepath.Join(dir, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("folder %s: %v, want it deleted", d, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "1999-12-31")); err != nil {
		t.Errorf("the symlink 1999-12-31 was deleted: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "precious.jpg")); err != nil {
		t.Errorf("a file outside DIR was deleted through a symlink: %v", err)
	}
	saved := slices.DeleteFunc(slices.Clone(got), func(f string) bool { return !strings.HasPrefix(f, r.days[0]+"/") })
	if len(saved) != 1 {
		t.Errorf("today's folder holds %q, want one picture", saved)
	}
}

// -H headers go to every request (e.g. a token for the daemon's auth); the
// secret is never printed.
func TestSnapshotCronHeaders(t *testing.T) {
	const secret = "s3cret-token"
	h := router(goodCamera(t, "door"))
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secret || r.Header.Get("X-Extra") != "1" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rtsp2mjpeg"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"authentication required"}`+"\n")
			return
		}
		h.ServeHTTP(w, r)
	}))

	dir := t.TempDir()
	r := runCron(t, nil, "-u", base, "-d", dir, "-H", "Authorization: Bearer "+secret, "-H", "X-Extra: 1")
	if r.code != 0 {
		t.Errorf("with the headers: exit code %d, want 0", r.code)
	}
	checkSaved(t, dir, r, "door")

	for _, args := range [][]string{
		{"-H", "Authorization: Bearer wrong"},         // the camera list is refused
		{"-H", "Authorization: Bearer wrong", "door"}, // the snapshot is refused
	} {
		dir := t.TempDir()
		r := runCron(t, nil, append([]string{"-u", base, "-d", dir}, args...)...)
		if r.code != 1 {
			t.Errorf("%q: exit code %d, want 1", args, r.code)
		}
		mustContain(t, "stderr", r.stderr, "HTTP 401: authentication required")
		if len(args) == 2 {
			mustContain(t, "stderr", r.stderr, "cannot list the cameras at "+base+"/api/cameras")
		} else {
			mustContain(t, "stderr", r.stderr, "door: HTTP 401")
		}
		if got := files(t, dir); len(got) != 0 {
			t.Errorf("files saved: %q", got)
		}
	}
	if strings.Contains(r.stderr+r.stdout, secret) {
		t.Errorf("the secret header was printed")
	}
}

// A camera whose snapshot starts and then hangs past -t: curl's timeout is
// reported and the partial download does not survive.
func TestSnapshotCronTimeoutLeavesNoPartialFile(t *testing.T) {
	img := testJPEG(t)
	h := router(goodCamera(t, "door"))
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cameras/slow/snapshot" {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(img[:len(img)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	dir := t.TempDir()
	start := time.Now()
	r := runCron(t, nil, "-u", base, "-d", dir, "-t", "1", "slow", "door")
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v with -t 1", d)
	}
	checkSaved(t, dir, r, "door") // and no slow-*.jpg.tmp
	mustContain(t, "stderr", r.stderr, "slow: curl: (28)", "1 of 2 cameras failed: slow")
}

// The daemon is not running: the script says so and exits 1.
func TestSnapshotCronDaemonDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	dir := t.TempDir()
	r := runCron(t, nil, "-u", "http://"+addr, "-d", dir)
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	mustContain(t, "stderr", r.stderr, "cannot list the cameras at http://"+addr+"/api/cameras: curl: (7)")
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files saved: %q", got)
	}
}

func TestSnapshotCronUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-x"},
		{"-k", "seven"},
		{"-t", "0"},
		{"-u", "ftp://127.0.0.1"},
		{"-d"},
	} {
		r := runCron(t, nil, args...)
		if r.code != 2 {
			t.Errorf("%q: exit code %d, want 2 (usage)", args, r.code)
		}
		mustContain(t, "stderr", r.stderr, "usage: snapshot-cron")
	}
}

func TestSnapshotCronShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is missing from PATH (apt-get install -y shellcheck)")
	}
	out, err := exec.CommandContext(t.Context(), "shellcheck", cronScript).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck %s: %v\n%s", cronScript, err, out)
	}
}

func TestSnapshotCronIsExecutable(t *testing.T) {
	fi, err := os.Stat(cronScript)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&0o111 == 0 {
		t.Errorf("%s has mode %v, want it executable", cronScript, fi.Mode())
	}
}

// unit parses a systemd unit file: section -> key -> values, in order.
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := map[string]map[string][]string{}
	section := ""
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: not a key=value in a section: %q", path, i+1, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

func TestSystemdUnit(t *testing.T) {
	const path = "rtsp2mjpeg.service"
	u := unit(t, path)
	want := map[string]map[string]string{
		"Unit": {
			"After": "network-online.target",
			"Wants": "network-online.target",
		},
		"Service": {
			"User":                    "rtsp2mjpeg",
			"Group":                   "rtsp2mjpeg",
			"ExecStart":               "/usr/local/bin/rtsp2mjpeg --config /etc/rtsp2mjpeg/cameras.yml",
			"ExecReload":              "/bin/kill -HUP $MAINPID",
			"Restart":                 "on-failure",
			"RestartSec":              "2s",
			"KillMode":                "mixed",
			"TimeoutStopSec":          "10s",
			"EnvironmentFile":         "-/etc/rtsp2mjpeg/env",
			"NoNewPrivileges":         "yes",
			"ProtectSystem":           "strict",
			"ProtectHome":             "yes",
			"PrivateTmp":              "yes",
			"PrivateDevices":          "yes",
			"ProtectKernelTunables":   "yes",
			"ProtectKernelModules":    "yes",
			"ProtectKernelLogs":       "yes",
			"ProtectControlGroups":    "yes",
			"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
			"RestrictNamespaces":      "yes",
			"LockPersonality":         "yes",
			"MemoryDenyWriteExecute":  "no",
			"SystemCallArchitectures": "native",
			"CapabilityBoundingSet":   "",
			"AmbientCapabilities":     "",
		},
		"Install": {
			"WantedBy": "multi-user.target",
		},
	}
	for section, keys := range want {
		if u[section] == nil {
			t.Errorf("%s: no [%s] section", path, section)
			continue
		}
		for k, v := range keys {
			got := u[section][k]
			if len(got) != 1 || got[0] != v {
				t.Errorf("%s [%s] %s = %q, want exactly %q", path, section, k, got, v)
			}
		}
	}
	if desc := u["Unit"]["Description"]; len(desc) != 1 || desc[0] == "" {
		t.Errorf("%s: Description = %q", path, desc)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "useradd --system --no-create-home --shell /usr/sbin/nologin rtsp2mjpeg") {
		t.Errorf("%s: the install comments do not say how to create the user", path)
	}
}

// systemd-analyze verify, when systemd is installed, with ExecStart pointed
// at a binary that exists (verify checks it).
func TestSystemdUnitVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is missing from PATH")
	}
	b, err := os.ReadFile("rtsp2mjpeg.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rtsp2mjpeg.service")
	if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte("/usr/local/bin/rtsp2mjpeg"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), "systemd-analyze", "verify", p).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
