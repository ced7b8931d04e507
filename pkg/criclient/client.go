package criclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Client is a connection to a CRI runtime's RuntimeService.
type Client struct {
	conn *grpc.ClientConn
	rs   runtimeapi.RuntimeServiceClient
}

// Target is endpoint as a gRPC target: a bare socket path gets unix://,
// as crictl's --runtime-endpoint takes either.
func Target(endpoint string) string {
	if strings.HasPrefix(endpoint, "unix://") {
		return endpoint
	}
	return "unix://" + endpoint
}

// Dial connects to the runtime at endpoint (unix:///path or /path). The
// connection is made on the first call, as grpc.NewClient does.
func Dial(endpoint string) (*Client, error) {
	conn, err := grpc.NewClient(Target(endpoint), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, rs: runtimeapi.NewRuntimeServiceClient(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Version prints the runtime's name and version and the CRI version.
func (c *Client) Version(ctx context.Context, w io.Writer) error {
	v, err := c.rs.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s (CRI %s)\n", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)
	return nil
}

// Wait polls until the runtime says RuntimeReady, as kubelet's runtime
// health check does, then prints its version; NetworkReady is not
// required, since host-network pods need no CNI.
func (c *Client) Wait(ctx context.Context, w io.Writer) error {
	var last error
	for {
		err := c.runtimeReady(ctx)
		if err == nil {
			return c.Version(ctx, w)
		}
		// An attempt the deadline cut short says less than the answer
		// before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Client) runtimeReady(ctx context.Context) error {
	// One attempt must not use up the whole deadline on a socket that is not there yet.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := c.rs.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return err
	}
	for _, cond := range st.GetStatus().GetConditions() {
		if cond.Type == runtimeapi.RuntimeReady {
			if cond.Status {
				return nil
			}
			return fmt.Errorf("%s is false: %s %s", cond.Type, cond.Reason, cond.Message)
		}
	}
	return errors.New("no RuntimeReady condition in Status")
}

// List prints the pod sandboxes, then the containers, one a line.
func (c *Client) List(ctx context.Context, w io.Writer) error {
	pods, err := c.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		fmt.Fprintf(w, "pod       %.13s  %-20s %s/%s\n", p.Id, p.State, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName())
	}
	ctrs, err := c.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return err
	}
	for _, ctr := range ctrs.Containers {
		fmt.Fprintf(w, "container %.13s  %-20s %s (pod %.13s)\n", ctr.Id, ctr.State, ctr.GetMetadata().GetName(), ctr.PodSandboxId)
	}
	return nil
}

// Reset removes what kubelet would remove when every pod is deleted: each
// sandbox is stopped, then removed (which removes its containers too); any
// container left without a sandbox is removed last. It goes on past
// failures and returns them all.
func (c *Client) Reset(ctx context.Context, w io.Writer) error {
	pods, err := c.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods.Items {
		if _, err := c.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop pod sandbox %s: %w", p.Id, err))
			continue
		}
		if _, err := c.rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod sandbox %s: %w", p.Id, err))
		}
	}
	ctrs, err := c.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, ctr := range ctrs.Containers {
		if _, err := c.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ctr.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop container %s: %w", ctr.Id, err))
			continue
		}
		if _, err := c.rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ctr.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", ctr.Id, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Fprintf(w, "removed %d pod sandbox(es) and %d container(s) outside them\n", len(pods.Items), len(ctrs.Containers))
	return nil
}
