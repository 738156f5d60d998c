package config

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

type profiles = []pipeline.ProfileConfig

var thumb = pipeline.DefaultProfiles()[0]

func TestProfiles(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want []profiles // of each camera, in file order
	}{
		{"the built-in thumb without config", lines("cameras:", "  - {name: a, url: 'rtsp://h/'}"),
			nil, []profiles{{thumb}}},
		{"every level, a lower one replacing a whole profile",
			lines(
				"profiles:",
				"  thumb: {width: 320, fps: 5, quality: 7}",
				"  low: {width: 640, fps: 10}",
				"defaults:",
				"  profiles:",
				"    low: {width: 800}", // fps 0: nothing of the top-level low is kept
				"cameras:",
				"  - name: door",
				"    url: rtsp://viewer:${DOOR_PASS}@192.0.2.10/stream1",
				"    profiles:",
				`      thumb: {url: "rtsp://viewer:${DOOR_PASS}@192.0.2.10/stream2", width: 320}`,
				"      low: false",
				"  - name: yard",
				"    url: rtsp://192.0.2.11/stream1",
			),
			map[string]string{"DOOR_PASS": "pw"},
			[]profiles{
				{{Name: "thumb", URL: "rtsp://viewer:pw@192.0.2.10/stream2", Width: 320}},
				{thumb, {Name: "low", Width: 800}},
			}},
		{"a replaced profile keeps its place, new ones follow in file order",
			lines(
				"profiles:",
				"  a: {}",
				"  b: {fps: 1}",
				"cameras:",
				"  - name: cam",
				"    url: rtsp://h/",
				"    profiles:",
				"      b: {width: 2}",
				"      c: {quality: 9}",
				"      thumb: {fps: 1}",
				"      a: false",
			),
			nil, []profiles{{{Name: "thumb", FPS: 1}, {Name: "b", Width: 2}, {Name: "c", Quality: 9}}}},
		{"false removes the built-in thumb from one camera",
			lines("cameras:", "  - {name: a, url: 'rtsp://h/a', profiles: {thumb: false}}", "  - {name: b, url: 'rtsp://h/b'}"),
			nil, []profiles{nil, {thumb}}},
		{"removed above, defined again below: last",
			lines("profiles: {thumb: false, low: {width: 640}}", "cameras:", "  - {name: a, url: 'rtsp://h/', profiles: {thumb: {}}}"),
			nil, []profiles{{{Name: "low", Width: 640}, {Name: "thumb"}}}},
		{"removed in defaults",
			lines("defaults: {profiles: {thumb: false}}", "cameras:", "  - {name: a, url: 'rtsp://h/'}"),
			nil, []profiles{nil}},
		{"empty profiles mappings change nothing",
			lines("profiles: {}", "defaults:", "  profiles: {}", "cameras:", "  - {name: a, url: 'rtsp://h/', profiles: {}}"),
			nil, []profiles{{thumb}}},
		{"width and fps of a profile on a codec copy camera",
			lines("cameras:", "  - name: a", "    url: rtsp://h/", "    codec: copy", "    profiles:", "      thumb: {width: 160, fps: 2}", "      sub: {url: 'rtsp://h/2', width: 0}"),
			nil, []profiles{{{Name: "thumb", Width: 160, FPS: 2}, {Name: "sub", URL: "rtsp://h/2"}}}},
		{"${VAR}, quoted numbers, anchors and aliases",
			lines(
				"profiles:",
				"  low: &low {fps: '${LOW_FPS:-2.5}', width: '640', quality: \"31\"}",
				"cameras:",
				"  - name: a",
				"    url: rtsp://h/",
				"    profiles:",
				"      wall: *low",
				"      sub: {url: 'rtsps://${SUB_USER:-viewer}:${DOOR_PASS}@192.0.2.10/s2'}",
				"      still: {url: 'http://192.0.2.10/snap.jpg', quality: 2}",
				"      file: {url: 'file:///tmp/a.mjpeg'}",
			),
			map[string]string{"DOOR_PASS": "p%40ss"},
			[]profiles{{
				thumb,
				{Name: "low", FPS: 2.5, Width: 640, Quality: 31},
				{Name: "wall", FPS: 2.5, Width: 640, Quality: 31},
				{Name: "sub", URL: "rtsps://viewer:p%40ss@192.0.2.10/s2"},
				{Name: "still", URL: "http://192.0.2.10/snap.jpg", Quality: 2},
				{Name: "file", URL: "file:///tmp/a.mjpeg"},
			}}},
		{"explicit zeros", lines("cameras:", "  - {name: a, url: 'rtsp://h/', profiles: {thumb: {fps: 0, width: 0, quality: 0}}}"),
			nil, []profiles{{{Name: "thumb"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("cameras.yml", []byte(tt.file), env(tt.env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(f.Cameras) != len(tt.want) {
				t.Fatalf("%d cameras, want %d", len(f.Cameras), len(tt.want))
			}
			for i, c := range f.Cameras {
				if !reflect.DeepEqual(c.Profiles, tt.want[i]) {
					t.Errorf("camera %q: Profiles =\n%+v\nwant\n%+v", c.Name, c.Profiles, tt.want[i])
				}
			}
		})
	}
}

// TestProfilesNotShared checks that cameras do not share the backing array
// of an inherited list, so a caller may edit one camera's profiles.
func TestProfilesNotShared(t *testing.T) {
	f, err := Parse("c.yml", []byte(lines("profiles: {low: {}}", "cameras:", "  - {name: a, url: 'rtsp://h/a'}", "  - {name: b, url: 'rtsp://h/b'}")), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Cameras[0].Profiles[0].Width = 1
	if w := f.Cameras[1].Profiles[0].Width; w != thumb.Width {
		t.Errorf("editing camera a's thumb changed b's: width %d", w)
	}
}

func TestProfilesExample(t *testing.T) {
	path := filepath.Join("testdata", "profiles.yml")
	f, err := Load(path, testEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &File{
		Path: path,
		Cameras: []pipeline.CameraConfig{
			camera("door", "rtsp://viewer:"+envPass+"@192.0.2.10/stream1", func(c *pipeline.CameraConfig) {
				c.Profiles = profiles{{Name: "thumb", URL: "rtsp://viewer:" + envPass + "@192.0.2.10/stream2", Width: 320}}
			}),
			camera("yard", "rtsp://192.0.2.11/stream1", func(c *pipeline.CameraConfig) {
				c.Profiles = profiles{thumb, {Name: "low", Width: 800}}
			}),
			camera("gate", "rtsp://192.0.2.12/stream1", func(c *pipeline.CameraConfig) {
				c.Codec = pipeline.CodecCopy
				c.Profiles = profiles{{Name: "low", Width: 800}, {Name: "wall", Width: 480, FPS: 2}}
			}),
		},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", f, want)
	}
}
