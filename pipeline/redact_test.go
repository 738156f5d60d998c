package pipeline

import (
	"net/url"
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
		{"rtsp:/user:pa55@h/x", "rtsp:xxxxx@h/x"},
		{"rtsp:user:pa55@h/x", "rtsp:xxxxx@h/x"},
		{"user:pa55@h/x", "user:xxxxx@h/x"},
		{"rtsp://h/a@b", "rtsp://h/a@b"},
		{"http://127.0.0.1:8007/cameras/x/video?token=s3cret&profile=thumb", "http://127.0.0.1:8007/cameras/x/video?token=xxxxx&profile=thumb"},
		{"http://cam/videostream.cgi?user=admin&PWD=hunter2", "http://cam/videostream.cgi?user=admin&PWD=xxxxx"},
		{"http://u:p@cam/snapshot.cgi?pass=x%26y&res=1", "http://u:xxxxx@cam/snapshot.cgi?pass=xxxxx&res=1"},
		{"http://cam/x?tokenish=1&key=", "http://cam/x?tokenish=1&key="},
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
	q := NewRedactor("http://h/video?token=t%2Bk3n&user=admin&pwd=hunter2")
	got := q.Redact(`GET http://h/video?token=t%2Bk3n: 401 (token "t+k3n", pwd hunter2)`)
	for _, secret := range []string{"t%2Bk3n", "t+k3n", "hunter2"} {
		if strings.Contains(got, secret) {
			t.Errorf("query secrets: %q still holds %q", got, secret)
		}
	}
	if got := NewRedactor("rtsp://h/x").Redact("abc"); got != "abc" {
		t.Errorf("no-password redactor changed text: %q", got)
	}
}

// FuzzRedactURL checks that a password never survives masking, in the URL
// and in text that quotes it, whatever the URL looks like.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{
		"rtsp://viewer:secret@192.0.2.10:554/stream1",
		"rtsp://a:p%40ss@h/x",
		"rtsp:/user:pa55@h/x",
		"rtsp://u:p@ss@h/x",
		"http://u:%zz@h/",
		"rtsps://:pw@[::1]:322/a?b=c#d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			return
		}
		pass, ok := u.User.Password()
		// A short password, or one of hex digits, may be made by chance from
		// the rest of the URL as it is re-escaped: only distinctive ones.
		if !ok || len(pass) < 8 || strings.Trim(pass, "0123456789abcdefABCDEF%") == "" {
			return
		}
		if strings.Contains(strings.ToLower(strings.Replace(raw, u.User.String(), "", 1)), strings.ToLower(pass)) {
			return
		}
		// The password may also appear outside the userinfo by chance.
		rest := u.Scheme + u.Host + u.Path + u.EscapedPath() + u.RawQuery + u.Fragment + u.EscapedFragment() + u.User.Username()
		if strings.Contains(rest, pass) || strings.Contains(rest, url.QueryEscape(pass)) || strings.Contains("xxxxx", pass) {
			return
		}
		// The userinfo is what must be masked: the rest of the URL comes
		// back re-escaped and may hold the same digits by chance.
		got := RedactURL(raw)
		if at := strings.LastIndexByte(got, '@'); at >= 0 {
			got = got[:at]
		}
		if strings.Contains(got, pass) {
			t.Fatalf("RedactURL(%q) = %q keeps the password", raw, got)
		}
		line := "ffmpeg: " + raw + ": 401 Unauthorized (" + pass + ")"
		if got := NewRedactor(raw).Redact(line); strings.Contains(got, pass) {
			t.Fatalf("Redact(%q) = %q keeps the password", line, got)
		}
	})
}

// The access log's cases (httpapi masks request URLs with RedactQuery).
func TestRedactQueryTokens(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"fps=5", "fps=5"},
		{"token=abc", "token=xxxxx"},
		{"fps=5&token=abc&max_age=2s", "fps=5&token=xxxxx&max_age=2s"},
		{"token=a&token=b", "token=xxxxx&token=xxxxx"},
		{"%74oken=abc", "%74oken=xxxxx"},
		{"tokens=abc", "tokens=abc"},
		{"x=token", "x=token"},
	}
	for _, tt := range tests {
		if got := RedactQuery(tt.in); got != tt.want {
			t.Errorf("RedactQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
