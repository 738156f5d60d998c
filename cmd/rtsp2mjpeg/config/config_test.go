package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// Secrets of the test files: none may appear in an error.
const (
	filePass = "hunter2"            // a camera password written in the file
	envPass  = "s3cr3t-from-env"    // a camera password from the environment
	authPass = "auth-Pa55"          // the auth password, from the environment
	token    = "tok-1234567890abcd" // an auth token, from the environment
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var testEnv = env(map[string]string{
	"CAM_PASS":     envPass,
	"DOOR_PASS":    envPass,
	"NVR_PASSWORD": authPass,
	"DASH_TOKEN":   token,
})

// lines joins lines into a file, so a test reads line numbers off its index.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// okCamera is a valid cameras section, on lines 1..3 of a file.
var okCamera = []string{
	"cameras:",
	"  - name: door",
	"    url: rtsp://viewer:" + filePass + "@192.0.2.10:554/stream1",
}

func withCamera(l ...string) string { return lines(append(append([]string{}, okCamera...), l...)...) }

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // each must be in the error text
	}{
		// Keys.
		{"unknown top-level key", withCamera("listn: ':8007'"),
			[]string{`cameras.yml:4: unknown key "listn" (did you mean "listen"?)`}},
		{"unknown camera key", withCamera("    fsp: 10"),
			[]string{`cameras.yml:4: cameras[0]: unknown key "fsp" (did you mean "fps"?)`}},
		{"unknown key, far from any", withCamera("    colour: red"),
			[]string{`cameras.yml:4: cameras[0]: unknown key "colour" (want one of name, url, fps,`}},
		{"unknown key in second camera", withCamera("  - name: yard", "    url: rtsp://192.0.2.11/", "    fsp: 10"),
			[]string{`cameras.yml:6: cameras[1]: unknown key "fsp"`}},
		{"unknown defaults key", withCamera("defaults:", "  qualty: 3"),
			[]string{`cameras.yml:5: defaults: unknown key "qualty" (did you mean "quality"?)`}},
		{"poll on an rtsp camera", withCamera("    poll: 2s"),
			[]string{`cameras.yml:2: cameras[0]: poll: only an http(s) camera can be polled (a URL that answers one JPEG), not rtsp://viewer:xxxxx@192.0.2.10:554/stream1`}},
		{"poll negative", lines("cameras:", "  - name: still", "    url: http://192.0.2.10/snapshot.jpg", "    poll: -2s"),
			[]string{`cameras.yml:4: cameras[0].poll: -2s is negative`}},
		{"when_idle unknown", withCamera("    when_idle: sleep"),
			[]string{`cameras.yml:4: cameras[0].when_idle: "sleep": want full (decode every frame always), standby (keyframes only while nobody watches) or stop`}},
		{"when_idle and on_demand", withCamera("    when_idle: standby", "    on_demand: true"),
			[]string{`cameras.yml:4: cameras[0]: both "when_idle" and "on_demand"`}},
		{"cluster without shards", withCamera("cluster:", "  origin_url: http://o-{shard}:8007"),
			[]string{`cameras.yml:4: cluster: no "shards"`}},
		{"cluster without origin_url", withCamera("cluster:", "  shards: 2"),
			[]string{`cameras.yml:4: cluster: no "origin_url"`}},
		{"cluster zero shards", withCamera("cluster:", "  shards: 0", "  origin_url: http://o-{shard}:8007"),
			[]string{`cameras.yml:5: cluster.shards: 0: want 1 or more origins`}},
		{"cluster origin_url without {shard}", withCamera("cluster:", "  shards: 2", "  origin_url: http://origin:8007"),
			[]string{`cameras.yml:6: cluster.origin_url: "http://origin:8007" has no {shard}`}},
		{"cluster origin_url with a path", withCamera("cluster:", "  shards: 2", "  origin_url: http://o-{shard}:8007/cameras"),
			[]string{`cameras.yml:6: cluster.origin_url: "http://o-{shard}:8007/cameras": want the origin's base URL`}},
		{"cluster origin_url not http", withCamera("cluster:", "  shards: 2", "  origin_url: rtsp://o-{shard}:8007"),
			[]string{`cameras.yml:6: cluster.origin_url: "rtsp://o-{shard}:8007": want an http:// or https:// URL`}},
		{"cluster shard out of range", withCamera("cluster:", "  shards: 2", "  origin_url: http://o-{shard}:8007", "  shard: 2"),
			[]string{`cameras.yml:7: cluster.shard: 2 is not a shard of 2: want 0 to 1 (or auto, or edge)`}},
		{"cluster shard word", withCamera("cluster:", "  shards: 2", "  origin_url: http://o-{shard}:8007", "  shard: origin"),
			[]string{`cameras.yml:7: cluster.shard: "origin": want a shard number (0 to 1), auto (from a StatefulSet pod's name) or edge`}},
		{"cluster origin_url with a password", withCamera("cluster:", "  shards: 2", "  origin_url: http://admin:0r1g1n-pw@o-{shard}:8007"),
			[]string{`cameras.yml:6: cluster.origin_url: "http://admin:xxxxx@o-{shard}:8007": no credentials here`}},
		{"cluster unknown key", withCamera("cluster:", "  shard: edge", "  nodes: 2"),
			[]string{`cameras.yml:6: cluster: unknown key "nodes"`}},
		{"poll in defaults", withCamera("defaults:", "  poll: 2s"),
			[]string{`cameras.yml:5: defaults: unknown key "poll"`}},
		{"name in defaults", withCamera("defaults:", "  name: x"),
			[]string{`cameras.yml:5: defaults: "name" cannot have a default`}},
		{"unknown auth key", withCamera("auth:", "  user: admin", "  tokens: [abc]"),
			[]string{`cameras.yml:5: auth: unknown key "user"`}},
		{"duplicate top-level key", withCamera("listen: ':1'", "listen: ':2'"),
			[]string{`cameras.yml:5: duplicate key "listen" (first at line 4)`}},
		{"duplicate camera key", withCamera("    fps: 1", "    fps: 2"),
			[]string{`cameras.yml:5: cameras[0]: duplicate key "fps" (first at line 4)`}},
		{"duplicate key in flow mapping", lines("cameras:", "  - {name: a, url: 'rtsp://h/', name: b}"),
			[]string{`cameras.yml:2: cameras[0]: duplicate key "name" (first at line 2)`}},
		{"unknown key with ${VAR}", withCamera("    ${FPS}: 10", "${X}: 1"),
			[]string{`cameras.yml:4: cameras[0]: unknown key "${FPS}" (want one of`, `cameras.yml:5: unknown key "${X}" (want one of`}},
		{"merge key", lines("x: &d {fps: 1}", "cameras:", "  - <<: *d", "    name: a", "    url: rtsp://h/"),
			[]string{`cameras.yml:1: unknown key "x"`, `cameras.yml:3: cameras[0]: merge keys ("<<") are not supported`}},

		// Types and values.
		{"fps not a number", withCamera("    fps: ten"),
			[]string{`cameras.yml:4: cameras[0].fps: "ten" is not a number`}},
		{"fps NaN", withCamera("    fps: NaN"),
			[]string{`cameras.yml:4: cameras[0].fps: "NaN" is not a number`}},
		{"fps a list", withCamera("    fps: [1, 2]"),
			[]string{`cameras.yml:4: cameras[0].fps: must be a single value, not a list`}},
		{"fps negative", withCamera("    fps: -1"),
			[]string{`cameras.yml:4: cameras[0].fps: -1 is negative`}},
		{"width not whole", withCamera("    width: 1280.5"),
			[]string{`cameras.yml:4: cameras[0].width: "1280.5" is not a whole number`}},
		{"width huge", withCamera("    width: 99999999999999999999999"),
			[]string{`cameras.yml:4: cameras[0].width: "99999999999999999999999" is out of range`}},
		{"quality too high", withCamera("    quality: 40"),
			[]string{`cameras.yml:4: cameras[0].quality: 40 is not in 2..31`}},
		{"quality too low in defaults", withCamera("defaults:", "  quality: 1"),
			[]string{`cameras.yml:5: defaults.quality: 1 is not in 2..31`}},
		{"on_demand yes", withCamera("    on_demand: yes"),
			[]string{`cameras.yml:4: cameras[0].on_demand: "yes" is not true or false`}},
		{"bad duration", withCamera("    idle_timeout: 30 seconds"),
			[]string{`cameras.yml:4: cameras[0].idle_timeout: "30 seconds" is not a duration: want e.g. "30s"`}},
		{"zero duration", withCamera("    stall_timeout: 0"),
			[]string{`cameras.yml:4: cameras[0].stall_timeout: must be positive`}},
		{"negative duration in defaults", withCamera("defaults:", "  start_timeout: -1s"),
			[]string{`cameras.yml:5: defaults.start_timeout: must be positive`}},
		{"huge duration", withCamera("    start_timeout: 1e300"),
			[]string{`cameras.yml:4: cameras[0].start_timeout: "1e300" is not a duration in range`}},
		{"rtsp_transport", withCamera("    rtsp_transport: http"),
			[]string{`cameras.yml:4: cameras[0].rtsp_transport: "http" is not tcp or udp`}},
		{"codec", withCamera("    codec: h264"),
			[]string{`cameras.yml:4: cameras[0].codec: "h264" is not auto, mjpeg or copy`}},
		{"empty value", withCamera("    codec:"),
			[]string{`cameras.yml:4: cameras[0].codec: has no value`}},
		{"binary tag", withCamera("    codec: !!binary aGk="),
			[]string{`cameras.yml:4: cameras[0].codec: unsupported tag "!!binary"`}},
		{"custom tag", withCamera("    codec: !mine copy"),
			[]string{`cameras.yml:4: cameras[0].codec: unsupported tag "!mine"`}},
		{"codec copy with fps", withCamera("    codec: copy", "    fps: 10"),
			[]string{`cameras.yml:5: cameras[0].fps: 10 cannot be used with codec copy (line 4): ffmpeg cannot filter a stream copy`}},
		{"codec copy in defaults, width on camera", withCamera("    width: 640", "defaults:", "  codec: copy"),
			[]string{`cameras.yml:4: cameras[0].width: 640 cannot be used with codec copy (line 6)`}},
		{"codec copy and fps in defaults", withCamera("defaults:", "  codec: copy", "  fps: 5"),
			[]string{`cameras.yml:6: defaults.fps: 5 cannot be used with codec copy (line 5)`}},

		// Profiles.
		{"profile, not profiles, on a camera", withCamera("    profile: {thumb: false}"),
			[]string{`cameras.yml:4: cameras[0]: unknown key "profile" (did you mean "profiles"?)`}},
		{"profile, not profiles, at the top", withCamera("profile:", "  low: {}"),
			[]string{`cameras.yml:4: unknown key "profile" (did you mean "profiles"?)`}},
		{"profils in defaults", withCamera("defaults:", "  profils: {}"),
			[]string{`cameras.yml:5: defaults: unknown key "profils" (did you mean "profiles"?)`}},
		{"profile width negative", withCamera("    profiles:", "      thumb: {width: -3}"),
			[]string{`cameras.yml:5: cameras[0].profiles.thumb.width: -3 is negative`}},
		{"profile fps negative", withCamera("profiles:", "  low: {fps: -1}"),
			[]string{`cameras.yml:5: profiles.low.fps: -1 is negative`}},
		{"profile quality too high in defaults", withCamera("defaults:", "  profiles:", "    low: {quality: 40}"),
			[]string{`cameras.yml:6: defaults.profiles.low.quality: 40 is not in 2..31`}},
		{"profile quality too low", withCamera("profiles:", "  low:", "    quality: 1"),
			[]string{`cameras.yml:6: profiles.low.quality: 1 is not in 2..31`}},
		{"profile fps not a number", withCamera("profiles:", "  low: {fps: ten}"),
			[]string{`cameras.yml:5: profiles.low.fps: "ten" is not a number`}},
		{"profile width not whole", withCamera("profiles:", "  low: {width: 640.5}"),
			[]string{`cameras.yml:5: profiles.low.width: "640.5" is not a whole number`}},
		{"profile key typo", withCamera("profiles:", "  low: {widht: 640}"),
			[]string{`cameras.yml:5: profiles.low: unknown key "widht" (did you mean "width"?)`}},
		{"camera key in a profile", withCamera("profiles:", "  low: {codec: copy}"),
			[]string{`cameras.yml:5: profiles.low: unknown key "codec" (want one of url, fps, width, quality)`}},
		{"several problems of one profile", withCamera("profiles:", "  low: {fps: -1, width: -3, quality: 1}"),
			[]string{"cameras.yml:5: profiles.low.fps: -1 is negative\ncameras.yml:5: profiles.low.width: -3 is negative\ncameras.yml:5: profiles.low.quality: 1 is not in 2..31"}},
		{"profile main", withCamera("profiles:", "  main: {width: 320}"),
			[]string{`cameras.yml:5: profiles.main: "main" names the camera's main stream and cannot be a profile`}},
		{"profile main removed", withCamera("    profiles: {main: false}"),
			[]string{`cameras.yml:4: cameras[0].profiles.main: "main" names the camera's main stream and cannot be a profile`}},
		{"profile name with capitals", withCamera("profiles:", "  Big: {width: 1920}"),
			[]string{`cameras.yml:5: profiles.Big: the name must match [a-z0-9_-]+`}},
		{"profile name with a space", withCamera("profiles:", `  "a b": {}`),
			[]string{`cameras.yml:5: profiles["a b"]: the name must match [a-z0-9_-]+`}},
		{"profile name with a newline", withCamera("profiles:", `  "a\nb": {}`),
			[]string{`cameras.yml:5: profiles["a\nb"]: the name must match [a-z0-9_-]+`}},
		{"profile name with a colon", withCamera("profiles: {z:, low: {}}"),
			[]string{`cameras.yml:4: profiles["z:"]: the name must match [a-z0-9_-]+`}},
		{"profile name is not expanded", withCamera("profiles:", "  ${X}: {}"),
			[]string{`cameras.yml:5: profiles.${X}: the name must match [a-z0-9_-]+`}},
		{"profile without value", withCamera("profiles:", "  low:"),
			[]string{`cameras.yml:5: profiles.low: must be a mapping, as {width: 640, fps: 10} ({} for the source as it is), or false to remove the profile; not empty`}},
		{"profile true", withCamera("profiles:", "  thumb: true"),
			[]string{`cameras.yml:5: profiles.thumb: must be a mapping, as {width: 640, fps: 10} ({} for the source as it is), or false to remove the profile; not true`}},
		{"profile a list", withCamera("profiles:", "  low: [640, 10]"),
			[]string{`cameras.yml:5: profiles.low: must be a mapping, as {width: 640, fps: 10} ({} for the source as it is), or false to remove the profile; not a list`}},
		{"profile a bare URL", withCamera("    profiles:", "      sub: rtsp://viewer:"+filePass+"@192.0.2.10/stream2"),
			[]string{`cameras.yml:5: cameras[0].profiles.sub: must be a mapping, as {width: 640, fps: 10} ({} for the source as it is), or false to remove the profile; not a single value`}},
		{"profiles a list", withCamera("profiles: [thumb]"),
			[]string{`cameras.yml:4: profiles: must be a mapping of profile names to profiles, as {low: {width: 640, fps: 10}, thumb: false}, not a list`}},
		{"profiles without value", withCamera("    profiles:"),
			[]string{`cameras.yml:4: cameras[0].profiles: must be a mapping of profile names to profiles, as {low: {width: 640, fps: 10}, thumb: false}, not empty`}},
		{"profiles false", withCamera("defaults:", "  profiles: false"),
			[]string{`cameras.yml:5: defaults.profiles: must be a mapping of profile names to profiles, as {low: {width: 640, fps: 10}, thumb: false}, not a single value`}},
		{"duplicate profile", withCamera("profiles:", "  low: {}", "  low: {width: 1}"),
			[]string{`cameras.yml:6: profiles: duplicate key "low" (first at line 5)`}},
		{"remove a misspelt profile", withCamera("    profiles: {thum: false}"),
			[]string{`cameras.yml:4: cameras[0].profiles.thum: there is no profile "thum" to remove (did you mean "thumb"?)`}},
		{"remove an unknown profile", withCamera("    profiles: {wall: false}"),
			[]string{`cameras.yml:4: cameras[0].profiles.wall: there is no profile "wall" to remove (inherited: thumb)`}},
		{"remove a profile twice", withCamera("    profiles: {thumb: false}", "profiles: {thumb: false}"),
			[]string{`cameras.yml:4: cameras[0].profiles.thumb: there is no profile "thumb" to remove: none is inherited here`}},
		{"profile url scheme", withCamera("    profiles:", "      sub: {url: 'ftp://viewer:"+filePass+"@192.0.2.10/'}"),
			[]string{`cameras.yml:5: cameras[0].profiles.sub.url: scheme "ftp" is not supported`}},
		{"profile url without host", withCamera("    profiles:", "      sub:", "        url: rtsp://viewer:"+filePass+"@/stream2"),
			[]string{`cameras.yml:6: cameras[0].profiles.sub.url: "rtsp://viewer:xxxxx@/stream2" has no host`}},
		{"profile url with one slash in defaults", withCamera("defaults:", "  profiles:", "    sub: {url: 'rtsp:/viewer:"+filePass+"@192.0.2.10/s'}"),
			[]string{`cameras.yml:6: defaults.profiles.sub.url: "rtsp:xxxxx@192.0.2.10/s" has no host`}},
		{"profile url password from env", withCamera("    profiles:", "      sub: {url: 'rtsp://viewer:${DOOR_PASS}@/stream2'}"),
			[]string{`cameras.yml:5: cameras[0].profiles.sub.url: "rtsp://viewer:xxxxx@/stream2" has no host`}},
		{"profile url password from env, bad escape", withCamera("    profiles:", "      sub: {url: 'rtsp://viewer:${DOOR_PASS}%zz@192.0.2.10/'}"),
			[]string{`cameras.yml:5: cameras[0].profiles.sub.url: "<unparsable url>" does not parse as a URL`}},
		{"profile url unset variable", withCamera("    profiles:", "      sub: {url: 'rtsp://viewer:${SUB_PASS}@192.0.2.10/'}"),
			[]string{`cameras.yml:5: cameras[0].profiles.sub.url: environment variable SUB_PASS is not set`}},
		{"profile url empty", withCamera("    profiles:", `      sub: {url: ""}`),
			[]string{`cameras.yml:5: cameras[0].profiles.sub.url: empty`}},
		{"profile url a mapping", withCamera("    profiles:", "      sub: {url: {"+filePass+": 1}}"),
			[]string{`cameras.yml:5: cameras[0].profiles.sub.url: must be a single value, not a mapping`}},
		{"profile problems at every level", withCamera("    profiles: {thumb: {fps: -2}}", "profiles: {low: {width: -1}}", "defaults:", "  profiles: {low: {quality: 99}}"),
			[]string{"cameras.yml:4: cameras[0].profiles.thumb.fps: -2 is negative\ncameras.yml:5: profiles.low.width: -1 is negative\ncameras.yml:7: defaults.profiles.low.quality: 99 is not in 2..31"}},

		// Cameras.
		{"no cameras key", lines("listen: ':8007'"),
			[]string{`cameras.yml:1: no "cameras"`}},
		{"empty cameras", lines("cameras: []"),
			[]string{`cameras.yml:1: cameras: no camera`}},
		{"null cameras", lines("listen: ':1'", "cameras:"),
			[]string{`cameras.yml:2: cameras: no camera`}},
		{"cameras a mapping", lines("cameras:", "  door: rtsp://h/"),
			[]string{`cameras.yml:1: cameras: must be a list of cameras, not a mapping`}},
		{"camera a URL", lines("cameras:", "  - rtsp://viewer:"+filePass+"@192.0.2.10/"),
			[]string{`cameras.yml:2: cameras[0]: must be a mapping of keys to values, not a single value`}},
		{"camera without url", lines("cameras:", "  - name: door"),
			[]string{`cameras.yml:2: cameras[0]: missing "url"`}},
		{"camera without name", lines("cameras:", "  - url: rtsp://h/"),
			[]string{`cameras.yml:2: cameras[0]: missing "name"`}},
		{"bad name", lines("cameras:", "  - name: Front Door", "    url: rtsp://h/"),
			[]string{`cameras.yml:2: cameras[0].name: "Front Door": must match [a-z0-9_-]+`}},
		{"duplicate names", withCamera("  - name: yard", "    url: rtsp://192.0.2.11/", "  - name: door", "    url: rtsp://192.0.2.12/"),
			[]string{`cameras.yml:6: cameras[2].name: duplicate camera name "door" (first at line 2)`}},

		// URLs: never the password.
		{"url scheme", lines("cameras:", "  - name: a", "    url: ftp://viewer:"+filePass+"@192.0.2.10/"),
			[]string{`cameras.yml:3: cameras[0].url: scheme "ftp" is not supported`}},
		{"url without host", lines("cameras:", "  - name: a", "    url: rtsp://viewer:"+filePass+"@/stream"),
			[]string{`cameras.yml:3: cameras[0].url: "rtsp://viewer:xxxxx@/stream" has no host`}},
		{"url with one slash", lines("cameras:", "  - name: a", "    url: rtsp:/viewer:"+filePass+"@192.0.2.10/stream"),
			[]string{`cameras.yml:3: cameras[0].url: "rtsp:xxxxx@192.0.2.10/stream" has no host`}},
		{"url without slashes", lines("cameras:", "  - name: a", "    url: rtsp:viewer:"+filePass+"@192.0.2.10/stream"),
			[]string{`cameras.yml:3: cameras[0].url: `, `has no host`}},
		{"url without scheme", lines("cameras:", "  - name: a", "    url: viewer:"+filePass+"@192.0.2.10/stream"),
			[]string{`cameras.yml:3: cameras[0].url: scheme "viewer" is not supported`}},
		{"url bad escape", lines("cameras:", "  - name: a", "    url: rtsp://viewer:"+filePass+"%zz@192.0.2.10/"),
			[]string{`cameras.yml:3: cameras[0].url: "<unparsable url>" does not parse as a URL`}},
		{"url password from env", lines("cameras:", "  - name: a", "    url: rtsp://viewer:${CAM_PASS}@/stream"),
			[]string{`cameras.yml:3: cameras[0].url: "rtsp://viewer:xxxxx@/stream" has no host`}},
		{"url empty", lines("cameras:", "  - name: a", `    url: ""`),
			[]string{`cameras.yml:3: cameras[0].url: empty`}},

		// Webcams.
		{"url a device that is no webcam", lines("cameras:", "  - name: a", "    url: /dev/sda"),
			[]string{`cameras.yml:3: cameras[0].url: "/dev/sda" is not a webcam: want /dev/videoN (N a number; the bare index N means /dev/videoN), or file:///path for a video file`}},
		{"url a file path", lines("cameras:", "  - name: a", "    url: /srv/clip.mp4"),
			[]string{`cameras.yml:3: cameras[0].url: "/srv/clip.mp4" is not a webcam`}},
		{"url /dev/video without a number", lines("cameras:", "  - name: a", "    url: /dev/video"),
			[]string{`cameras.yml:3: cameras[0].url: "/dev/video" is not a webcam`}},
		{"url a negative index", lines("cameras:", "  - name: a", "    url: -1"),
			[]string{`cameras.yml:3: cameras[0].url: "-1" has no scheme (want rtsp://, rtsps://, http://, https://, file://, or /dev/videoN for a webcam)`}},
		{"input_format on an rtsp camera", withCamera("    input_format: mjpeg"),
			[]string{`cameras.yml:4: cameras[0].input_format: only a webcam (url /dev/videoN) has input_format; this camera's url is rtsp://viewer:xxxxx@192.0.2.10:554/stream1: remove it`}},
		{"video_size and framerate on a file camera", lines("cameras:", "  - name: a", "    url: file:///srv/a.mp4", "    video_size: 640x480", "    framerate: 30"),
			[]string{"cameras.yml:4: cameras[0].video_size: only a webcam (url /dev/videoN) has video_size; this camera's url is file:///srv/a.mp4: remove it\ncameras.yml:5: cameras[0].framerate: only a webcam (url /dev/videoN) has framerate;"}},
		{"video_size not WxH", lines("cameras:", "  - name: a", "    url: /dev/video0", "    video_size: 1280"),
			[]string{`cameras.yml:4: cameras[0].video_size: "1280" is not WIDTHxHEIGHT, as 1280x720`}},
		{"video_size by name in defaults", withCamera("defaults:", "  video_size: hd720"),
			[]string{`cameras.yml:5: defaults.video_size: "hd720" is not WIDTHxHEIGHT, as 1280x720`}},
		{"input_format in capitals", lines("cameras:", "  - name: a", "    url: 0", "    input_format: MJPEG"),
			[]string{`cameras.yml:4: cameras[0].input_format: "MJPEG" is not a format name, as mjpeg or yuyv422`}},
		{"framerate 0", lines("cameras:", "  - name: a", "    url: /dev/video0", "    framerate: 0"),
			[]string{`cameras.yml:4: cameras[0].framerate: "0" is not above 0 (leave framerate out for the webcam's own rate)`}},
		{"framerate negative in defaults", withCamera("defaults:", "  framerate: -5"),
			[]string{`cameras.yml:5: defaults.framerate: "-5" is not above 0`}},
		{"framerate not a number", lines("cameras:", "  - name: a", "    url: /dev/video0", "    framerate: fast"),
			[]string{`cameras.yml:4: cameras[0].framerate: "fast" is not a number`}},
		{"framerate typo", lines("cameras:", "  - name: a", "    url: /dev/video0", "    frame_rate: 30"),
			[]string{`cameras.yml:4: cameras[0]: unknown key "frame_rate" (did you mean "framerate"?)`}},

		// Environment.
		{"unset variable", withCamera("auth:", "  username: admin", "  password: ${NVR_PASSWORD_TYPO}"),
			[]string{`cameras.yml:6: auth.password: environment variable NVR_PASSWORD_TYPO is not set`}},
		{"unset variable in url", lines("cameras:", "  - name: a", "    url: rtsp://viewer:${GATE_PASS}@192.0.2.10/"),
			[]string{`cameras.yml:3: cameras[0].url: environment variable GATE_PASS is not set`}},
		{"lone dollar", withCamera("auth:", "  username: admin", "  password: pa$word"),
			[]string{`cameras.yml:6: auth.password: "$" must start ${NAME}`}},
		{"unclosed brace", withCamera("auth:", "  username: admin", "  password: ${NVR_PASSWORD"),
			[]string{`cameras.yml:6: auth.password: "${" has no closing "}"`}},
		{"unsupported modifier", withCamera("auth:", "  username: admin", "  password: ${NVR_PASSWORD:?required}"),
			[]string{`cameras.yml:6: auth.password: ${NVR_PASSWORD...}: only ${NVR_PASSWORD} and ${NVR_PASSWORD:-default} are supported`}},
		{"bad variable name", withCamera("auth:", "  username: admin", "  password: ${1X}"),
			[]string{`cameras.yml:6: auth.password: "${" must be followed by a variable name`}},

		// Auth.
		{"auth empty", withCamera("auth:"),
			[]string{`cameras.yml:4: auth: has no value`}},
		{"auth without credentials", withCamera("auth: {}"),
			[]string{`cameras.yml:4: auth: set "username" and "password"`}},
		{"only an empty tokens list", withCamera("auth:", "  tokens: []"),
			[]string{`cameras.yml:4: auth: set "username" and "password"`}},
		{"password without username", withCamera("auth:", "  password: ${NVR_PASSWORD}"),
			[]string{`cameras.yml:4: auth: "username" is missing`}},
		{"username without password", withCamera("auth:", "  username: admin"),
			[]string{`cameras.yml:5: auth.username: needs "password" or "password_file"`}},
		{"password and password_file", withCamera("auth:", "  username: admin", "  password: "+filePass, "  password_file: /run/secrets/nvr"),
			[]string{`cameras.yml:7: auth.password_file: cannot be used with auth.password (line 6)`}},
		{"username with colon", withCamera("auth:", "  username: ad:min", "  password: ${NVR_PASSWORD}"),
			[]string{`cameras.yml:5: auth.username: must not contain ":"`}},
		{"empty password", withCamera("auth:", "  username: admin", "  password: ${NVR_PASSWORD_UNSET:-}"),
			[]string{`cameras.yml:6: auth.password: is empty`}},
		{"password a mapping", withCamera("auth:", "  username: admin", "  password: {"+filePass+": 1}"),
			[]string{`cameras.yml:6: auth.password: must be a single value, not a mapping`}},
		{"tokens not a list", withCamera("auth:", "  tokens: "+token),
			[]string{`cameras.yml:5: auth.tokens: must be a list`}},
		{"empty token", withCamera("auth:", "  tokens:", `    - "${DASH_TOKEN}"`, `    - ""`),
			[]string{`cameras.yml:7: auth.tokens[1]: is empty`}},

		// HTTP settings.
		{"listen without port", withCamera("listen: 8007"),
			[]string{`cameras.yml:4: listen: "8007" is not host:port`}},
		{"listen bad port", withCamera("listen: ':99999'"),
			[]string{`cameras.yml:4: listen: port "99999" is not a number in 0..65535`}},
		{"write_timeout", withCamera("write_timeout: fast"),
			[]string{`cameras.yml:4: write_timeout: "fast" is not a duration`}},
		{"snapshot_timeout zero", withCamera("snapshot_timeout: 0s"),
			[]string{`cameras.yml:4: snapshot_timeout: must be positive`}},
		{"max_age a mapping", withCamera("max_age: {s: 1}"),
			[]string{`cameras.yml:4: max_age: must be a single value, not a mapping`}},

		// The file as a whole.
		{"empty file", "", []string{`cameras.yml: the file is empty`}},
		{"only comments", "# nothing yet\n", []string{`cameras.yml: the file is empty`}},
		{"only a null", "~\n", []string{`cameras.yml: the file is empty`}},
		{"plain text", "hello world\n",
			[]string{`cameras.yml:1: must be a mapping of keys to values, not a single value`}},
		{"top-level list", lines("- name: a", "  url: rtsp://h/"),
			[]string{`cameras.yml:1: must be a mapping of keys to values, not a list`}},
		{"second document", withCamera("---", "cameras: []"),
			[]string{`cameras.yml:4: a second YAML document ("---") is not supported`}},
		{"bad indentation", lines("cameras:", "  - name: a", "    url: rtsp://h/", "   fps: 3"),
			[]string{`cameras.yml:4: not valid YAML: did not find expected '-' indicator`}},
		{"bad indentation of a key", lines("listen: ':8007'", "cameras:", "  - name: a", "    url: rtsp://h/", "      fps: 3"),
			[]string{`cameras.yml:5: not valid YAML: mapping values are not allowed in this context`}},
		{"key: value: value on line 1", lines("cameras: name: a"),
			[]string{`cameras.yml:1: not valid YAML: mapping values are not allowed in this context`}},
		{"bad indentation after a multi-line flow list", lines("auth:", "  tokens: [a,", "    b]", "cameras:", "  - name: a", "    url: rtsp://h/", "  fps: 3"),
			[]string{`cameras.yml:7: not valid YAML: did not find expected '-' indicator`}},
		{"tab", lines("cameras:", "\t- name: a"),
			[]string{`cameras.yml:2: not valid YAML: found character that cannot start any token`}},
		{"unclosed quote", withCamera(`listen: ":8007`),
			[]string{`cameras.yml:4: not valid YAML: found unexpected end of stream`}},
		{"unclosed flow list", withCamera("auth:", "  tokens: [a, b", "listen: ':1'"),
			[]string{`cameras.yml:5: not valid YAML: did not find expected ',' or ']'`}},
		{"control character", withCamera("listen: \"\x01\""),
			[]string{`cameras.yml:4: not valid YAML: control characters are not allowed`}},
		{"not UTF-8", withCamera("listen: \xff\xfe"),
			[]string{`cameras.yml:4: not valid YAML: invalid leading UTF-8 octet`}},
		{"unknown anchor", withCamera("    fps: *rate"),
			[]string{`cameras.yml:4: not valid YAML: unknown anchor 'rate' referenced`}},

		// Several problems at once, in file order.
		{"several", lines("cameras:", "  - name: a", "    url: rtsp://h/", "    fps: x", "  - name: b", "    url: rtsp://h/", "    width: y", "bogus: 1"),
			[]string{"cameras.yml:4: cameras[0].fps: \"x\" is not a number\ncameras.yml:7: cameras[1].width: \"y\" is not a whole number\ncameras.yml:8: unknown key \"bogus\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("cameras.yml", []byte(tt.file), testEnv)
			if err == nil {
				t.Fatalf("Parse succeeded (%+v); want an error with %q", f, tt.want)
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, w)
				}
			}
			for _, s := range []string{filePass, envPass, authPass, token} {
				if strings.Contains(msg, s) {
					t.Errorf("error shows the secret %q:\n%s", s, msg)
				}
			}
			for _, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, "cameras.yml:") {
					t.Errorf("error line %q does not start with the file", line)
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.Path != "cameras.yml" {
				t.Errorf("errors.As(*Error) = %+v", e)
			}
		})
	}
}

func TestSyntaxErrorInLargeFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("cameras:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "  - name: cam%d\n    url: rtsp://192.0.2.1/%d\n", i, i)
		if i == 2500 {
			b.WriteString("   fps: 3\n") // line 2+2500*2+2 = 5004
		}
	}
	start := time.Now()
	_, err := Parse("cameras.yml", []byte(b.String()), nil)
	want := "cameras.yml:5004: not valid YAML: did not find expected '-' indicator"
	if err == nil || err.Error() != want {
		t.Errorf("Parse = %v, want %s", err, want)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Parse took %v", el)
	}
}

func camera(name, url string, edit func(*pipeline.CameraConfig)) pipeline.CameraConfig {
	c := pipeline.DefaultCameraConfig(name, url)
	if edit != nil {
		edit(&c)
	}
	return c
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want *File
	}{
		{"one camera, all defaults", lines("cameras:", "  - name: door", "    url: rtsp://192.0.2.10/s"),
			nil, &File{Cameras: []pipeline.CameraConfig{camera("door", "rtsp://192.0.2.10/s", nil)}}},
		{"defaults, then the camera's own keys",
			lines(
				"defaults:",
				"  fps: 5",
				"  quality: 10",
				"  on_demand: true",
				"  idle_timeout: 1m",
				"  rtsp_transport: udp",
				"cameras:",
				"  - name: door",
				"    url: rtsp://192.0.2.10/s",
				"  - name: yard_2",
				"    url: rtsps://192.0.2.11/s",
				"    fps: 0.5",
				"    width: 640",
				"    on_demand: false",
				"    codec: mjpeg",
				"  - name: gate",
				"    url: rtsp://192.0.2.12/s",
				"    fps: 0",
				"    codec: copy",
			), nil, &File{Cameras: []pipeline.CameraConfig{
				camera("door", "rtsp://192.0.2.10/s", func(c *pipeline.CameraConfig) {
					c.FPS, c.Quality, c.OnDemand, c.IdleTimeout, c.RTSPTransport = 5, 10, true, time.Minute, "udp"
				}),
				camera("yard_2", "rtsps://192.0.2.11/s", func(c *pipeline.CameraConfig) {
					c.FPS, c.Width, c.Quality, c.IdleTimeout, c.RTSPTransport, c.Codec = 0.5, 640, 10, time.Minute, "udp", "mjpeg"
				}),
				camera("gate", "rtsp://192.0.2.12/s", func(c *pipeline.CameraConfig) {
					c.Quality, c.OnDemand, c.IdleTimeout, c.RTSPTransport, c.Codec = 10, true, time.Minute, "udp", "copy"
				}),
			}}},
		{"durations as Go durations and as seconds",
			lines(
				"write_timeout: 15",
				"snapshot_timeout: 2.5",
				"max_age: 500ms",
				"defaults:",
				"  stall_timeout: 2",
				"cameras:",
				"  - name: a",
				"    url: file:///tmp/a.mjpeg",
				"    idle_timeout: 1m30s",
				"    start_timeout: 0.25",
			), nil, &File{WriteTimeout: 15 * time.Second, SnapshotTimeout: 2500 * time.Millisecond, MaxAge: 500 * time.Millisecond,
				Cameras: []pipeline.CameraConfig{camera("a", "file:///tmp/a.mjpeg", func(c *pipeline.CameraConfig) {
					c.StallTimeout, c.IdleTimeout, c.StartTimeout = 2*time.Second, 90*time.Second, 250*time.Millisecond
				})}}},
		{"quoted numbers", lines("cameras:", "  - name: a", "    url: rtsp://h/", `    fps: "2"`, `    width: '320'`, `    on_demand: "true"`),
			nil, &File{Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/", func(c *pipeline.CameraConfig) {
				c.FPS, c.Width, c.OnDemand = 2, 320, true
			})}}},
		{"${VAR} expansion",
			lines(
				"listen: ${ADDR:-:8007}",
				"auth:",
				"  username: ${USER_NAME:-admin}",
				"  password: ${NVR_PASSWORD}",
				"  tokens:",
				"    - ${DASH_TOKEN}",
				`    - "pre-$${literal}-${DASH_TOKEN}"`,
				"defaults:",
				"  fps: ${FPS:-4}",
				"  codec: ${CODEC}",
				"cameras:",
				"  - name: ${NAME}",
				"    url: rtsp://viewer:${DOOR_PASS}@192.0.2.10:554/stream1",
			),
			map[string]string{
				"NVR_PASSWORD": `p@ss: #{x} [y] "q" 'r' & *a !b | > % $HOME`, // YAML-special, left alone
				"DASH_TOKEN":   "t0k",
				"CODEC":        "mjpeg",
				"NAME":         "door",
				"DOOR_PASS":    "d%40or", // percent-encoded in the URL, as it must be
				"USER_NAME":    "",       // empty counts as unset: the default applies
			},
			&File{
				Listen: ":8007",
				Auth:   &Auth{Username: "admin", Password: `p@ss: #{x} [y] "q" 'r' & *a !b | > % $HOME`, Tokens: []string{"t0k", "pre-${literal}-t0k"}},
				Cameras: []pipeline.CameraConfig{camera("door", "rtsp://viewer:d%40or@192.0.2.10:554/stream1", func(c *pipeline.CameraConfig) {
					c.FPS, c.Codec = 4, "mjpeg"
				})},
			}},
		{"a set variable wins over its default", lines("listen: ${ADDR:-:8007}", "cameras:", "  - {name: a, url: 'rtsp://h/'}"),
			map[string]string{"ADDR": "127.0.0.1:9000"},
			&File{Listen: "127.0.0.1:9000", Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/", nil)}}},
		{"password_file relative to the config file, tokens only",
			lines("auth:", "  username: admin", "  password_file: secrets/nvr", "cameras:", "  - {name: a, url: 'rtsp://h/'}"),
			nil, &File{Auth: &Auth{Username: "admin", PasswordFile: filepath.Join("conf", "secrets", "nvr")},
				Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/", nil)}}},
		{"DESIGN.md's unquoted ${VAR} in a flow list", lines("auth:", "  tokens: [${DASH_TOKEN}, x${B:-b}y]", "cameras:", "  - {name: a, url: 'rtsp://h/${P:-p}'}"),
			map[string]string{"DASH_TOKEN": "t"},
			&File{Auth: &Auth{Tokens: []string{"t", "xby"}}, Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/p", nil)}}},
		{"viewer caps, 0 for none", lines("max_viewers: 0", "max_viewers_per_camera: 20", "cameras:", "  - {name: a, url: 'rtsp://h/'}"),
			nil, &File{MaxViewers: -1, MaxViewersPerCamera: 20, Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/", nil)}}},
		{"tokens only", lines("auth:", `  tokens: ["${DASH_TOKEN}"]`, "cameras:", "  - {name: a, url: 'rtsp://h/'}"),
			map[string]string{"DASH_TOKEN": "t"},
			&File{Auth: &Auth{Tokens: []string{"t"}}, Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/", nil)}}},
		{"a password of digits needs no quotes", lines("auth:", "  username: admin", "  password: 0123", "cameras:", "  - {name: a, url: 'rtsp://h/'}"),
			nil, &File{Auth: &Auth{Username: "admin", Password: "0123"}, Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/", nil)}}},
		{"anchors and aliases", lines("cameras:", "  - name: a", "    url: rtsp://h/a", "    fps: &rate 2", "  - name: b", "    url: rtsp://h/b", "    fps: *rate"),
			nil, &File{Cameras: []pipeline.CameraConfig{
				camera("a", "rtsp://h/a", func(c *pipeline.CameraConfig) { c.FPS = 2 }),
				camera("b", "rtsp://h/b", func(c *pipeline.CameraConfig) { c.FPS = 2 }),
			}}},
		{"empty defaults", lines("defaults:", "cameras:", "  - {name: a, url: 'rtsp://h/'}"),
			nil, &File{Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/", nil)}}},
		{"webcams: the bare index, /dev/videoN, their keys; defaults' webcam keys skip other cameras",
			lines(
				"defaults:",
				"  input_format: mjpeg",
				"  framerate: 15",
				"cameras:",
				"  - name: desk",
				"    url: 0",
				"  - name: door",
				"    url: rtsp://192.0.2.10/s",
				"  - name: lab",
				"    url: /dev/video2",
				"    input_format: yuyv422",
				"    video_size: 640x480",
				"    framerate: 7.5",
				"    profiles: {sub: {url: 3}}",
			), nil, &File{Cameras: []pipeline.CameraConfig{
				camera("desk", "/dev/video0", func(c *pipeline.CameraConfig) { c.InputFormat, c.Framerate = "mjpeg", 15 }),
				camera("door", "rtsp://192.0.2.10/s", nil),
				camera("lab", "/dev/video2", func(c *pipeline.CameraConfig) {
					c.InputFormat, c.VideoSize, c.Framerate = "yuyv422", "640x480", 7.5
					c.Profiles = append(c.Profiles, pipeline.ProfileConfig{Name: "sub", URL: "/dev/video3"})
				}),
			}}},
		{"codec copy with fps 0 and a defaults fps", lines("defaults: {fps: 5}", "cameras:", "  - {name: a, url: 'rtsp://h/', codec: copy, width: 0}"),
			nil, &File{Cameras: []pipeline.CameraConfig{camera("a", "rtsp://h/", func(c *pipeline.CameraConfig) { c.FPS, c.Codec = 5, "copy" })}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("conf", "cameras.yml")
			got, err := Parse(path, []byte(tt.file), env(tt.env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.want.Path = path
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
				if got.Auth != nil && tt.want.Auth != nil {
					t.Errorf("auth %+v, want %+v", *got.Auth, *tt.want.Auth)
				}
			}
		})
	}
}

func TestExample(t *testing.T) {
	path := filepath.Join("testdata", "example.yml")
	f, err := Load(path, testEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &File{
		Path:   path,
		Listen: ":8007",
		Auth:   &Auth{Username: "admin", Password: authPass, Tokens: []string{token}},
		Cameras: []pipeline.CameraConfig{camera("door", "rtsp://viewer:"+envPass+"@192.0.2.10:554/stream1", func(c *pipeline.CameraConfig) {
			c.FPS, c.Width = 10, 1280
		})},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", f, want)
	}

	_, err = Load(path, env(map[string]string{"NVR_PASSWORD": authPass, "DASH_TOKEN": token}))
	if err == nil || err.Error() != path+":21: cameras[0].url: environment variable DOOR_PASS is not set (or is empty); write ${DOOR_PASS:-default} for a default" {
		t.Errorf("without DOOR_PASS: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yml")
	_, err := Load(missing, testEnv)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != missing+": cannot read: no such file or directory" {
		t.Errorf("Load(missing) = %v", err)
	}
	_, err = Load(dir, testEnv)
	if err == nil || !strings.HasPrefix(err.Error(), dir+": cannot read: ") {
		t.Errorf("Load(dir) = %v", err)
	}
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte(withCamera("    fps: ten")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad, testEnv)
	if err == nil || err.Error() != bad+`:4: cameras[0].fps: "ten" is not a number` {
		t.Errorf("Load(bad) = %v", err)
	}
}

func TestGetenvNil(t *testing.T) {
	t.Setenv("RTSP2MJPEG_TEST_ADDR", "127.0.0.1:1234")
	f, err := Parse("c.yml", []byte(lines("listen: ${RTSP2MJPEG_TEST_ADDR}", "cameras: [{name: a, url: 'rtsp://h/'}]")), nil)
	if err != nil || f.Listen != "127.0.0.1:1234" {
		t.Errorf("Parse = %+v, %v", f, err)
	}
}
