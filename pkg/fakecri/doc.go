// Package fakecri is a CRI v1 runtime whose containers are local processes.
//
// It serves the RuntimeService and ImageService of k8s.io/cri-api over gRPC,
// so that a kubelet or a crictl-style client can drive it, and it implements
// the streaming Runtime (Exec, Attach, PortForward) behind the one-time URLs
// of pkg/streaming. Where CRI leaves a question open it answers as
// containerd's CRI plugin does (internal/cri/server), and says so.
//
// What a container is here:
//
//   - Its main process is Config.Command followed by Config.Args, started on
//     the host with the container's environment (Config.Envs over a default
//     PATH and HOSTNAME, nothing inherited from fake-cri) in its own working
//     directory under Root (Config.WorkingDir when it exists). All pods share
//     the host network. A container with neither command nor args runs
//     nothing and stays RUNNING until stopped, like a pause container.
//   - Every process (main or exec) leads a session and process group of its
//     own and gets SIGKILL if fake-cri dies (Pdeathsig). When a main process
//     exits, everything left in its session and every exec of the container
//     is killed, as the kernel does when a PID namespace's init exits. When
//     an exec's command exits, what it left in its session is killed too
//     (containerd lets it live until the container stops). When an exec's
//     client goes away, the command is hung up as a terminal would be:
//     SIGHUP, then SIGKILL to its session 2 s later (containerd sends
//     SIGKILL at once).
//   - Output goes to the kubelet's log file (LogDirectory/LogPath) in the CRI
//     format, one record per line, "P" for a line cut at 16 KiB or left
//     unterminated, as containerd's internal/cri/io/logger.go writes it.
//     Timestamps are UTC with nine fractional digits.
//   - Config.Stdin keeps the main process's stdin open for Attach, and
//     Config.Tty gives it a pseudo-terminal. Every attached client gets the
//     output; one that lags a queue behind holds it up, as with containerd,
//     but never the container's end. Execs run in the same environment; with
//     a TTY they get TERM=xterm, as with containerd, and start at the size
//     the client has already sent, if any.
//   - Exit codes are the process's own, or 128+n when killed by signal n.
//     StopContainer sends the stop signal (SIGTERM unless Config.StopSignal)
//     to the process group, then SIGKILL after the timeout. With no pid
//     namespace a shell or sleep dies on SIGTERM (143), where containerd's
//     PID 1 ignores it and is killed (137).
//   - A command that cannot be started (missing binary, not executable) has
//     no exit code, as with containerd and runc: StartContainer fails and the
//     container is EXITED with code 128 and reason StartError; ExecSync fails
//     with codes.Unknown; a streamed exec fails with a plain error, which the
//     streaming server reports as an InternalError.
//
// State: sandboxes, containers and images are kept as JSON under Root. A
// restarted fake-cri lists what it had; containers that were running lost
// their processes with it and read EXITED, exit code 255, reason "Unknown",
// and their sandboxes NOTREADY, which is what containerd reports for tasks it
// finds gone when it recovers (internal/cri/server/restart.go).
//
// Images: there is no registry. PullImage of any valid reference succeeds at
// once and records the image under a stable ID, the SHA-256 of the
// normalised reference ("busybox" is "docker.io/library/busybox:latest").
// As with containerd, CreateContainer needs the image pulled first.
package fakecri
