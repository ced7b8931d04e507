package labs

import (
	"fmt"
	"regexp"
	"strings"
)

var placeholder = regexp.MustCompile(`<[a-z0-9-]+>`)

// lineRegexp is the regular expression one expected line stands for.
func lineRegexp(line string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	rest := line
	for {
		loc := placeholder.FindStringIndex(rest)
		if loc == nil {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:loc[0]]))
		name := rest[loc[0]:loc[1]]
		re, ok := Placeholders[name]
		if !ok {
			// Not ours: text such as <none>, shown as is.
			re = regexp.QuoteMeta(name)
		}
		b.WriteString("(?:" + re + ")")
		rest = rest[loc[1]:]
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Match reports whether got (a command's output) is what want (the lines
// a page shows) describes; if not, the error says from which line on they
// differ. Only what is written counts, not how it is spaced: leading and
// trailing blanks are dropped and runs of them count as one (a column that
// widens does not break a table). A final newline does not count either,
// and a line of "..." matches any number of lines.
func Match(want []string, got string) error {
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	if strings.TrimRight(got, "\n") == "" {
		lines = nil
	}
	for i := range lines {
		lines[i] = squeeze(lines[i])
	}
	res := make([]*regexp.Regexp, len(want))
	for i, w := range want {
		if strings.TrimSpace(w) == "..." {
			continue
		}
		re, err := lineRegexp(squeeze(w))
		if err != nil {
			return err
		}
		res[i] = re
	}
	// bestWant is the furthest line of want a partial match reached, and
	// best the line of got it stood at: where the outputs part.
	best, bestWant := 0, 0
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if i > bestWant || (i == bestWant && j > best) {
			best, bestWant = j, i
		}
		if i == len(want) {
			return j == len(lines)
		}
		if res[i] == nil {
			for k := j; k <= len(lines); k++ {
				if match(i+1, k) {
					return true
				}
			}
			return false
		}
		return j < len(lines) && res[i].MatchString(lines[j]) && match(i+1, j+1)
	}
	if match(0, 0) {
		return nil
	}
	wantLine, gotLine := "(end of output)", "(end of output)"
	if bestWant < len(want) {
		wantLine = want[bestWant]
	}
	if best < len(lines) {
		gotLine = lines[best]
	}
	return fmt.Errorf("output differs at line %d:\n  want: %s\n  got:  %s\nwhole output:\n%s", best+1, wantLine, gotLine, got)
}

// squeeze drops a line's leading and trailing blanks and makes each run of
// them one space.
func squeeze(line string) string { return strings.Join(strings.Fields(line), " ") }
