package fakecri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Exit code and reasons of containerd (internal/cri/server/helpers.go).
const (
	errorStartExitCode = 128
	errorStartReason   = "StartError"
	completeExitReason = "Completed"
	errorExitReason    = "Error"
)

// container is one container and, once started, its main task.
type container struct {
	object
	sandboxID string
	config    *runtimeapi.ContainerConfig
	imageRef  string
	// image is what the container takes from its image when it is created,
	// as containerd builds its spec then: the reference that finds the
	// image's files, and its configuration.
	image   containerImage
	logPath string // empty: logging is off

	// exited is closed once the main task has ended and its status is
	// recorded, or at once for a container loaded as exited.
	exited chan struct{}

	mu     sync.Mutex
	status containerStatus
	ended  bool // the main task has ended; no exec may start
	task   task
	io     *containerIO
	env    []string
	wd     string
	files  imageFiles
	execs  map[*process]struct{}
	// lastCPU is the CPU time the last stats read, for the next one's rate.
	lastCPU cpuSample
}

// containerImage is what a container keeps of its image.
type containerImage struct {
	Ref    string              `json:"ref"`
	Config ocispec.ImageConfig `json:"config"`
}

// containerStatus is the mutable part of a container, kept under its mu.
type containerStatus struct {
	state      runtimeapi.ContainerState
	startedAt  int64
	finishedAt int64
	exitCode   int32
	reason     string
	message    string
	pid        int
}

// containerName is containerd's makeContainerName:
// name_podname_namespace_uid_attempt.
func containerName(c *runtimeapi.ContainerMetadata, s *runtimeapi.PodSandboxMetadata) string {
	return strings.Join([]string{c.Name, s.Name, s.Namespace, s.Uid, strconv.FormatUint(uint64(c.Attempt), 10)}, "_")
}

func (c *container) getStatus() containerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// state is the container's state for a client that wants to use it: EXITED
// as soon as the main task has ended, while its output still drains.
func (c *container) state() runtimeapi.ContainerState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stateLocked()
}

func (c *container) stateLocked() runtimeapi.ContainerState {
	if c.ended {
		return runtimeapi.ContainerState_CONTAINER_EXITED
	}
	return c.status.state
}

func (c *container) record() (any, error) {
	cfg, err := marshalProto(c.config)
	st := c.getStatus()
	return containerRecord{
		ID:        c.id,
		SandboxID: c.sandboxID,
		Name:      c.name,
		Config:    cfg,
		ImageRef:  c.imageRef,
		Image:     c.image,
		LogPath:   c.logPath,
		Status: statusRecord{
			State:      st.state.String(),
			CreatedAt:  c.createdAt,
			StartedAt:  st.startedAt,
			FinishedAt: st.finishedAt,
			ExitCode:   st.exitCode,
			Reason:     st.reason,
			Message:    st.message,
			Pid:        st.pid,
		},
	}, err
}

func containerFromRecord(rec containerRecord, dir string) (*container, error) {
	cfg := &runtimeapi.ContainerConfig{}
	if err := unmarshalProto(rec.Config, cfg); err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.ID, err)
	}
	st := rec.Status
	return &container{
		object:    object{kind: "container", id: rec.ID, name: rec.Name, dir: dir, createdAt: st.CreatedAt},
		sandboxID: rec.SandboxID,
		config:    cfg,
		imageRef:  rec.ImageRef,
		image:     rec.Image,
		logPath:   rec.LogPath,
		exited:    make(chan struct{}),
		execs:     map[*process]struct{}{},
		status: containerStatus{
			state:      runtimeapi.ContainerState(runtimeapi.ContainerState_value[st.State]),
			startedAt:  st.StartedAt,
			finishedAt: st.FinishedAt,
			exitCode:   st.ExitCode,
			reason:     st.Reason,
			message:    st.Message,
			pid:        st.Pid,
		},
	}, nil
}

// createContainer records a container in a ready sandbox. Its log path is the
// sandbox's log directory joined with Config.LogPath, as containerd composes
// it; with either empty, logging is off.
func (rt *Runtime) createContainer(sandboxID string, cfg *runtimeapi.ContainerConfig, sbCfg *runtimeapi.PodSandboxConfig) (string, error) {
	s, err := rt.getSandbox(sandboxID)
	if err != nil {
		return "", fmt.Errorf("failed to find sandbox id %q: %w", sandboxID, err)
	}
	if cfg.GetMetadata() == nil {
		return "", fmt.Errorf("container config must include metadata: %w", errInvalidArgument)
	}
	if sbCfg.GetMetadata() == nil {
		sbCfg = s.config
	}
	if s.getState() != runtimeapi.PodSandboxState_SANDBOX_READY {
		return "", fmt.Errorf("sandbox %q is not ready", s.id)
	}
	// The image must have been pulled, by reference or ID, as containerd
	// requires: the kubelet pulls first.
	img, ok := rt.images.resolve(cfg.GetImage().GetImage())
	if !ok {
		return "", fmt.Errorf("failed to resolve image %q: %w", cfg.GetImage().GetImage(), errNotFound)
	}
	id := newID()
	name := containerName(cfg.Metadata, sbCfg.Metadata)
	if err := rt.reserveName(name, id); err != nil {
		return "", fmt.Errorf("failed to reserve container name %q: %w", name, err)
	}
	c := &container{
		object:    object{kind: "container", id: id, name: name, dir: filepath.Join(rt.root, containersDir, id), createdAt: time.Now().UnixNano()},
		sandboxID: s.id,
		config:    cfg,
		imageRef:  img.ID,
		image:     containerImage{Ref: img.Ref, Config: img.Spec.Config},
		exited:    make(chan struct{}),
		execs:     map[*process]struct{}{},
		status:    containerStatus{state: runtimeapi.ContainerState_CONTAINER_CREATED},
	}
	if sbCfg.GetLogDirectory() != "" && cfg.GetLogPath() != "" {
		c.logPath = filepath.Join(sbCfg.GetLogDirectory(), cfg.GetLogPath())
	}
	if err := os.MkdirAll(filepath.Join(c.dir, workDirName), 0o755); err != nil {
		os.RemoveAll(c.dir)
		rt.releaseName(name)
		return "", fmt.Errorf("failed to create container root directory %q: %w", c.dir, err)
	}
	rt.save(c)
	add(rt, rt.containers, c)
	rt.log.Info("container created", "id", id, "name", name)
	return id, nil
}

// startContainer starts the container's main task. A command that cannot be
// started leaves the container EXITED with code 128 and reason StartError, as
// containerd does.
func (rt *Runtime) startContainer(id string) error {
	c, err := rt.getContainer(id)
	if err != nil {
		return fmt.Errorf("an error occurred when try to find container %q: %w", id, err)
	}
	s, err := rt.getSandbox(c.sandboxID)
	if err != nil {
		return fmt.Errorf("sandbox %q not found: %w", c.sandboxID, err)
	}
	c.mu.Lock()
	if c.status.state != runtimeapi.ContainerState_CONTAINER_CREATED {
		defer c.mu.Unlock()
		return fmt.Errorf("container is in %s state", c.status.state)
	}
	err = rt.start(c, s)
	if err != nil {
		c.status.state = runtimeapi.ContainerState_CONTAINER_EXITED
		c.status.finishedAt = time.Now().UnixNano()
		c.status.exitCode = errorStartExitCode
		c.status.reason = errorStartReason
		c.status.message = err.Error()
		close(c.exited)
	}
	pid := c.status.pid
	c.mu.Unlock()
	rt.save(c)
	if err != nil {
		return err
	}
	rt.log.Info("container started", "id", c.id, "name", c.name, "pid", pid)
	return nil
}

// start starts c's main task and its monitor. c.mu is held.
func (rt *Runtime) start(c *container, s *sandbox) error {
	if s.getState() != runtimeapi.PodSandboxState_SANDBOX_READY {
		return fmt.Errorf("sandbox container %q is not running", s.id)
	}
	rt.prepare(c, s)
	// Taken before the task starts: a task that exits at once has its exit
	// time from its shim, which must not come first.
	startedAt := time.Now().UnixNano()
	cio, err := newContainerIO(c.logPath, c.config.GetTty())
	if err != nil {
		return fmt.Errorf("failed to create container loggers: %w", err)
	}
	var t task
	if argv := processArgs(c.config, c.image.Config); len(argv) == 0 {
		t = newIdleTask()
	} else {
		spec := procSpec{argv: argv, env: c.env, dir: c.wd, files: c.files, tty: c.config.GetTty(), stdin: c.config.GetStdin(), sessions: rt.sessions()}
		if t, err = rt.startTask(c, spec); err != nil {
			cio.finish()
			return fmt.Errorf("failed to start container %q: %w", c.id, err)
		}
	}
	cio.pipe(t.stdio())
	if !rt.addMonitor() {
		t.kill()
		t.wait()
		t.delete()
		cio.finish()
		return errors.New("runtime is shutting down")
	}
	c.task, c.io = t, cio
	c.status.state = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.status.startedAt = startedAt
	c.status.pid = t.processID()
	go rt.monitor(c)
	return nil
}

// prepare sets what c's processes, main and execs, start with: the
// environment, the working directory and the image's files.
func (rt *Runtime) prepare(c *container, s *sandbox) {
	c.env = environ(c.config, s.config, c.image.Config)
	c.wd = filepath.Join(c.dir, workDirName)
	for _, wd := range []string{c.config.GetWorkingDir(), c.image.Config.WorkingDir} {
		if wd != "" {
			if fi, err := os.Stat(wd); err == nil && fi.IsDir() {
				c.wd = wd
			}
			break
		}
	}
	c.files = rt.tools.files(c.image.Ref)
}

// processArgs is the container's command line, the image's entrypoint and
// command standing in for what the container does not say, as containerd's
// WithProcessArgs (internal/cri/opts/spec_linux.go). Empty: neither says
// anything, which only a generic image can leave unsaid.
func processArgs(cfg *runtimeapi.ContainerConfig, img ocispec.ImageConfig) []string {
	command, args := cfg.GetCommand(), cfg.GetArgs()
	if len(command) == 0 {
		if len(args) == 0 {
			args = img.Cmd
		}
		if command == nil && !(len(img.Entrypoint) == 1 && img.Entrypoint[0] == "") {
			command = img.Entrypoint
		}
	}
	return slices.Concat(command, args)
}

// environ is a container's environment, as containerd builds it
// (container_create_linux.go): a default PATH and HOSTNAME, the image's
// environment, then Config.Envs, each replacing a variable of the same name
// where it stands; then HOME if still unset, as runc sets it from the
// user's passwd entry.
func environ(cfg *runtimeapi.ContainerConfig, sbCfg *runtimeapi.PodSandboxConfig, img ocispec.ImageConfig) []string {
	hostname := sbCfg.GetHostname()
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	env := []string{"PATH=" + defaultPath, "HOSTNAME=" + hostname}
	set := func(kv string) {
		name, _, _ := strings.Cut(kv, "=")
		if i := slices.IndexFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") }); i >= 0 {
			env[i] = kv
			return
		}
		env = append(env, kv)
	}
	for _, kv := range img.Env {
		set(kv)
	}
	for _, kv := range cfg.GetEnvs() {
		set(kv.GetKey() + "=" + string(kv.GetValue()))
	}
	if u, err := user.Current(); err == nil && !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "HOME=") }) {
		env = append(env, "HOME="+u.HomeDir)
	}
	return env
}

// monitor waits for a container's main task to end, then ends the rest of
// the container: its execs, its output, its log; it records the exit and
// deletes the task. A task the runtime let go of (Close) is left running
// with nothing recorded, for the next fake-cri to find.
func (rt *Runtime) monitor(c *container) {
	defer rt.monitors.Done()
	c.mu.Lock()
	t, cio := c.task, c.io
	c.mu.Unlock()
	exit := t.wait()
	c.mu.Lock()
	c.ended = true
	execs := c.takeExecs()
	c.mu.Unlock()
	for _, p := range execs {
		p.kill()
	}
	if exit.released {
		cio.detach()
		rt.log.Info("container left running", "id", c.id, "name", c.name, "pid", t.processID())
		close(c.exited)
		return
	}
	cio.finish()
	c.mu.Lock()
	c.status.state = runtimeapi.ContainerState_CONTAINER_EXITED
	c.status.finishedAt = exit.at
	c.status.exitCode = int32(exit.code)
	c.status.pid = 0
	c.mu.Unlock()
	// After Close the exit is not recorded: the next fake-cri learns it
	// from the shim, or finds the container lost, as after a crash.
	if !rt.isClosed() {
		rt.save(c)
		t.delete()
	}
	rt.log.Info("container exited", "id", c.id, "name", c.name, "exitCode", exit.code)
	close(c.exited)
}

// takeExecs empties the container's set of running execs. c.mu is held.
func (c *container) takeExecs() []*process {
	ps := make([]*process, 0, len(c.execs))
	for p := range c.execs {
		ps = append(ps, p)
	}
	clear(c.execs)
	return ps
}

// release lets go of the container at Close: every exec is killed (it is
// fake-cri's child), and the main task is released, to run on under its
// shim (task.release).
func (c *container) release() {
	c.mu.Lock()
	t := c.task
	running := c.status.state == runtimeapi.ContainerState_CONTAINER_RUNNING
	execs := c.takeExecs()
	c.mu.Unlock()
	for _, p := range execs {
		p.kill()
	}
	if running {
		t.release()
	}
}

// stopContainer stops a running container: its stop signal, then SIGKILL
// after timeout, as containerd's stopContainer. With timeout 0 it kills at
// once. Stopping a container that does not exist or is not running is no
// error.
func (rt *Runtime) stopContainer(ctx context.Context, id string, timeout time.Duration) error {
	c, found, err := lookupToClean(rt, rt.containers, "container", id)
	if !found {
		return err
	}
	return rt.stop(ctx, c, timeout)
}

func (rt *Runtime) stop(ctx context.Context, c *container, timeout time.Duration) error {
	c.mu.Lock()
	t := c.task
	running := c.status.state == runtimeapi.ContainerState_CONTAINER_RUNNING
	c.mu.Unlock()
	if !running {
		return nil
	}
	if timeout > 0 {
		sig := stopSignal(c)
		rt.log.Info("stop container", "id", c.id, "signal", sig.String(), "timeout", timeout)
		if err := t.signal(sig); err != nil {
			return fmt.Errorf("failed to stop container %q: %w", c.id, err)
		}
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case <-c.exited:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
	rt.log.Info("kill container", "id", c.id)
	t.kill()
	select {
	case <-c.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("an error occurs during waiting for container %q to be killed: %w", c.id, ctx.Err())
	}
}

// removeContainer kills the container if it runs, then forgets it and
// removes its directory. Removing a container that does not exist is no
// error.
func (rt *Runtime) removeContainer(ctx context.Context, id string) error {
	c, found, err := lookupToClean(rt, rt.containers, "container", id)
	if !found {
		return err
	}
	return rt.remove(ctx, c)
}

func (rt *Runtime) remove(ctx context.Context, c *container) error {
	if err := rt.stop(ctx, c, 0); err != nil {
		return fmt.Errorf("failed to forcibly stop container %q: %w", c.id, err)
	}
	return forget(rt, rt.containers, c)
}

// stopSignal is the signal StopContainer sends first: the container's
// Config.StopSignal, else its image's, else SIGTERM, as containerd.
func stopSignal(c *container) syscall.Signal {
	if sig := signalNumber(c.config.GetStopSignal()); sig != 0 {
		return sig
	}
	if sig := unix.SignalNum(c.image.Config.StopSignal); sig != 0 {
		return sig
	}
	return syscall.SIGTERM
}

// signalNumber maps CRI's Signal enum to the signal's number; 0 for
// SIGNAL_RUNTIME_DEFAULT.
func signalNumber(s runtimeapi.Signal) syscall.Signal {
	name, _ := strings.CutPrefix(s.String(), "SIGNAL_")
	return unix.SignalNum(name)
}
