package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// The table: one row per figure, one column per chain, with the median of
// the repetitions and their spread (min–max), and the ratios ours/upstream
// and ours/limit.

// Column names, in the table's order.
const (
	colOurs       = "ours"
	colUpstream   = "upstream"    // commands in their own session, as ours
	colUpstreamRT = "upstream-rt" // commands in the runtime's session
	colLimit      = "limit"
)

// cell is one column's figure in a row.
type cell struct {
	// vals has one figure per repetition.
	vals []float64
	// mid, when set, is the headline figure instead of the median of vals
	// (a latency's median over all its samples).
	mid *float64
	// p99, when set, is a latency's 99th percentile over all its samples.
	p99 *float64
	// text replaces the figure: why there is none, or what failed.
	text   string
	failed bool
}

func (c *cell) median() float64 {
	if c.mid != nil {
		return *c.mid
	}
	return median(c.vals)
}

func (c *cell) ok() bool { return c != nil && !c.failed && len(c.vals) > 0 }

// row is one figure for every column.
type row struct {
	// harness marks a row that checks the benchmark itself: any column
	// failing there fails the run.
	harness bool
	name    string
	unit    string
	// prec is the number of decimals to show.
	prec  int
	cells map[string]*cell
}

func newRow(name, unit string, prec int) *row {
	return &row{name: name, unit: unit, prec: prec, cells: map[string]*cell{}}
}

func (r *row) cell(col string) *cell {
	c, ok := r.cells[col]
	if !ok {
		c = &cell{}
		r.cells[col] = c
	}
	return c
}

// none says why a column has no figure.
func (r *row) none(col, why string) { r.cells[col] = &cell{text: "— " + why} }

// fail marks a column failed, with why.
func (r *row) fail(col, why string) {
	c := r.cell(col)
	c.failed = true
	if c.text == "" {
		c.text = "FAILED: " + why
	}
}

func (r *row) format(c *cell) string {
	switch {
	case c == nil:
		return ""
	case c.failed || (c.text != "" && len(c.vals) == 0):
		return c.text
	case len(c.vals) == 0:
		return ""
	}
	s := r.num(c.median())
	if c.p99 != nil {
		s += " (p99 " + r.num(*c.p99) + ")"
	}
	if len(c.vals) > 1 {
		s += " [" + r.num(slices.Min(c.vals)) + "–" + r.num(slices.Max(c.vals)) + "]"
	}
	if c.text != "" {
		s += " " + c.text
	}
	return s
}

func (r *row) num(v float64) string { return fmt.Sprintf("%.*f", r.prec, v) }

// ratio is a/b of two columns' headline figures, or empty.
func (r *row) ratio(a, b string) string {
	ca, cb := r.cells[a], r.cells[b]
	if !ca.ok() || !cb.ok() || cb.median() == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", ca.median()/cb.median())
}

// table is the rows in order, under section headings.
type table struct {
	sections []section
}

type section struct {
	title string
	rows  []*row
}

func (t *table) section(title string) {
	t.sections = append(t.sections, section{title: title})
}

func (t *table) add(r *row) *row {
	s := &t.sections[len(t.sections)-1]
	s.rows = append(s.rows, r)
	return r
}

// failures lists every failed cell: ours, which fail the run (with the
// limits and the rows that check the benchmark itself), and upstream's,
// which are findings about upstream's parts and do not.
func (t *table) failures() (ours, upstream []string) {
	for _, s := range t.sections {
		for _, r := range s.rows {
			for _, col := range []string{colOurs, colUpstream, colUpstreamRT, colLimit} {
				c := r.cells[col]
				if c == nil || !c.failed {
					continue
				}
				f := fmt.Sprintf("%s, %s: %s", r.name, col, c.text)
				if r.harness || col == colOurs || col == colLimit {
					ours = append(ours, f)
				} else {
					upstream = append(upstream, f)
				}
			}
		}
	}
	return ours, upstream
}

// markdown writes the table; the section titles are rows of their own, in
// bold, so that it stays one table.
func (t *table) markdown(w io.Writer) {
	fmt.Fprintln(w, "| case | unit | ours | upstream (own session) | ours / upstream | upstream (runtime's session) | limit | ours / limit |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, s := range t.sections {
		fmt.Fprintf(w, "| **%s** | | | | | | | |\n", s.title)
		for _, r := range s.rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, r.unit,
				r.format(r.cells[colOurs]), r.format(r.cells[colUpstream]), r.ratio(colOurs, colUpstream),
				r.format(r.cells[colUpstreamRT]), r.format(r.cells[colLimit]), r.ratio(colOurs, colLimit))
		}
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile is the nearest-rank percentile p (0–1) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// slug makes a file name of a row's name.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
