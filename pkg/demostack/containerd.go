package demostack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// containerdStarted marks that Up started containerd, which Down then
// stops; a containerd that ran before Up is left running.
const containerdStarted = "containerd-started"

// startContainerd starts the private containerd of scripts/containerd.sh
// unless it runs already, and returns its CRI endpoint.
func startContainerd(ctx context.Context, cfg Config) (string, error) {
	marker := cfg.path("pids", containerdStarted)
	if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
		return "", err
	}
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if containerd(ctx, cfg, "status").Run() != nil {
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return "", err
		}
	}
	var out bytes.Buffer
	up := containerd(ctx, cfg, "up")
	up.Stdout, up.Stderr = &out, cfg.Stderr
	if err := up.Run(); err != nil {
		return "", fmt.Errorf("scripts/containerd.sh up: %w", err)
	}
	// It prints the endpoint last.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1], nil
}

// stopContainerd stops containerd if Up started it.
func stopContainerd(ctx context.Context, cfg Config) error {
	marker := cfg.path("pids", containerdStarted)
	if _, err := os.Stat(marker); err != nil {
		return nil
	}
	down := containerd(ctx, cfg, "down")
	down.Stdout, down.Stderr = cfg.Stderr, cfg.Stderr
	if err := down.Run(); err != nil {
		return fmt.Errorf("scripts/containerd.sh down: %w", err)
	}
	return os.Remove(marker)
}

// containerd is scripts/containerd.sh with arg, on the stack's state
// directory.
func containerd(ctx context.Context, cfg Config, arg string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(cfg.Root, "scripts", "containerd.sh"), arg)
	cmd.Env = append(os.Environ(), "EXECLAB_STATE="+cfg.StateDir)
	return cmd
}
