package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no file makes Parse panic, that what it accepts is
// valid, and that every line of an error names the file. The seed corpus
// is testdata/example.yml, testdata/profiles.yml and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.yml", "profiles.yml"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(withCamera("defaults: {fps: 2, codec: copy}", "auth: {username: a, password: ${X:-b}}")))
	f.Fuzz(func(t *testing.T, data []byte) {
		getenv := func(k string) string {
			if strings.HasPrefix(k, "UNSET") {
				return ""
			}
			return "v-" + k
		}
		cfg, err := Parse("c.yml", data, getenv)
		if err != nil {
			if cfg != nil {
				t.Errorf("Parse returned a file and an error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "c.yml:") {
					t.Errorf("error line %q does not start with the file", line)
				}
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %v is not an *Error", err)
			}
			return
		}
		if len(cfg.Cameras) == 0 {
			t.Fatalf("no camera and no error")
		}
		names := map[string]bool{}
		for _, c := range cfg.Cameras {
			if err := c.Validate(); err != nil {
				t.Errorf("camera %q accepted but invalid: %v", c.Name, err)
			}
			if names[c.Name] {
				t.Errorf("camera name %q accepted twice", c.Name)
			}
			names[c.Name] = true
		}
		if cfg.Auth != nil && cfg.Auth.Username == "" && len(cfg.Auth.Tokens) == 0 {
			t.Errorf("auth accepted without credentials: %+v", cfg.Auth)
		}
		if cfg.WriteTimeout < 0 || cfg.SnapshotTimeout < 0 || cfg.MaxAge < 0 {
			t.Errorf("negative timeouts accepted: %+v", cfg)
		}
	})
}
