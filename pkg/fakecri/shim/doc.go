// Package shim keeps a fake-cri container's main process alive while
// fake-cri itself is gone, as containerd-shim-runc-v2 does for containerd:
// a small process per container, outside fake-cri's process tree, that is
// the parent of the container's process, holds its stdio open and knows its
// exit code. fake-cri connects to it to use the container, and a restarted
// fake-cri connects again to find it still running (or to learn how it
// ended).
//
// What the shim does, and why each piece mirrors containerd:
//
//   - `fake-cri-shim start DIR` reads DIR/spec.json, starts `fake-cri-shim
//     serve DIR` in a session of its own, reports the container's PID (or
//     why it could not start) and exits, so that the shim is nobody's child
//     but init's (containerd's shim `start` re-executes itself the same way,
//     runtime/v2/shim/shim.go).
//   - The serving shim starts the process in a session of its own with
//     pipes or a terminal, records both sessions in the spec's Sessions
//     directory (so that the stack's `down` ends them whatever died first),
//     and listens on DIR/shim.sock.
//   - A client (fake-cri) that connects gets a copy of the process's stdio
//     (SCM_RIGHTS: the read ends of stdout and stderr, the write end of
//     stdin, or the terminal's master) and its state. The shim keeps its own
//     copies: while no fake-cri is there, the process's output waits in the
//     pipe, and the process blocks once it is full instead of dying of
//     SIGPIPE; what containerd's shim does with the FIFOs containerd reads.
//   - When the process exits, the shim kills what is left of its session
//     (as the kernel does when a PID namespace's init exits), reaps it and
//     tells the client the exit code; it waits for the client to say
//     Shutdown (fake-cri has read the output and recorded the exit: the
//     task's delete), then exits.
//
// The files:
//
//	client.go   Start and Connect, what fake-cri calls; Client: the stdio, Signal, Kill,
//	            CloseStdin, Wait, Shutdown (runtime/v2/shim client and task service)
//	serve.go    Main: start and serve, the process and the socket
//	            (cmd/containerd-shim-runc-v2, pkg/process/init.go)
//	proto.go    the messages on the socket, and the socket's path
package shim
