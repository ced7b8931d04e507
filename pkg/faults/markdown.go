package faults

import (
	"fmt"
	"strings"
)

// Markdown renders the Table as docs/testing.md shows it, between the
// markers TableBegin and TableEnd (test/docs checks that the page has
// exactly this).
func Markdown() string {
	var b strings.Builder
	b.WriteString("| fault | at | parameters (default) | on the wire | a correct client | expect | caught |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range Table {
		hops := make([]string, len(s.Hops))
		for i, h := range s.Hops {
			hops[i] = string(h)
		}
		var params []string
		for _, p := range s.Params {
			def := p.Default
			if def == "" {
				def = "unset"
			}
			params = append(params, fmt.Sprintf("`%s` (%s): %s", p.Name, def, p.Doc))
		}
		name := "`" + s.Name + "`"
		if s.Harness {
			name += " (harness)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", name, strings.Join(hops, ", "),
			strings.Join(params, "<br>"), s.Wire, s.Client, s.Expect, s.Catches)
	}
	return b.String()
}

// The markers around the table in docs/testing.md.
const (
	TableBegin = "<!-- faults table: generated from pkg/faults.Table, checked by test/docs -->"
	TableEnd   = "<!-- end of faults table -->"
)
