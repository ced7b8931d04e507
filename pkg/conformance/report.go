package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Outcome is a result's verdict.
type Outcome string

const (
	Pass Outcome = "pass"
	Fail Outcome = "FAIL"
	// NotApplicable: the case does not apply in that column, or the
	// client or server cannot do what it asks (the reason says which).
	NotApplicable Outcome = "n/a"
)

// Result is one case in one column.
type Result struct {
	Case     string
	Protocol Protocol
	Outcome  Outcome
	// Reason says why it failed or does not apply; for a pass, a note
	// such as how long it took.
	Reason   string
	Duration time.Duration
}

// Report is a run's results.
type Report struct {
	// Client is the client's name.
	Client    string
	Protocols []Protocol
	Results   []Result
	Duration  time.Duration
	start     time.Time
}

// Failed lists the results that failed.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Outcome == Fail {
			out = append(out, res)
		}
	}
	return out
}

// Get returns the result of a case in a column.
func (r *Report) Get(name string, p Protocol) (Result, bool) {
	for _, res := range r.Results {
		if res.Case == name && res.Protocol == p {
			return res, true
		}
	}
	return Result{}, false
}

// WriteTable writes the table of case × protocol: pass, FAIL or n/a, and
// "-" where a case has no such column; then, numbered, the reason of each
// failure and n/a; then the counts.
func (r *Report) WriteTable(w io.Writer) error {
	columns := append([]Protocol{HTTP}, r.Protocols...)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"CASE"}
	for _, p := range columns {
		header = append(header, strings.ToUpper(string(p)))
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	var notes []string
	var names []string
	for _, res := range r.Results {
		if len(names) == 0 || names[len(names)-1] != res.Case {
			names = append(names, res.Case)
		}
	}
	counts := map[Outcome]int{}
	for _, name := range names {
		row := []string{name}
		for _, p := range columns {
			res, ok := r.Get(name, p)
			if !ok {
				row = append(row, "-")
				continue
			}
			counts[res.Outcome]++
			cell := string(res.Outcome)
			if res.Outcome != Pass {
				notes = append(notes, fmt.Sprintf("[%d] %s, %s: %s", len(notes)+1, name, p, res.Reason))
				cell += fmt.Sprintf(" [%d]", len(notes))
			}
			row = append(row, cell)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	_, err := fmt.Fprintf(w, "%d passed, %d failed, %d not applicable, with %s, in %.1fs\n",
		counts[Pass], counts[Fail], counts[NotApplicable], r.Client, r.Duration.Seconds())
	return err
}

// WriteJUnit writes the results as JUnit XML, a testcase per case and
// column, for CI systems.
func (r *Report) WriteJUnit(w io.Writer) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type skipped struct {
		Message string `xml:"message,attr"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Skipped   *skipped `xml:"skipped,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	suite := testsuite{Name: "execlab-conformance/" + r.Client, Tests: len(r.Results), Time: seconds(r.Duration)}
	for _, res := range r.Results {
		tc := testcase{Name: res.Case + "/" + string(res.Protocol), Classname: "execlab-conformance." + res.Case, Time: seconds(res.Duration)}
		switch res.Outcome {
		case Fail:
			suite.Failures++
			tc.Failure = &failure{Message: firstLines(res.Reason, 1), Text: res.Reason}
		case NotApplicable:
			suite.Skipped++
			tc.Skipped = &skipped{Message: res.Reason}
		default:
			tc.SystemOut = res.Reason
		}
		suite.Cases = append(suite.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suite); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
