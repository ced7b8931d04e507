// Command execlab-cri is the small CRI client that scripts/containerd.sh uses
// where crictl would be (Debian bookworm ships no cri-tools). It speaks
// k8s.io/cri-api over the runtime's socket, as kubelet does:
//
//	execlab-cri [-runtime-endpoint unix:///path/containerd.sock] [-timeout 60s] COMMAND
//
//	version  print the runtime's name and version and the CRI version
//	wait     retry Version and Status until the runtime reports RuntimeReady
//	ls       list pod sandboxes and containers
//	reset    stop and remove every pod sandbox and container
//
// reset is how scripts/containerd.sh down leaves nothing behind: removing a
// sandbox through CRI, unlike deleting containers with ctr, also unmounts its
// /dev/shm and deletes the runtime's own records and directories.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const usage = `usage: execlab-cri [-runtime-endpoint unix:///path] [-timeout 60s] version|wait|ls|reset`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code, 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("execlab-cri", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	endpoint := fs.String("runtime-endpoint", "unix:///run/containerd/containerd.sock", "CRI socket, unix:///path or /path")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cmds := map[string]func(context.Context, runtimeapi.RuntimeServiceClient, io.Writer) error{
		"version": version,
		"wait":    wait,
		"ls":      list,
		"reset":   reset,
	}
	cmd, ok := cmds[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "execlab-cri: unknown command %q\n%s\n", fs.Arg(0), usage)
		return 2
	}

	target := *endpoint
	if !strings.HasPrefix(target, "unix://") {
		target = "unix://" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(stderr, "execlab-cri: %s: %v\n", target, err)
		return 1
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := cmd(ctx, runtimeapi.NewRuntimeServiceClient(conn), stdout); err != nil {
		fmt.Fprintf(stderr, "execlab-cri %s: %s: %v\n", fs.Arg(0), target, err)
		return 1
	}
	return 0
}

func version(ctx context.Context, rs runtimeapi.RuntimeServiceClient, w io.Writer) error {
	v, err := rs.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s (CRI %s)\n", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)
	return nil
}

// wait polls until the runtime says RuntimeReady, as kubelet's runtime health
// check does; NetworkReady is not required, since host-network pods need no CNI.
func wait(ctx context.Context, rs runtimeapi.RuntimeServiceClient, w io.Writer) error {
	var last error
	for {
		last = runtimeReady(ctx, rs)
		if last == nil {
			return version(ctx, rs, w)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func runtimeReady(ctx context.Context, rs runtimeapi.RuntimeServiceClient) error {
	// One attempt must not use up the whole deadline on a socket that is not there yet.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := rs.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return err
	}
	for _, c := range st.GetStatus().GetConditions() {
		if c.Type == runtimeapi.RuntimeReady {
			if c.Status {
				return nil
			}
			return fmt.Errorf("%s is false: %s %s", c.Type, c.Reason, c.Message)
		}
	}
	return errors.New("no RuntimeReady condition in Status")
}

func list(ctx context.Context, rs runtimeapi.RuntimeServiceClient, w io.Writer) error {
	pods, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		fmt.Fprintf(w, "pod       %.13s  %-20s %s/%s\n", p.Id, p.State, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName())
	}
	ctrs, err := rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return err
	}
	for _, c := range ctrs.Containers {
		fmt.Fprintf(w, "container %.13s  %-20s %s (pod %.13s)\n", c.Id, c.State, c.GetMetadata().GetName(), c.PodSandboxId)
	}
	return nil
}

// reset removes what kubelet would remove when every pod is deleted: each
// sandbox is stopped, then removed (which removes its containers too); any
// container left without a sandbox is removed last.
func reset(ctx context.Context, rs runtimeapi.RuntimeServiceClient, w io.Writer) error {
	pods, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods.Items {
		if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop pod sandbox %s: %w", p.Id, err))
			continue
		}
		if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod sandbox %s: %w", p.Id, err))
		}
	}
	ctrs, err := rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, c := range ctrs.Containers {
		if _, err := rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop container %s: %w", c.Id, err))
			continue
		}
		if _, err := rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.Id, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Fprintf(w, "removed %d pod sandbox(es) and %d container(s) outside them\n", len(pods.Items), len(ctrs.Containers))
	return nil
}
