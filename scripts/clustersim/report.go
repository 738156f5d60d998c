package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// printer writes the report as markdown.
type printer struct{ w io.Writer }

func (p printer) f(format string, a ...any) { fmt.Fprintf(p.w, format+"\n", a...) }

// row writes one markdown table row.
func (p printer) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	p.f("| %s |", strings.Join(s, " | "))
}

// header writes a table's header and separator.
func (p printer) header(cells ...string) {
	p.f("")
	p.f("| %s |", strings.Join(cells, " | "))
	p.f("|%s", strings.Repeat("---|", len(cells)))
}

// pct returns the q-quantile of sorted d (nearest rank), or 0.
func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// dist formats p50/p99/max of d.
func dist(d []time.Duration) string {
	if len(d) == 0 {
		return "—"
	}
	d = slices.Clone(d)
	slices.Sort(d)
	r := func(x time.Duration) string { return x.Round(time.Millisecond).String() }
	return fmt.Sprintf("p50 %s, p99 %s, max %s", r(pct(d, 0.5)), r(pct(d, 0.99)), r(d[len(d)-1]))
}

// heldWord is the result word of a target.
func heldWord(ok bool) string {
	if ok {
		return "held"
	}
	return "NOT held"
}

// result is what a simulation found.
type result struct {
	failures []string // must-hold properties that failed
	missed   []string // timing targets missed
}

func (r *result) fail(format string, a ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, a...))
}
