package fakecri

import (
	"net"
	"strconv"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/testutil"
)

// TestHostPort checks that a pod's host port reaches its container port
// while the sandbox is ready, and that a host-network pod maps nothing.
func TestHostPort(t *testing.T) {
	e := newEnv(t, t.TempDir())
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()
	containerPort := int32(echo.Addr().(*net.TCPAddr).Port)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := int32(free.Addr().(*net.TCPAddr).Port)
	free.Close()
	hostAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(hostPort)))

	cfg := e.sandboxConfig("mapped")
	cfg.Linux = nil // a pod network of its own, as far as CRI tells
	cfg.PortMappings = []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: containerPort, HostPort: hostPort}}
	resp, err := e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.EchoThrough(hostAddr, 100<<10); err != nil {
		t.Errorf("through the host port: %v", err)
	}
	if _, err := e.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: resp.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", hostAddr); err == nil {
		c.Close()
		t.Error("the host port still answers after the sandbox stopped")
	}

	// A host-network pod: its mappings are the container's own ports.
	hostNet := e.sandboxConfig("hostnet")
	hostNet.PortMappings = cfg.PortMappings
	if _, err := e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: hostNet}); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", hostAddr); err == nil {
		c.Close()
		t.Errorf("a host-network pod's mapping answers on %s", hostAddr)
	}
}
