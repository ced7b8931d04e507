package fakecri

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/execlab/execlab/internal/procs"
)

// Config configures a Runtime.
type Config struct {
	// Root holds the runtime's state: a directory per sandbox and per
	// container (which includes the container's working directory) and the
	// image list. It is created if missing.
	Root string
	// Version is the RuntimeVersion that Version answers.
	Version string
	// Logger receives the runtime's logs; nil means slog.Default().
	Logger *slog.Logger
	// UnknownImages is what pulling an image the catalogue
	// (pkg/fakecri/catalog) does not know does; empty is
	// UnknownImagesGeneric.
	UnknownImages UnknownImagePolicy
	// Busybox is the busybox binary that runs the images' applets; empty:
	// /bin/busybox, /usr/bin/busybox or busybox in PATH.
	Busybox string
	// ImageBin is cmd/imagebin's binary, which runs agnhost, nginx, httpd
	// and pause; empty: imagebin beside the running executable, or in PATH.
	ImageBin string
	// Shim is cmd/fake-cri-shim's binary, which runs each container's main
	// process so that it outlives fake-cri (pkg/fakecri/shim); empty:
	// fake-cri-shim beside the running executable, or in PATH. Without
	// one the main processes are fake-cri's children and die with it.
	Shim string
}

// UnknownImagePolicy is what a pull of an image the catalogue does not know
// does.
type UnknownImagePolicy string

const (
	// UnknownImagesGeneric records a generic image: no configuration, no
	// files, so a container of it runs only the host's commands.
	UnknownImagesGeneric UnknownImagePolicy = "generic"
	// UnknownImagesNotFound fails the pull as containerd does for an image
	// its registry does not have, so that the kubelet reports ErrImagePull.
	UnknownImagesNotFound UnknownImagePolicy = "not-found"
)

// Runtime holds the pod sandboxes, containers and images, and runs the
// containers' processes. It implements pkg/streaming's Runtime (Exec,
// Attach, PortForward); Service puts the CRI gRPC API in front of it.
type Runtime struct {
	root    string
	version string
	log     *slog.Logger
	images  *imageStore
	tools   *tools
	shim    string // the shim's binary; "": none, main processes are children

	// monitors counts the goroutines that wait for main processes.
	monitors sync.WaitGroup

	mu         sync.Mutex
	sandboxes  map[string]*sandbox
	containers map[string]*container
	names      map[string]string // reserved sandbox and container names to IDs
	closed     bool
}

// New loads the state kept under cfg.Root, if any, and returns the runtime.
// Containers that were running when the state was saved are found again
// through their shims, running or with the exit the shim saw; one whose
// shim is gone lost its process: it is recorded as exited, as containerd
// records a task it cannot find when it recovers.
func New(cfg Config) (*Runtime, error) {
	if cfg.Root == "" {
		return nil, errors.New("fakecri: no root directory")
	}
	switch cfg.UnknownImages {
	case "":
		cfg.UnknownImages = UnknownImagesGeneric
	case UnknownImagesGeneric, UnknownImagesNotFound:
	default:
		return nil, fmt.Errorf("fakecri: unknown images %q: want %q or %q", cfg.UnknownImages, UnknownImagesGeneric, UnknownImagesNotFound)
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, err
	}
	// What the children of a fake-cri that died left running on this
	// root ends now; the containers its shims run are found again below.
	ended, err := procs.Sessions(filepath.Join(root, sessionsDir)).End()
	if err != nil {
		return nil, fmt.Errorf("fakecri: %w", err)
	}
	for _, d := range []string{sandboxesDir, containersDir, sessionsDir} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("fakecri: %w", err)
		}
	}
	rt := &Runtime{
		root:       root,
		version:    cfg.Version,
		log:        cfg.Logger,
		sandboxes:  map[string]*sandbox{},
		containers: map[string]*container{},
		names:      map[string]string{},
	}
	if rt.log == nil {
		rt.log = slog.Default()
	}
	for _, e := range ended {
		rt.log.Info("ended a process the previous fake-cri left", "pid", e.PID, "command", e.Command)
	}
	rt.tools = findTools(cfg, rt.log)
	if rt.shim = companion(cfg.Shim, "fake-cri-shim"); rt.shim == "" {
		rt.log.Warn("no fake-cri-shim (go build -o bin/ ./cmd/...): containers die with fake-cri", "shim", cfg.Shim)
	}
	if rt.images, err = loadImages(filepath.Join(root, imagesFile), cfg.UnknownImages); err != nil {
		return nil, fmt.Errorf("fakecri: %w", err)
	}
	if err := rt.load(); err != nil {
		return nil, fmt.Errorf("fakecri: load state from %s: %w", root, err)
	}
	return rt, nil
}

// Close lets go of every container and waits until their monitors are
// done: as containerd's, the containers run on under their shims, and the
// next Runtime on the same root finds them; nothing is recorded. Execs,
// and main processes without a shim, are fake-cri's children: they are
// killed, and the next Runtime finds those containers lost.
func (rt *Runtime) Close() error {
	rt.mu.Lock()
	rt.closed = true
	var cs []*container
	for _, c := range rt.containers {
		cs = append(cs, c)
	}
	var ports []*hostPorts
	for _, s := range rt.sandboxes {
		s.mu.Lock()
		if s.ports != nil {
			ports = append(ports, s.ports)
		}
		s.ports = nil
		s.mu.Unlock()
	}
	rt.mu.Unlock()
	for _, c := range cs {
		c.release()
	}
	for _, p := range ports {
		p.stop()
	}
	rt.monitors.Wait()
	return nil
}

// addMonitor counts a new monitor goroutine, unless the runtime is closed:
// Close waits for every monitor it lets start.
func (rt *Runtime) addMonitor() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return false
	}
	rt.monitors.Add(1)
	return true
}

func (rt *Runtime) isClosed() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.closed
}

// getContainer finds a container by ID or unique ID prefix.
func (rt *Runtime) getContainer(id string) (*container, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return lookup(rt.containers, id)
}

// getSandbox finds a sandbox by ID or unique ID prefix.
func (rt *Runtime) getSandbox(id string) (*sandbox, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return lookup(rt.sandboxes, id)
}

// reserveName claims a sandbox or container name for id, as containerd's
// registrar does, so that the same metadata cannot be created twice.
func (rt *Runtime) reserveName(name, id string) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return errors.New("runtime is shutting down")
	}
	if owner, ok := rt.names[name]; ok {
		return fmt.Errorf("failed to reserve name %q for id %q: name is reserved for %q: %w", name, id, owner, errAlreadyExists)
	}
	rt.names[name] = id
	return nil
}

func (rt *Runtime) releaseName(name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	delete(rt.names, name)
}
