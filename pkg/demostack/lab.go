package demostack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/execlab/execlab/pkg/labs"
)

// LabsDir is where the labs are, in the repository.
const LabsDir = "docs/labs"

// Lab is one lab of LabsDir: docs/labs/NN-name.md.
type Lab struct {
	Number int
	Title  string
	Path   string
}

// Labs lists the labs in order.
func Labs(root string) ([]Lab, error) {
	paths, err := filepath.Glob(filepath.Join(root, LabsDir, "[0-9][0-9]-*.md"))
	if err != nil {
		return nil, err
	}
	var out []Lab
	for _, p := range paths {
		l := Lab{Path: p}
		fmt.Sscanf(filepath.Base(p), "%02d-", &l.Number)
		if l.Title, err = title(p); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// title is a page's first heading, without its "Lab N: ".
func title(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t, ok := strings.CutPrefix(sc.Text(), "# "); ok {
			if n, rest, ok := strings.Cut(t, ": "); ok && strings.HasPrefix(n, "Lab ") {
				t = rest
			}
			return t, nil
		}
	}
	return "", sc.Err()
}

// RunLab runs lab n's commands against the running stack, starting it if
// it is not running, and prints each command and its output as it goes,
// then a verdict; the error says where the output was not what the lab
// shows. What the lab needs beyond the default stack (containerd) is
// checked first.
func RunLab(ctx context.Context, cfg Config, n int) error {
	all, err := Labs(cfg.Root)
	if err != nil {
		return err
	}
	var lab *Lab
	for i := range all {
		if all[i].Number == n {
			lab = &all[i]
		}
	}
	if lab == nil {
		return fmt.Errorf("no lab %d in %s (execlab lab lists them)", n, LabsDir)
	}
	text, err := os.ReadFile(lab.Path)
	if err != nil {
		return err
	}
	page, err := labs.Parse(lab.Path, string(text))
	if err != nil {
		return err
	}
	if ok, need := page.Runnable(Available()...); !ok {
		return fmt.Errorf("lab %d needs %s, which this machine lacks (containerd: root on Debian or Ubuntu, see docs/containerd.md)", n, need)
	}
	if _, err := running(cfg); err != nil {
		fmt.Fprintln(cfg.Stderr, "execlab is not running: starting it")
		if err := Up(ctx, cfg, UpOptions{}); err != nil {
			return err
		}
	}
	env, err := Env(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(cfg.Stdout, "lab %d: %s (%s, %d commands)\n\n", n, lab.Title, lab.Path, len(page.Steps))
	if err := labs.RunPage(ctx, page, cfg.Root, env, cfg.Stdout); err != nil {
		fmt.Fprintf(cfg.Stdout, "\nlab %d FAILED: %v\n", n, err)
		return errors.New("the lab's output differs from the page")
	}
	fmt.Fprintf(cfg.Stdout, "\nlab %d passed: every output as the lab shows it\n", n)
	return nil
}

// ListLabs prints the labs, one a line.
func ListLabs(cfg Config) error {
	all, err := Labs(cfg.Root)
	if err != nil {
		return err
	}
	for _, l := range all {
		fmt.Fprintf(cfg.Stdout, "%2d  %s\n", l.Number, l.Title)
	}
	return nil
}

// Available is what this machine offers the pages that need more than
// the default stack: "containerd" for root, whom scripts/containerd.sh
// lets install and run it.
func Available() []string {
	if os.Geteuid() == 0 {
		return []string{"containerd"}
	}
	return nil
}
