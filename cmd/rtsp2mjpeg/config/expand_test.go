package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	getenv := env(map[string]string{"A": "alpha", "B_2": "$B", "EMPTY": ""})
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x${A}y${A}z", want: "xalphayalphaz"},
		{in: "${B_2}", want: "$B"}, // not expanded again
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "a$$$${A}", want: "a$${A}"},
		{in: "${UNSET:-dflt}", want: "dflt"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${A:-dflt}", want: "alpha"},
		{in: "${UNSET:-}", want: ""},
		{in: "${UNSET:-a:-b $x}", want: "a:-b $x"}, // the default is taken as written
		{in: "${UNSET}", err: "environment variable UNSET is not set"},
		{in: "${EMPTY}", err: "environment variable EMPTY is not set (or is empty)"},
		{in: "$", err: `"$" must start ${NAME}`},
		{in: "a$b", err: `"$" must start ${NAME}`},
		{in: "${A", err: `"${" has no closing "}"`},
		{in: "${}", err: `"${" must be followed by a variable name`},
		{in: "${-x}", err: `"${" must be followed by a variable name`},
		{in: "${9}", err: `"${" must be followed by a variable name`},
		{in: "${A-x}", err: "only ${A} and ${A:-default} are supported"},
		{in: "${A:?x}", err: "only ${A} and ${A:-default} are supported"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expand(tt.in, getenv)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("expand(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
				}
			case err != nil || got != tt.want:
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"30s": "30s", "500ms": "500ms", "1m": "1m0s", "30": "30s", "0.5": "500ms", "1e3": "16m40s"} {
		d, err := parseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "ten", "30 s", "NaN", "Inf", "1e20", "9999999999h"} {
		if d, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, d)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"name", "url", "fps", "width"}
	for key, want := range map[string]string{
		"fsp":   ` (did you mean "fps"?)`,
		"nmae":  ` (did you mean "name"?)`,
		"URL":   " (want one of name, url, fps, width)",
		"widht": ` (did you mean "width"?)`,
		"x":     " (want one of name, url, fps, width)",
	} {
		if got := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}
