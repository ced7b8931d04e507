package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/execlab/execlab/pkg/faults"
)

// TestFaultsTable: docs/testing.md shows pkg/faults' Table as it is.
func TestFaultsTable(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(repo, "docs", "testing.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(page), faults.TableBegin+"\n")
	shown, _, ok2 := strings.Cut(rest, faults.TableEnd)
	if !ok || !ok2 {
		t.Fatalf("docs/testing.md has no table between %q and %q", faults.TableBegin, faults.TableEnd)
	}
	if want := faults.Markdown(); shown != want {
		t.Errorf("docs/testing.md's faults table is not pkg/faults.Table's; put there what faults.Markdown() returns:\n%s", want)
	}
}
