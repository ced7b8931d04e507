package fakecri

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestCritestSkipsDocumented holds scripts/critest.sh's list of skipped
// specs and docs/fake-runtime.md's table to the same specs and reasons.
func TestCritestSkipsDocumented(t *testing.T) {
	script, err := os.ReadFile("../../scripts/critest.sh")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/fake-runtime.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, _ := strings.Cut(string(script), "\nskips=(\n")
	list, _, _ = strings.Cut(list, "\n)\n")
	entries := regexp.MustCompile(`(?m)^\t"(.+)::(.+)"$`).FindAllStringSubmatch(list, -1)
	if len(entries) < 5 {
		t.Fatalf("scripts/critest.sh lists %d skips", len(entries))
	}
	for _, e := range entries {
		re, reason := strings.ReplaceAll(e[1], "|", `\|`), strings.ReplaceAll(e[2], "/etc/resolv.conf", "`/etc/resolv.conf`")
		if row := "| `" + re + "` | " + reason + " |"; !strings.Contains(string(doc), row) {
			t.Errorf("docs/fake-runtime.md has no row %s", row)
		}
	}
}
