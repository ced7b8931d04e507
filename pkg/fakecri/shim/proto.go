package shim

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// The socket is SOCK_SEQPACKET: one message per packet, each a JSON object,
// so that the stdio's descriptors arrive with the message that says what
// they are.

// state is what the shim tells a client that connects, with the process's
// stdio attached in this order: stdin (when Stdin), stdout (the terminal's
// master when TTY), stderr (unless TTY). An exit is told again, alone, when
// it happens later.
type state struct {
	PID   int   `json:"pid"`
	TTY   bool  `json:"tty,omitempty"`
	Stdin bool  `json:"stdin,omitempty"` // the process's stdin is still open
	Exit  *Exit `json:"exit,omitempty"`
}

// request is what a client asks of the shim.
type request struct {
	Op     string `json:"op"`
	Signal int    `json:"signal,omitempty"`
}

// The requests' operations.
const (
	opSignal     = "signal"     // the signal to the process's group
	opKill       = "kill"       // SIGKILL to the whole session
	opCloseStdin = "closeStdin" // the shim's copy of stdin closed: EOF once the client closes its own
	opShutdown   = "shutdown"   // the process killed if it runs, then the shim ends
)

// Exit is how the process ended.
type Exit struct {
	// Code is the process's exit status, or 128+n when signal n killed it,
	// as runc reports.
	Code int `json:"code"`
	// FinishedAt is when the shim reaped it, in Unix nanoseconds.
	FinishedAt int64 `json:"finishedAt"`
}

// maxMessage bounds a message; a state is well under it.
const maxMessage = 4096

// specFile, socketFile and logFile are the shim's files in its directory.
const (
	specFile   = "spec.json"
	socketFile = "shim.sock"
	logFile    = "shim.log"
)

// socketPath names the socket in dir through an open descriptor of dir, and
// returns the function that closes it once the socket is bound or
// connected: a unix socket's path is limited to 107 bytes, and a
// container's directory under a test's temporary root can be longer.
func socketPath(dir string) (string, func(), error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return filepath.Join("/proc/self/fd", strconv.Itoa(fd), socketFile), func() { unix.Close(fd) }, nil
}
