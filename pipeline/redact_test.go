package pipeline

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rtsp://viewer:secret@192.0.2.10:554/stream1", "rtsp://viewer:xxxxx@192.0.2.10:554/stream1"},
		{"rtsp://192.0.2.10:554/stream1", "rtsp://192.0.2.10:554/stream1"},
		{"rtsp://viewer@192.0.2.10/x", "rtsp://viewer@192.0.2.10/x"},
		{"rtsp://a:p%40ss@h/x", "rtsp://a:xxxxx@h/x"},
		{"rtsp://a:b@h:bad port/x", "<unparsable url>"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactorMasksEveryForm(t *testing.T) {
	r := NewRedactor("rtsp://viewer:p%40ss%20w@192.0.2.10/x")
	for _, line := range []string{
		"rtsp://viewer:p@ss w@192.0.2.10/x: 401 Unauthorized",
		"Did you mean file:rtsp://viewer:p%40ss%20w@192.0.2.10/x?",
		"rtsp://viewer:p%40ss+w@192.0.2.10/x",
	} {
		got := r.Redact(line)
		for _, secret := range []string{"p@ss w", "p%40ss%20w", "p%40ss+w"} {
			if strings.Contains(got, secret) {
				t.Errorf("Redact(%q) = %q still holds %q", line, got, secret)
			}
		}
	}
	if got := NewRedactor("rtsp://h/x").Redact("abc"); got != "abc" {
		t.Errorf("no-password redactor changed text: %q", got)
	}
}
