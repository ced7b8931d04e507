package ports

import (
	"net"
	"strconv"
	"testing"
)

// TestFree: the port is below the ephemeral range, and free to bind.
func TestFree(t *testing.T) {
	below := ephemeralStart()
	for range 20 {
		port, err := Free()
		if err != nil {
			t.Fatal(err)
		}
		if port < lowest || port >= below {
			t.Fatalf("port %d, want one in [%d, %d)", port, lowest, below)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d does not bind: %v", port, err)
		}
		l.Close()
	}
}
