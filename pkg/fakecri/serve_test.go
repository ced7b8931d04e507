package fakecri

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	clientexec "k8s.io/client-go/util/exec"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/testutil"
)

// TestServe runs fake-cri as its main does, on a socket a previous run left
// behind, and drives it as a kubelet and a client would: CRI calls over the
// socket, then the Exec URL with client-go's SPDY executor.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fake-cri.sock")
	staleSocket(t, sock)
	debugAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testutil.SyncBuffer
	exited := make(chan error)
	go func() {
		exited <- Serve(ctx, Options{
			Config:       Config{Root: filepath.Join(dir, "root"), Logger: slog.New(slog.NewTextHandler(&stderr, nil))},
			Socket:       sock,
			DebugAddress: debugAddr,
		})
	}()

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rs, is := runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	waitReady(t, rs, &stderr)

	v, err := rs.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil || v.RuntimeName != "fake-cri" || v.RuntimeApiVersion != "v1" || v.RuntimeVersion == "" {
		t.Fatalf("Version: %v, %v", v, err)
	}
	sb, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "default", Uid: "u"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
		Image:    &runtimeapi.ImageSpec{Image: img.ImageRef},
		Command:  []string{"sleep", "1000"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatal(err)
	}
	pid := containerPID(t, rs, c.ContainerId)
	baseline := goroutines(t, debugAddr)

	exec := func(req *runtimeapi.ExecRequest, opts remotecommand.StreamOptions) error {
		t.Helper()
		resp, err := rs.Exec(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(resp.Url, "http://127.0.0.1:") || !strings.Contains(resp.Url, "/exec/") {
			t.Fatalf("Exec answered %q, want an absolute URL of the streaming server", resp.Url)
		}
		ex, err := remotecommand.NewSPDYExecutor(&rest.Config{}, "POST", mustParse(t, resp.Url))
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return ex.StreamWithContext(sctx, opts)
	}
	t.Run("exec", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := exec(&runtimeapi.ExecRequest{ContainerId: c.ContainerId, Cmd: []string{"sh", "-c", "cat; echo err >&2; exit 3"}, Stdin: true, Stdout: true, Stderr: true},
			remotecommand.StreamOptions{Stdin: strings.NewReader("through stdin\n"), Stdout: &stdout, Stderr: &stderr})
		var exitErr clientexec.CodeExitError // what client-go returns
		if !errors.As(err, &exitErr) || exitErr.Code != 3 {
			t.Errorf("error %v (%T), want exit code 3", err, err)
		}
		if stdout.String() != "through stdin\n" || stderr.String() != "err\n" {
			t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
		}
	})
	t.Run("tty", func(t *testing.T) {
		// The size travels apart from the command's start: wait for it.
		script := `while [ "$(stty size)" = "0 0" ]; do sleep 0.01; done; stty size`
		var stdout bytes.Buffer
		size := &oneSize{size: remotecommand.TerminalSize{Width: 100, Height: 40}, done: make(chan struct{})}
		defer close(size.done)
		err := exec(&runtimeapi.ExecRequest{ContainerId: c.ContainerId, Cmd: []string{"sh", "-c", script}, Stdout: true, Tty: true},
			remotecommand.StreamOptions{Stdout: &stdout, Tty: true, TerminalSizeQueue: size})
		if err != nil || stdout.String() != "40 100\r\n" {
			t.Errorf("stty size: %q, %v", stdout.String(), err)
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		err := exec(&runtimeapi.ExecRequest{ContainerId: c.ContainerId, Cmd: []string{"nosuchbinary"}, Stdout: true},
			remotecommand.StreamOptions{Stdout: io.Discard})
		if err == nil || !strings.Contains(err.Error(), `exec: "nosuchbinary": executable file not found in $PATH`) {
			t.Errorf("error %v", err)
		}
	})

	t.Run("attach", func(t *testing.T) {
		cat, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "cat"},
			Image:    &runtimeapi.ImageSpec{Image: img.ImageRef},
			Command:  []string{"cat"},
			Stdin:    true, StdinOnce: true,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cat.ContainerId}); err != nil {
			t.Fatal(err)
		}
		resp, err := rs.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: cat.ContainerId, Stdin: true, Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := remotecommand.NewSPDYExecutor(&rest.Config{}, "POST", mustParse(t, resp.Url))
		if err != nil {
			t.Fatal(err)
		}
		// With StdinOnce, the end of the client's input ends cat, and so
		// the session.
		var stdout bytes.Buffer
		err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("typed\n"), Stdout: &stdout, Stderr: io.Discard})
		if err != nil || stdout.String() != "typed\n" {
			t.Errorf("attach: stdout %q, %v", stdout.String(), err)
		}
	})
	t.Run("port-forward", func(t *testing.T) {
		port := listen(t, func(c net.Conn) { io.Copy(c, c) })
		resp, err := rs.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: sb.PodSandboxId, Port: []int32{port}})
		if err != nil {
			t.Fatal(err)
		}
		// As kubectl port-forward does, with client-go's port forwarder.
		local := testutil.PortForward(t, testutil.SPDYDialer(t, &rest.Config{}, resp.Url), int(port))
		if err := testutil.EchoThrough(local, len("ping\n")); err != nil {
			t.Errorf("through the forward: %v", err)
		}
	})

	// Every session's goroutines, on both ends, are gone once it is over.
	for deadline := time.Now().Add(10 * time.Second); goroutines(t, debugAddr) > baseline; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the sessions, %d before", goroutines(t, debugAddr), baseline)
		}
	}

	cancel() // SIGTERM
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("Serve: %v; log:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fake-cri did not stop")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	// Its containers die with it.
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(b), ") Z ") {
			t.Errorf("container process %d outlived fake-cri: %s", pid, b)
		}
	}
}

// containerPID reads the process ID from ContainerStatus's verbose info, as
// crictl inspect shows it.
func containerPID(t *testing.T, rs runtimeapi.RuntimeServiceClient, id string) int {
	t.Helper()
	resp, err := rs.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("verbose info %q: %v", resp.Info, err)
	}
	return info.Pid
}

// goroutines reads fake-cri's goroutine count from its pprof endpoint.
func goroutines(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total ")))
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("pprof: %s %q", resp.Status, line)
	}
	return n
}

// staleSocket leaves a socket file at path, as a killed fake-cri would.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady waits until the runtime answers Status.
func waitReady(t *testing.T, rs runtimeapi.RuntimeServiceClient, log *testutil.SyncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := rs.Status(context.Background(), &runtimeapi.StatusRequest{}); err == nil {
			return
		}
	}
	t.Fatalf("fake-cri never answered; log:\n%s", log.String())
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// oneSize is a terminal that is never resized: its size, then nothing
// until done.
type oneSize struct {
	size remotecommand.TerminalSize
	sent bool
	done chan struct{}
}

func (q *oneSize) Next() *remotecommand.TerminalSize {
	if !q.sent {
		q.sent = true
		return &q.size
	}
	<-q.done
	return nil
}
