package main

import (
	"strings"
	"testing"
)

func TestStats(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
	var xs []float64
	for i := 1; i <= 200; i++ {
		xs = append(xs, float64(i))
	}
	if p := percentile(xs, 0.99); p != 198 {
		t.Errorf("p99 of 1..200 = %v", p)
	}
}

// A failed column shows why, loudly, and gives no ratio.
func TestRowFailureAndRatio(t *testing.T) {
	r := newRow("stdout", "MB/s", 0)
	r.cell(colOurs).vals = []float64{100, 90, 110}
	r.cell(colUpstream).vals = []float64{50}
	if got := r.ratio(colOurs, colUpstream); got != "2.00×" {
		t.Errorf("ratio = %q", got)
	}
	if got := r.format(r.cells[colOurs]); got != "100 [90–110]" {
		t.Errorf("format = %q", got)
	}
	r.fail(colUpstream, "the session reported success but delivered 1 of 2 bytes")
	if got := r.format(r.cells[colUpstream]); !strings.HasPrefix(got, "FAILED: ") {
		t.Errorf("failed cell reads %q", got)
	}
	if got := r.ratio(colOurs, colUpstream); got != "" {
		t.Errorf("ratio with a failed column = %q", got)
	}
	var tb table
	tb.section("s")
	tb.add(r)
	if ours, up := tb.failures(); len(ours) != 0 || len(up) != 1 {
		t.Errorf("failures: ours %q, upstream %q", ours, up)
	}
}
