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
//   - Its main process is its image's entrypoint and command, overridden by
//     Config.Command and Config.Args as containerd does, started on the host
//     with the container's environment (a default PATH and HOSTNAME, the
//     image's environment, then Config.Envs; nothing inherited from
//     fake-cri) in its working directory (Config.WorkingDir, else the
//     image's, when the host has it, else its own directory under Root).
//     All pods share the host network; a hostPort is forwarded to its
//     container port on 127.0.0.1 in user space. A container of a generic
//     image with no command runs nothing and stays RUNNING until stopped,
//     like a pause container.
//   - A command, main or exec, is found as runc finds it in the container,
//     on the image's programs laid over the host's files: the image's first
//     along PATH (busybox's applets, the Go stand-ins of package imagebin,
//     a few host programs, as package catalog says), then the host's. The
//     container has no root file system, network, PID, IPC or UTS namespace
//     and no cgroups of its own; docs/fake-runtime.md says what follows.
//   - Every process (main or exec) leads a session and process group of its
//     own. A main process runs under a shim (package shim, cmd/fake-cri-shim),
//     its parent outside fake-cri's process tree, as containerd-shim-runc-v2
//     runs a container for containerd: it keeps running while fake-cri is
//     away, and a restarted fake-cri finds it again. An exec is fake-cri's
//     child and gets SIGKILL if fake-cri dies (Pdeathsig), as does a main
//     process when there is no shim (Config.Shim). Each session is recorded
//     under Root while it lives, so that what its leader started is ended
//     when fake-cri starts again, or by the stack's `down` (EndSessions),
//     which ends the containers too. When a main process
//     exits, everything left in its session and every exec of the container
//     is killed, as the kernel does when a PID namespace's init exits. When
//     an exec's command exits, what it left in its session is killed too
//     (containerd lets it live until the container stops). When an exec's
//     client goes away, the command is hung up as a terminal would be:
//     SIGHUP, then SIGKILL to its session 2 s later (containerd sends
//     SIGKILL at once). An exec ends once its client has all its output,
//     however slowly it reads; only a process that left the session and
//     holds the output open is cut off, 2 s after the command.
//   - Output goes to the kubelet's log file (LogDirectory/LogPath) in the CRI
//     format, one record per line, "P" for a line cut at 16 KiB or left
//     unterminated, as containerd's internal/cri/io/logger.go writes it.
//     Timestamps are UTC with nine fractional digits.
//   - Config.Stdin keeps the main process's stdin open for Attach, and
//     Config.Tty gives it a pseudo-terminal. Every attached client gets the
//     output; one that lags a queue behind holds it up, as with containerd,
//     but never the container's end. Execs run in the same environment; with
//     a TTY they get TERM=xterm, as with containerd, and start at the
//     client's first terminal size, waited for half a second at most
//     (containerd starts them first: `stty size` may read 0 0).
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
// restarted fake-cri lists what it had and connects to each running
// container's shim again: the container is still RUNNING, with the same
// process, or EXITED with the code and time its shim saw while fake-cri was
// away (what it wrote meanwhile waited in the shim's pipes, and is logged
// now). A container whose shim is gone lost its process and reads EXITED,
// exit code 255, reason "Unknown", which is what containerd reports for
// tasks it finds gone when it recovers (internal/cri/server/restart.go);
// without a shim that is every running container, and their sandboxes are
// NOTREADY. A shim killed while fake-cri runs takes its process with it:
// exit code 137, as containerd records a task whose shim died.
//
// Images: there is no registry. PullImage of an image that package catalog
// knows records it with its real configuration, under the digest of that
// configuration as ID, with its tags, repo digests, size and user as
// containerd reports them; any other valid reference is a generic image, or
// fails as not found (Config.UnknownImages). A reference is normalised as
// containerd does ("busybox" is "docker.io/library/busybox:latest"). As
// with containerd, CreateContainer needs the image pulled first, and takes
// from it what the container runs.
//
// The files, first those an exec crosses: the CRI Exec RPC checks the
// container and answers a URL of pkg/streaming; when the client connects
// there, the streaming server calls Runtime.Exec, which starts the command
// as a local process. Paths in parentheses are containerd's, under
// internal/cri unless they say otherwise.
//
//	serve.go              Serve: the runtime, its streaming server and the CRI gRPC API
//	                      on a unix socket (cmd/containerd/server/server.go)
//	service.go            Service, the CRI gRPC API in front of a Runtime; Version, Status
//	                      (server/service.go, version.go, status.go)
//	service_streams.go    Exec, Attach, PortForward: check, then a URL of the streaming
//	                      server (server/container_exec.go, container_attach.go,
//	                      sandbox_portforward.go); ExecSync
//	runtime.go            Runtime, what the streaming server calls: New, Close, names
//	exec.go               Runtime.Exec and ExecSync: a command in a running container
//	                      (server/container_exec.go, container_execsync.go)
//	process.go            a local process: its session, stdio or terminal, signals, exit code
//	                      (what runc does for a container's processes)
//	pipes.go              an exec's stdio pipes: grown for bulk transfers, read in large
//	                      chunks into pooled buffers held only while data is there
//	sessions.go           the sessions recorded under Root; EndSessions, what a
//	                      fake-cri left running (runtime/v2/manager.go loadShims)
//	attach.go             Runtime.Attach: a client joins the main process's stdio
//	                      (server/container_attach.go)
//	programs.go           how a command is found: the image's files over the host's,
//	                      busybox and imagebin (runc's exec.LookPath in the container)
//	portforward.go        Runtime.PortForward: a stream to a port on loopback
//	                      (server/sandbox_portforward_linux.go)
//
// The rest of the runtime:
//
//	service_lifecycle.go  the sandbox and container RPCs, each a call of the Runtime
//	service_images.go     the image RPCs (server/images/)
//	errors.go             sentinel errors, and the gRPC status each becomes
//	                      (instrument/instrumented_service.go)
//	sandbox.go            sandboxes: run, stop, remove, status, list (server/sandbox_*.go)
//	hostport.go           a sandbox's host ports, forwarded in user space (what CNI's
//	                      portmap does with NAT rules)
//	container.go          containers: create, start, stop, remove; the environment
//	                      (server/container_create.go, container_start.go, container_stop.go,
//	                      container_remove.go)
//	container_status.go   ContainerStatus, ListContainers, ReopenContainerLog
//	                      (server/container_status.go, container_list.go, container_log_reopen.go)
//	stats.go              ContainerStats, ListContainerStats: /proc's counts of the container's
//	                      processes (server/container_stats_list.go reads cgroups)
//	task.go               a container's main task: under a shim, fake-cri's child when
//	                      there is no shim, or nothing when idle (runtime/v2/shim.go)
//	containerio.go        a main process's stdio: the log and attached clients
//	                      (io/container_io.go)
//	broadcast.go          one output stream to the log and every attached client
//	                      (pkg/ioutil/writer_group.go, outside internal/cri)
//	logger.go             the CRI log format (io/logger.go)
//	object.go             what sandboxes and containers share: IDs found by unique prefix
//	                      (internal/truncindex), kept, forgotten, listed
//	store.go              the records under Root, read back after a restart, and each
//	                      running container found again through its shim
//	                      (store/container/status.go, server/restart.go)
//	images.go, reference.go  pulled images (server/images/image_pull.go, image_status.go),
//	                      and references normalised as github.com/distribution/reference does
//
// Subpackages: shim, what runs a container's main process so that it
// outlives fake-cri (cmd/fake-cri-shim); catalog, the images the runtime
// knows and what each is made of; imagebin, the Go programs of those images (cmd/imagebin), and
// imagebin/pause, the pause binary (cmd/pause too).
package fakecri
