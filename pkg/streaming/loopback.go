package streaming

import (
	"fmt"
	"net"
)

// listenLoopback listens on addr and refuses any address that is not
// loopback. A token URL is a bearer credential for a shell in a container
// and the server has no other authentication, so only processes on this
// machine — the kubelet — may reach it. containerd's CRI plugin binds its
// stream server to 127.0.0.1 by default for the same reason
// (stream_server_address); here it cannot be widened.
func listenLoopback(addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	if ip := lis.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		lis.Close()
		return nil, fmt.Errorf("streaming server: address %q listens on %s, not loopback: only the kubelet on this machine may reach it", addr, ip)
	}
	return lis, nil
}
