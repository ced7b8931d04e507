package demostack

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// openSessions counts the exec, attach and port-forward sessions the
// kubelet with PID pid proxies, from what the kernel says of its sockets
// (/proc/PID/fd, /proc/PID/net/tcp and tcp6): each session holds one TCP
// connection from the kubelet to the runtime's streaming server, and the
// kubelet's only other TCP connections are to it, on kubeletPort, and to
// peers: the apiserver and its span receiver (the CRI API it reaches over
// a unix socket). A plain request the kubelet
// proxied to the streaming server, which keeps its connection idle, would
// count as well; upgrades, which sessions are, never do.
func openSessions(pid, kubeletPort int, peers ...int) (int, error) {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(proc, "fd"))
	if err != nil {
		return 0, err
	}
	sockets := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			sockets[strings.TrimSuffix(inode, "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join(proc, "net", table))
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != tcpEstablished || !sockets[fields[9]] {
				continue
			}
			if port(fields[1]) != kubeletPort && !slices.Contains(peers, port(fields[2])) {
				n++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return 0, fmt.Errorf("%s: %w", table, err)
		}
	}
	return n, nil
}

// tcpEstablished is TCP_ESTABLISHED as /proc/net/tcp writes it.
const tcpEstablished = "01"

// port is the port of an address as /proc/net/tcp writes it: hex, after
// the colon.
func port(addr string) int {
	_, hex, _ := strings.Cut(addr, ":")
	p, _ := strconv.ParseInt(hex, 16, 32)
	return int(p)
}
