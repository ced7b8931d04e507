package testutil

import (
	"testing"

	"github.com/execlab/execlab/internal/ports"
)

// FreePort is a free loopback port for a process the test starts to listen
// on (internal/ports.Free: one no outgoing connection takes meanwhile).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
