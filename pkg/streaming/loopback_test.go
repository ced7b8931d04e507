package streaming

import (
	"strings"
	"testing"
)

// TestListenLoopbackOnly: the server binds loopback addresses only.
func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		lis, err := listenLoopback(addr)
		if err != nil {
			if addr == "[::1]:0" && strings.Contains(err.Error(), "cannot assign requested address") {
				continue // no IPv6 loopback on this machine
			}
			t.Errorf("%s: %v", addr, err)
			continue
		}
		lis.Close()
	}
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
		lis, err := listenLoopback(addr)
		if err == nil {
			lis.Close()
			t.Errorf("%s: listening on %s, want refused", addr, lis.Addr())
		} else if !strings.Contains(err.Error(), "not loopback") {
			t.Errorf("%s: %v, want not loopback", addr, err)
		}
	}
}
