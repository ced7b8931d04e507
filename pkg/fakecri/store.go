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

// load reads the sandboxes and containers kept under the root. A container
// recorded as running lost its process with the previous fake-cri: it is
// exited now, code 255, reason Unknown, and its sandbox is not ready.
func (rt *Runtime) load() error {
	now := time.Now().UnixNano()
	sbs, err := readAll(filepath.Join(rt.root, sandboxesDir), sandboxFromRecord)
	if err != nil {
		return err
	}
	for _, s := range sbs {
		if s.state == runtimeapi.PodSandboxState_SANDBOX_READY {
			s.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
			rt.save(s)
		}
		add(rt, rt.sandboxes, s)
	}
	cs, err := readAll(filepath.Join(rt.root, containersDir), containerFromRecord)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.status.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			c.status.state = runtimeapi.ContainerState_CONTAINER_EXITED
			c.status.finishedAt = now
			c.status.exitCode = unknownExitCode
			c.status.reason = unknownExitReason
			c.status.pid = 0
			rt.save(c)
			rt.log.Info("container lost its process in a restart", "id", c.id, "name", c.name)
		}
		if c.status.state == runtimeapi.ContainerState_CONTAINER_EXITED {
			close(c.exited)
		}
		add(rt, rt.containers, c)
	}
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
