package fakecri

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandbox is a pod sandbox. It runs nothing of its own: pods share the host's
// network and there is no pause process, so it is READY from RunPodSandbox
// until StopPodSandbox.
type sandbox struct {
	object
	config         *runtimeapi.PodSandboxConfig
	runtimeHandler string

	mu    sync.Mutex
	state runtimeapi.PodSandboxState
	ports *hostPorts // while READY
}

// sandboxName is containerd's makeSandboxName: name_namespace_uid_attempt.
func sandboxName(m *runtimeapi.PodSandboxMetadata) string {
	return strings.Join([]string{m.Name, m.Namespace, m.Uid, strconv.FormatUint(uint64(m.Attempt), 10)}, "_")
}

func (s *sandbox) getState() runtimeapi.PodSandboxState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *sandbox) record() (any, error) {
	cfg, err := marshalProto(s.config)
	return sandboxRecord{
		ID:             s.id,
		Name:           s.name,
		Config:         cfg,
		RuntimeHandler: s.runtimeHandler,
		State:          s.getState().String(),
		CreatedAt:      s.createdAt,
	}, err
}

func sandboxFromRecord(rec sandboxRecord, dir string) (*sandbox, error) {
	cfg := &runtimeapi.PodSandboxConfig{}
	if err := unmarshalProto(rec.Config, cfg); err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", rec.ID, err)
	}
	return &sandbox{
		object:         object{kind: "sandbox", id: rec.ID, name: rec.Name, dir: dir, createdAt: rec.CreatedAt},
		config:         cfg,
		runtimeHandler: rec.RuntimeHandler,
		state:          runtimeapi.PodSandboxState(runtimeapi.PodSandboxState_value[rec.State]),
	}, nil
}

// runPodSandbox creates a ready sandbox and the pod's log directory.
func (rt *Runtime) runPodSandbox(cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	if cfg.GetMetadata() == nil {
		return "", fmt.Errorf("sandbox config must include metadata: %w", errInvalidArgument)
	}
	if handler != "" {
		return "", fmt.Errorf("no runtime for %q is configured: %w", handler, errNotFound)
	}
	id := newID()
	name := sandboxName(cfg.Metadata)
	if err := rt.reserveName(name, id); err != nil {
		return "", fmt.Errorf("failed to reserve sandbox name %q: %w", name, err)
	}
	s := &sandbox{
		object: object{kind: "sandbox", id: id, name: name, dir: filepath.Join(rt.root, sandboxesDir, id), createdAt: time.Now().UnixNano()},
		config: cfg,
		state:  runtimeapi.PodSandboxState_SANDBOX_READY,
	}
	err := os.MkdirAll(s.dir, 0o755)
	if err == nil && cfg.LogDirectory != "" {
		err = os.MkdirAll(cfg.LogDirectory, 0o755)
	}
	if err == nil {
		s.ports, err = forwardHostPorts(cfg)
	}
	if err != nil {
		os.RemoveAll(s.dir)
		rt.releaseName(name)
		return "", fmt.Errorf("failed to create sandbox %q: %w", name, err)
	}
	rt.save(s)
	add(rt, rt.sandboxes, s)
	rt.log.Info("sandbox ready", "id", id, "name", name)
	return id, nil
}

// sandboxContainers lists the containers of sandbox id.
func (rt *Runtime) sandboxContainers(id string) []*container {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var cs []*container
	for _, c := range rt.containers {
		if c.sandboxID == id {
			cs = append(cs, c)
		}
	}
	return cs
}

// stopPodSandbox kills the sandbox's containers at once, as containerd's
// stopPodSandbox does (timeout 0), and makes the sandbox NOTREADY. Stopping
// a sandbox that does not exist is no error: the call is idempotent.
func (rt *Runtime) stopPodSandbox(ctx context.Context, id string) error {
	s, found, err := lookupToClean(rt, rt.sandboxes, "sandbox", id)
	if !found {
		return err
	}
	return rt.stopSandbox(ctx, s)
}

func (rt *Runtime) stopSandbox(ctx context.Context, s *sandbox) error {
	for _, c := range rt.sandboxContainers(s.id) {
		if err := rt.stop(ctx, c, 0); err != nil {
			return fmt.Errorf("failed to stop container %q: %w", c.id, err)
		}
	}
	s.mu.Lock()
	changed := s.state != runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	s.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	ports := s.ports
	s.ports = nil
	s.mu.Unlock()
	if ports != nil {
		ports.stop()
	}
	if changed {
		rt.save(s)
		rt.log.Info("sandbox stopped", "id", s.id, "name", s.name)
	}
	return nil
}

// removePodSandbox stops the sandbox, removes its containers and forgets it.
// Removing a sandbox that does not exist is no error.
func (rt *Runtime) removePodSandbox(ctx context.Context, id string) error {
	s, found, err := lookupToClean(rt, rt.sandboxes, "sandbox", id)
	if !found {
		return err
	}
	if err := rt.stopSandbox(ctx, s); err != nil {
		return fmt.Errorf("failed to forcibly stop sandbox %q: %w", s.id, err)
	}
	for _, c := range rt.sandboxContainers(s.id) {
		if err := rt.remove(ctx, c); err != nil {
			return fmt.Errorf("failed to remove container %q: %w", c.id, err)
		}
	}
	return forget(rt, rt.sandboxes, s)
}

// podSandboxStatus reports a sandbox as containerd's toCRISandboxStatus does:
// a host-network sandbox has no IP of its own.
func (rt *Runtime) podSandboxStatus(id string) (*runtimeapi.PodSandboxStatus, error) {
	s, err := rt.getSandbox(id)
	if err != nil {
		return nil, fmt.Errorf("an error occurred when try to find sandbox: %w", err)
	}
	nsOpts := s.config.GetLinux().GetSecurityContext().GetNamespaceOptions()
	ip := ""
	if nsOpts.GetNetwork() != runtimeapi.NamespaceMode_NODE {
		// Every pod shares the host's network here; loopback is where its
		// processes can be reached.
		ip = "127.0.0.1"
	}
	return &runtimeapi.PodSandboxStatus{
		Id:             s.id,
		Metadata:       s.config.GetMetadata(),
		State:          s.getState(),
		CreatedAt:      s.createdAt,
		Network:        &runtimeapi.PodSandboxNetworkStatus{Ip: ip},
		Linux:          &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: nsOpts}},
		Labels:         s.config.GetLabels(),
		Annotations:    s.config.GetAnnotations(),
		RuntimeHandler: s.runtimeHandler,
	}, nil
}

// listPodSandbox lists the sandboxes that match every field set in f, oldest
// first. An ID filter matches a unique prefix, as containerd's does.
func (rt *Runtime) listPodSandbox(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	rt.mu.Lock()
	all := oldestFirst(rt.sandboxes)
	wantID := fullID(rt.sandboxes, f.GetId())
	rt.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for _, s := range all {
		state := s.getState()
		switch {
		case wantID != "" && wantID != s.id,
			f.GetState() != nil && f.GetState().GetState() != state,
			!matchLabels(f.GetLabelSelector(), s.config.GetLabels()):
			continue
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id:             s.id,
			Metadata:       s.config.GetMetadata(),
			State:          state,
			CreatedAt:      s.createdAt,
			Labels:         s.config.GetLabels(),
			Annotations:    s.config.GetAnnotations(),
			RuntimeHandler: s.runtimeHandler,
		})
	}
	return out
}

// matchLabels reports whether labels hold every key and value of selector:
// CRI's label selector is an exact match of each pair.
func matchLabels(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
