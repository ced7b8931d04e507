package fakecri

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// hostPorts forwards a sandbox's host ports to its containers' ports, in
// user space as docker-proxy does, where a real runtime's CNI portmap plugin
// writes NAT rules. Every pod shares the host's network here, so only a
// mapping whose host port differs from its container port needs it; and, as
// everything here, it listens on 127.0.0.1 whatever the mapping's host IP.
// TCP only.
type hostPorts struct {
	cancel    context.CancelFunc
	listeners []net.Listener
	conns     sync.WaitGroup
}

// forwardHostPorts starts the forwarders of a sandbox's port mappings. A
// host-network sandbox has none, as with containerd, which sets up no
// network for it.
func forwardHostPorts(cfg *runtimeapi.PodSandboxConfig) (*hostPorts, error) {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hostPorts{cancel: cancel}
	if cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE {
		return h, nil
	}
	for _, m := range cfg.GetPortMappings() {
		if m.GetHostPort() == 0 || m.GetHostPort() == m.GetContainerPort() || m.GetProtocol() != runtimeapi.Protocol_TCP {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(m.GetHostPort()))))
		if err != nil {
			h.stop()
			return nil, fmt.Errorf("failed to map host port %d to container port %d: %w", m.GetHostPort(), m.GetContainerPort(), err)
		}
		h.listeners = append(h.listeners, l)
		go h.serve(ctx, l, m.GetContainerPort())
	}
	return h, nil
}

// serve forwards each connection to l to the container port.
func (h *hostPorts) serve(ctx context.Context, l net.Listener, port int32) {
	for {
		client, err := l.Accept()
		if err != nil {
			return
		}
		h.conns.Add(1)
		go func() {
			defer h.conns.Done()
			defer client.Close()
			pod, err := dialLoopback(ctx, port)
			if err != nil {
				return
			}
			defer pod.Close()
			forward(ctx, client, pod)
		}()
	}
}

// stop closes the host ports and the connections through them.
func (h *hostPorts) stop() {
	h.cancel()
	for _, l := range h.listeners {
		l.Close()
	}
	h.conns.Wait()
}
