package docs

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/execlab/execlab/internal/testutil"
	"github.com/execlab/execlab/pkg/demostack"
	"github.com/execlab/execlab/pkg/labs"
)

// containerdEnv, set to 1, runs the pages that need containerd, and only
// those (scripts/test-containerd.sh, after `make test` ran the others):
// one at a time, each starting and stopping a containerd of its own.
const containerdEnv = "EXECLAB_DOCS_CONTAINERD"

// pagesAtOnce is how many pages run in parallel unless -parallel says:
// a page waits (on its stack, on a token's minute) far more than it
// computes, so more of them than cores.
const pagesAtOnce = "4"

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", pagesAtOnce)
	}
	// The pages run the repository's binaries, as a learner does after
	// `make build`.
	build := exec.Command("go", "build", "-o", filepath.Join(repo, "bin")+"/", filepath.Join(repo, "cmd")+"/...")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestPages runs the console blocks of every page of docs/ and docs/labs/
// and checks that each command prints what the page shows (pkg/labs). Each
// page gets a stack of its own, started as `make demo` starts one
// (pkg/demostack, the repository's bin/) on free ports with a state
// directory of its own, and the stack's environment (`execlab env`); the
// pages run in parallel but for those that need containerd.
func TestPages(t *testing.T) {
	root, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	labPaths, err := filepath.Glob(filepath.Join(root, "docs", "labs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	onlyContainerd := os.Getenv(containerdEnv) == "1"
	if onlyContainerd {
		have = append(have, "containerd")
	}
	for _, path := range append(paths, labPaths...) {
		rel, _ := filepath.Rel(filepath.Join(root, "docs"), path)
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		page, err := labs.Parse(rel, string(text))
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Steps) == 0 {
			continue
		}
		t.Run(strings.ReplaceAll(rel, "/", "-"), func(t *testing.T) {
			needsContainerd := slices.Contains(page.Needs, "containerd")
			if ok, lacks := page.Runnable(have...); !ok {
				t.Skipf("needs %s: %s=1 runs it (make test-containerd)", lacks, containerdEnv)
			}
			if onlyContainerd && !needsContainerd {
				t.Skipf("needs no containerd; %s=1 runs only the pages that do", containerdEnv)
			}
			if !needsContainerd {
				t.Parallel()
			}
			runPage(t, root, page)
		})
	}
}

// runPage runs page against a stack of its own.
func runPage(t *testing.T, root string, page *labs.Page) {
	start := time.Now()
	var log bytes.Buffer
	cfg := demostack.Config{
		Root:          root,
		StateDir:      t.TempDir(),
		APIServerPort: testutil.FreePort(t),
		KubeletPort:   testutil.FreePort(t),
		Stdout:        &log,
		Stderr:        &log,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := demostack.Up(ctx, cfg, demostack.UpOptions{}); err != nil {
		t.Fatalf("execlab up: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		if err := demostack.Down(context.Background(), cfg); err != nil {
			t.Errorf("execlab down: %v", err)
		}
		if slices.Contains(page.Needs, "containerd") {
			// A page that failed before its own `down` leaves its
			// containerd running: nothing else would stop it.
			down := exec.Command(filepath.Join(root, "scripts", "containerd.sh"), "down")
			down.Env = append(os.Environ(), "EXECLAB_STATE="+cfg.StateDir)
			if out, err := down.CombinedOutput(); err != nil {
				t.Errorf("scripts/containerd.sh down: %v\n%s", err, out)
			}
		}
		if t.Failed() {
			for _, name := range []string{"apiserver", "kubelet", "cri"} {
				b, _ := os.ReadFile(filepath.Join(cfg.StateDir, "logs", name+".log"))
				t.Logf("%s's log ends:\n%s", name, lastLines(string(b), 30))
			}
		}
	})
	env, err := demostack.Env(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// As a learner's shell after eval "$(bin/execlab env)": later
	// commands of the page (execlab down, up) use the same state and ports.
	var transcript bytes.Buffer
	err = labs.RunPage(ctx, page, root, env, &transcript)
	if err != nil {
		t.Fatalf("%v\n\nthe page's commands and what they printed:\n%s", err, transcript.String())
	}
	t.Logf("%d commands in %v", len(page.Steps), time.Since(start).Round(time.Millisecond))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
