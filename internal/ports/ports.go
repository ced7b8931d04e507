// Package ports picks free loopback ports for servers started as processes,
// which must be told their port before they bind it.
//
// A port the kernel hands out for port 0 comes from its ephemeral range,
// from which every outgoing connection takes its local port too: in the
// moment between the pick and the child's bind, a connection on a busy
// machine can take it (a CI run's docs pages did: "bind: address already
// in use"). Ports below that range are only ever taken by a bind that
// names them, so Free picks among those, at random, and checks that one
// binds.
//
//	ports.go  Free
package ports

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
)

// lowest is the lowest port Free picks: above the well-known and most
// registered ones.
const lowest = 10000

// rangeFile holds the kernel's ephemeral port range, "32768	60999".
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Free returns a loopback TCP port that was free a moment ago and that no
// outgoing connection will be given.
func Free() (int, error) {
	below := ephemeralStart()
	if below <= lowest {
		return 0, fmt.Errorf("ports: the ephemeral range starts at %d, below %d", below, lowest)
	}
	for range 100 {
		port := lowest + rand.IntN(below-lowest)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("ports: no free port below the ephemeral range in 100 tries")
}

// ephemeralStart is the first port of the kernel's ephemeral range, or
// Linux's default when it cannot be read.
func ephemeralStart() int {
	b, err := os.ReadFile(rangeFile)
	if err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil && lo > 0 {
			return lo
		}
	}
	return 32768
}
