package demostack

import (
	"net"
	"os"
	"testing"
)

// TestOpenSessions reads this process's own sockets: a connection to a
// listener of its own is two, one end of which is left out as the
// kubelet's serving end (local port) or as a connection to the apiserver
// (remote port).
func TestOpenSessions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	count := func(kubeletPort, apiserverPort int) int {
		t.Helper()
		n, err := openSessions(os.Getpid(), kubeletPort, apiserverPort)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count(0, 0)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if n := count(0, 0); n != before+2 {
		t.Errorf("%d connections, %d before one more; want both its ends", n, before)
	}
	if n := count(port, 0); n != before+1 {
		t.Errorf("with the serving end left out: %d, %d before", n, before)
	}
	if n := count(0, port); n != before+1 {
		t.Errorf("with the end towards the apiserver left out: %d, %d before", n, before)
	}
	// The apiserver's span receiver is a peer too.
	if n, err := openSessions(os.Getpid(), 0, 1, port); err != nil || n != before+1 {
		t.Errorf("with the end towards another peer left out: %d (%v), %d before", n, err, before)
	}
}
