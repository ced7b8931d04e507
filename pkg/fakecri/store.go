package fakecri

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/procs"
	"github.com/execlab/execlab/pkg/fakecri/shim"
)

// The layout under Root.
const (
	sandboxesDir  = "sandboxes"     // sandboxes/<id>/metadata.json
	containersDir = "containers"    // containers/<id>/metadata.json and workdir/
	metadataFile  = "metadata.json" // one sandbox's or container's record
	imagesFile    = "images.json"   // every pulled image
	workDirName   = "workdir"       // a container's own working directory
)

// Exit code and reason of a container whose process was lost, as containerd
// records them (internal/cri/server/helpers.go).
const (
	unknownExitCode   = 255
	unknownExitReason = "Unknown"
)

// sandboxRecord is what is kept of a sandbox, as JSON. The CRI config is
// kept in protojson, the canonical JSON of protobuf messages.
type sandboxRecord struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Config         json.RawMessage `json:"config"`
	RuntimeHandler string          `json:"runtimeHandler,omitempty"`
	State          string          `json:"state"`
	CreatedAt      int64           `json:"createdAt"`
}

// containerRecord is what is kept of a container, as JSON.
type containerRecord struct {
	ID        string          `json:"id"`
	SandboxID string          `json:"sandboxId"`
	Name      string          `json:"name"`
	Config    json.RawMessage `json:"config"`
	ImageRef  string          `json:"imageRef"`
	Image     containerImage  `json:"image"`
	LogPath   string          `json:"logPath,omitempty"`
	Status    statusRecord    `json:"status"`
}

type statusRecord struct {
	State      string `json:"state"`
	CreatedAt  int64  `json:"createdAt"`
	StartedAt  int64  `json:"startedAt,omitempty"`
	FinishedAt int64  `json:"finishedAt,omitempty"`
	ExitCode   int32  `json:"exitCode"`
	Reason     string `json:"reason,omitempty"`
	Message    string `json:"message,omitempty"`
	Pid        int    `json:"pid,omitempty"`
}

// writeJSON replaces path with v as JSON, atomically: a crash leaves the old
// file or the new one, never half of one.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// save records x as it is now; errors are logged, not returned: the
// in-memory state stays the truth while fake-cri runs. Saves of one object
// are serialised and each takes the state when it writes, so the last write
// holds the last state. Call it without x's mu held.
func (rt *Runtime) save(x kept) {
	o := x.meta()
	o.saveMu.Lock()
	defer o.saveMu.Unlock()
	rec, err := x.record()
	if err == nil {
		err = writeJSON(filepath.Join(o.dir, metadataFile), rec)
	}
	if err != nil {
		rt.log.Error("save "+o.kind, "id", o.id, "err", err)
	}
}

// load reads the sandboxes and containers kept under the root, and finds
// each running container's task again (recover). Without a shim the
// containers lost their processes with the previous fake-cri, and their
// sandboxes are not ready: the kubelet makes them again.
func (rt *Runtime) load() error {
	sbs, err := readAll(filepath.Join(rt.root, sandboxesDir), sandboxFromRecord)
	if err != nil {
		return err
	}
	for _, s := range sbs {
		if s.state == runtimeapi.PodSandboxState_SANDBOX_READY {
			var err error
			if rt.shim == "" {
				err = errors.New("its containers died with fake-cri")
			} else {
				s.ports, err = forwardHostPorts(s.config)
			}
			if err != nil {
				rt.log.Info("sandbox not ready after a restart", "id", s.id, "name", s.name, "err", err)
				s.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
				rt.save(s)
			}
		}
		add(rt, rt.sandboxes, s)
	}
	cs, err := readAll(filepath.Join(rt.root, containersDir), containerFromRecord)
	if err != nil {
		return err
	}
	for _, c := range cs {
		rt.recover(c)
		add(rt, rt.containers, c)
	}
	return nil
}

// recover finds the task of a container recorded as running, as
// containerd's CRI plugin does at start (internal/cri/server/restart.go
// loadContainer): through its shim, running, or exited while fake-cri was
// away; a container that runs nothing, idle as it was. A task that cannot
// be found (no shim, or a shim that was killed) is lost: exited, code 255,
// reason Unknown. A shim that the previous fake-cri did not get to end
// after recording the exit ends now.
func (rt *Runtime) recover(c *container) {
	dir := filepath.Join(c.dir, shimDir)
	if c.status.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		if client, err := shim.Connect(dir); err == nil {
			client.Shutdown()
		}
		if c.status.state == runtimeapi.ContainerState_CONTAINER_EXITED {
			close(c.exited)
		}
		return
	}
	var t task
	var err error
	switch {
	case rt.shim == "":
		err = errors.New("no shim: it died with fake-cri")
	case len(processArgs(c.config, c.image.Config)) == 0:
		t = newIdleTask()
	default:
		var client *shim.Client
		if client, err = shim.Connect(dir); err == nil {
			t = shimTask{client}
		}
	}
	if err == nil {
		err = rt.reattach(c, t)
	}
	if err != nil {
		// What the process started may outlive a shim that was killed.
		procs.Sessions(filepath.Join(dir, sessionsDir)).End()
		c.status.state = runtimeapi.ContainerState_CONTAINER_EXITED
		c.status.finishedAt = time.Now().UnixNano()
		c.status.exitCode = unknownExitCode
		c.status.reason = unknownExitReason
		c.status.pid = 0
		rt.save(c)
		close(c.exited)
		rt.log.Info("container lost its process in a restart", "id", c.id, "name", c.name, "err", err)
		return
	}
	rt.log.Info("container found running after a restart", "id", c.id, "name", c.name, "pid", t.processID())
}

// reattach makes t, found again, c's task, and monitors it as start does.
func (rt *Runtime) reattach(c *container, t task) error {
	s, err := rt.getSandbox(c.sandboxID)
	var cio *containerIO
	if err == nil {
		if cio, err = newContainerIO(c.logPath, c.config.GetTty()); err != nil {
			err = fmt.Errorf("failed to create container loggers: %w", err)
		}
	}
	if err != nil {
		t.release()
		t.stdio().closeStdio()
		return err
	}
	rt.prepare(c, s)
	cio.pipe(t.stdio())
	rt.monitors.Add(1)
	c.task, c.io = t, cio
	c.status.pid = t.processID()
	go rt.monitor(c)
	return nil
}

// readAll reads the records dir/*/metadata.json and makes each the object
// it records with fromRecord. A directory without a record is what a crash
// during create or remove leaves: it is skipped.
func readAll[R any, T kept](dir string, fromRecord func(rec R, dir string) (T, error)) ([]T, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var xs []T
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		var rec R
		err := readJSON(filepath.Join(dir, e.Name(), metadataFile), &rec)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		x, err := fromRecord(rec, filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	return xs, nil
}

func marshalProto(m proto.Message) (json.RawMessage, error) {
	return protojson.Marshal(m)
}

func unmarshalProto(b json.RawMessage, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
}
