package fakecri

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerInfo is the verbose part of a container's status, a subset of
// containerd's ContainerInfo (container_status.go), as crictl inspect shows it.
type containerInfo struct {
	SandboxID  string                      `json:"sandboxID"`
	Pid        int                         `json:"pid"`
	WorkingDir string                      `json:"workingDir,omitempty"`
	Config     *runtimeapi.ContainerConfig `json:"config"`
}

// containerStatus reports a container as containerd's toCRIContainerStatus
// does: timestamps only for the states that have them, and an exited
// container's reason Completed or Error when nothing more precise is known.
// verbose adds an "info" entry: containerInfo as JSON.
func (rt *Runtime) containerStatus(id string, verbose bool) (*runtimeapi.ContainerStatus, map[string]string, error) {
	c, err := rt.getContainer(id)
	if err != nil {
		return nil, nil, fmt.Errorf("an error occurred when try to find container %q: %w", id, err)
	}
	c.mu.Lock()
	st, wd := c.status, c.wd
	c.mu.Unlock()
	var info map[string]string
	if verbose {
		b, err := json.Marshal(containerInfo{SandboxID: c.sandboxID, Pid: st.pid, WorkingDir: wd, Config: c.config})
		if err != nil {
			return nil, nil, fmt.Errorf("failed to marshal info of container %q: %w", c.id, err)
		}
		info = map[string]string{"info": string(b)}
	}
	reason := st.reason
	if st.state == runtimeapi.ContainerState_CONTAINER_EXITED && reason == "" {
		reason = errorExitReason
		if st.exitCode == 0 {
			reason = completeExitReason
		}
	}
	var started, finished int64
	switch st.state {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		started = st.startedAt
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		started, finished = st.startedAt, st.finishedAt
	}
	// The image in a status is its tag, the image in a config its ID
	// (containerd's ContainerStatus).
	image := c.config.GetImage()
	if img, ok := rt.images.get(c.imageRef); ok && len(img.RepoTags) > 0 {
		image = &runtimeapi.ImageSpec{Image: img.RepoTags[0]}
	}
	sig := runtimeapi.Signal(runtimeapi.Signal_value["SIGNAL_"+unix.SignalName(stopSignal(c))])
	return &runtimeapi.ContainerStatus{
		Id:          c.id,
		Metadata:    c.config.GetMetadata(),
		State:       st.state,
		CreatedAt:   c.createdAt,
		StartedAt:   started,
		FinishedAt:  finished,
		ExitCode:    st.exitCode,
		Image:       image,
		ImageRef:    c.imageRef,
		ImageId:     c.imageRef,
		Reason:      reason,
		Message:     st.message,
		Labels:      c.config.GetLabels(),
		Annotations: c.config.GetAnnotations(),
		Mounts:      c.config.GetMounts(),
		LogPath:     c.logPath,
		User:        processUser(),
		StopSignal:  sig,
	}, info, nil
}

// listContainers lists the containers that match every field set in f,
// oldest first, as containerd's filterCRIContainers.
func (rt *Runtime) listContainers(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	rt.mu.Lock()
	all := oldestFirst(rt.containers)
	wantID, wantSandbox := fullID(rt.containers, f.GetId()), fullID(rt.sandboxes, f.GetPodSandboxId())
	rt.mu.Unlock()
	var out []*runtimeapi.Container
	for _, c := range all {
		st := c.getStatus()
		switch {
		case wantID != "" && wantID != c.id,
			wantSandbox != "" && wantSandbox != c.sandboxID,
			f.GetState() != nil && f.GetState().GetState() != st.state,
			!matchLabels(f.GetLabelSelector(), c.config.GetLabels()):
			continue
		}
		out = append(out, &runtimeapi.Container{
			Id:           c.id,
			PodSandboxId: c.sandboxID,
			Metadata:     c.config.GetMetadata(),
			Image:        c.config.GetImage(),
			ImageRef:     c.imageRef,
			ImageId:      c.imageRef,
			State:        st.state,
			CreatedAt:    c.createdAt,
			Labels:       c.config.GetLabels(),
			Annotations:  c.config.GetAnnotations(),
		})
	}
	return out
}

// reopenContainerLog makes a running container write to a new log file at
// its log path, after the kubelet rotated the old one.
func (rt *Runtime) reopenContainerLog(id string) error {
	c, err := rt.getContainer(id)
	if err != nil {
		return fmt.Errorf("an error occurred when try to find container %q: %w", id, err)
	}
	c.mu.Lock()
	running := c.status.state == runtimeapi.ContainerState_CONTAINER_RUNNING
	cio := c.io
	c.mu.Unlock()
	if !running {
		return errors.New("container is not running")
	}
	if cio.log == nil {
		return nil
	}
	if err := cio.log.reopen(); err != nil {
		return fmt.Errorf("failed to reopen log file %q: %w", c.logPath, err)
	}
	return nil
}

// processUser is who the containers' processes run as: fake-cri's own user.
func processUser() *runtimeapi.ContainerUser {
	groups, _ := os.Getgroups()
	gids := make([]int64, len(groups))
	for i, g := range groups {
		gids[i] = int64(g)
	}
	return &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{
		Uid: int64(os.Getuid()), Gid: int64(os.Getgid()), SupplementalGroups: gids,
	}}
}
