package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repo is the repository's root, from this package's directory.
const repo = "../.."

var codeSpan = regexp.MustCompile("`([^`]+)`")

// TestHopTable holds docs/how-exec-works.md's hop table to the code: every
// row names, in the execlab column, files that exist and, after each file,
// functions or methods (Type.Method) declared in it; and every row names
// the upstream file it mirrors.
func TestHopTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repo, "docs/how-exec-works.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## The exec path, hop by hop")
	if !ok {
		t.Fatal("docs/how-exec-works.md has no section \"The exec path, hop by hop\"")
	}
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !regexp.MustCompile(`^ \d+ $`).MatchString(cells[1]) {
			continue
		}
		rows++
		step, ours, upstream := strings.TrimSpace(cells[2]), cells[3], cells[4]
		if !strings.Contains(upstream, ".go`") {
			t.Errorf("row %s (%s) names no upstream file", cells[1], step)
		}
		for _, group := range strings.Split(ours, ";") {
			spans := codeSpan.FindAllStringSubmatch(group, -1)
			if len(spans) < 2 {
				t.Errorf("row %s: %q names no file and function", cells[1], group)
				continue
			}
			file := spans[0][1]
			src, err := os.ReadFile(filepath.Join(repo, file))
			if err != nil {
				t.Errorf("row %s: %v", cells[1], err)
				continue
			}
			for _, fn := range spans[1:] {
				if !declares(string(src), fn[1]) {
					t.Errorf("row %s: %s declares no %s", cells[1], file, fn[1])
				}
			}
		}
	}
	if rows < 15 {
		t.Errorf("the hop table has %d rows; an exec has more steps than that", rows)
	}
}

// declares reports whether src declares name, a function or a method of
// any receiver, or with Type.Method, the method of that receiver type.
func declares(src, name string) bool {
	pattern := fmt.Sprintf(`(?m)^func (\(\w+ \*?\w+(\[[^]]*\])?\) )?%s[\[(]`, regexp.QuoteMeta(name))
	if typ, method, ok := strings.Cut(name, "."); ok {
		pattern = fmt.Sprintf(`(?m)^func \(\w+ \*?%s(\[[^]]*\])?\) %s[\[(]`, regexp.QuoteMeta(typ), regexp.QuoteMeta(method))
	}
	return regexp.MustCompile(pattern).MatchString(src)
}
