package testutil

import (
	"net"
	"testing"
)

// FreePort asks the kernel for a free loopback port, for a process the
// test starts to listen on (which another could take first: rare on
// loopback, and a clear start-up error).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
