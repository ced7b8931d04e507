package demostack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"sigs.k8s.io/yaml"

	"github.com/execlab/execlab/pkg/apiserver"
	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/pki"
)

// Runtimes Up can run the pods on.
const (
	FakeRuntime       = "fake"
	ContainerdRuntime = "containerd"
)

// Config says where the stack's pieces are.
type Config struct {
	// Root is the repository: the binaries in bin/, scripts/demo-pod.yaml
	// and scripts/containerd.sh.
	Root string
	// StateDir holds the stack's state, logs, PID files and manifest.
	StateDir string
	// APIServerPort and KubeletPort are where Up starts them.
	APIServerPort int
	KubeletPort   int
	// TracingEndpoint, when set, is an OTLP/HTTP collector (a Jaeger) that
	// the apiserver sends every component's spans on to.
	TracingEndpoint string
	// Stdout gets what a script reads (the kubeconfig's path, the status);
	// Stderr what a person reads.
	Stdout, Stderr io.Writer
}

func (c Config) path(elem ...string) string {
	return filepath.Join(append([]string{c.StateDir}, elem...)...)
}

// UpOptions say how Up starts the stack.
type UpOptions struct {
	// Runtime is FakeRuntime (the default) or ContainerdRuntime.
	Runtime string
	// StreamingMode is the apiserver's (execlabtest.Options).
	StreamingMode apiserver.StreamingMode
	// RedirectContainerStreaming and StreamingProxyRedirects are the
	// teaching switches of the redirect lab (execlabtest.Options).
	RedirectContainerStreaming bool
	StreamingProxyRedirects    bool
}

// Up starts the stack in the background as opts say, unless it runs
// already: then it starts again, as they were, the components that have
// stopped (a lab killed one, say), and leaves the others. Either way it
// makes sure the demo pod runs and prints the kubeconfig's path.
func Up(ctx context.Context, cfg Config, opts UpOptions) error {
	runtime := cmp.Or(opts.Runtime, FakeRuntime)
	if runtime != FakeRuntime && runtime != ContainerdRuntime {
		return fmt.Errorf("unknown runtime %q: use --runtime %s or --runtime %s", runtime, FakeRuntime, ContainerdRuntime)
	}
	if s, err := execlabtest.Attach(cfg.StateDir); err == nil && anyAlive(s) {
		return restore(ctx, cfg, s)
	}
	for _, p := range []struct {
		port int
		env  string
	}{{cfg.APIServerPort, "EXECLAB_APISERVER_PORT"}, {cfg.KubeletPort, "EXECLAB_KUBELET_PORT"}} {
		if !portFree(p.port) {
			return fmt.Errorf("port %d is in use; set %s", p.port, p.env)
		}
	}
	stackOpts := execlabtest.Options{
		StateDir:        cfg.StateDir,
		BinDir:          filepath.Join(cfg.Root, "bin"),
		Detach:          true,
		APIServerPort:   cfg.APIServerPort,
		KubeletPort:     cfg.KubeletPort,
		Users:           labUsers,
		StreamingMode:   opts.StreamingMode,
		TracingEndpoint: cfg.TracingEndpoint,

		RedirectContainerStreaming: opts.RedirectContainerStreaming,
		StreamingProxyRedirects:    opts.StreamingProxyRedirects,
	}
	if runtime == ContainerdRuntime {
		var err error
		if stackOpts.CRIEndpoint, err = startContainerd(ctx, cfg); err != nil {
			return err
		}
	}
	s, err := execlabtest.Start(ctx, stackOpts)
	if err != nil {
		return err
	}
	if err := ensureDemoPod(ctx, cfg, s, false); err != nil {
		return fmt.Errorf("%w; the logs are in %s", err, cfg.path("logs"))
	}
	fmt.Fprintln(cfg.Stdout, s.Kubeconfig)
	return nil
}

// restore starts again the components of a running stack that have
// stopped, then waits for the demo pod.
func restore(ctx context.Context, cfg Config, s *execlabtest.Stack) error {
	var restarted []*execlabtest.Component
	for _, c := range s.Components() {
		if c.Running() {
			continue
		}
		if err := s.Restart(ctx, c); err != nil {
			return err
		}
		restarted = append(restarted, c)
	}
	if len(restarted) == 0 {
		fmt.Fprintf(cfg.Stderr, "execlab is already running (state in %s); `make down` stops it.\n", cfg.StateDir)
		fmt.Fprintln(cfg.Stdout, s.Kubeconfig)
		return nil
	}
	for _, c := range restarted {
		fmt.Fprintf(cfg.Stderr, "execlab: started %s again (pid %d)\n", c.Name, c.PID())
	}
	if err := ensureDemoPod(ctx, cfg, s, false); err != nil {
		return fmt.Errorf("%w; the logs are in %s", err, cfg.path("logs"))
	}
	fmt.Fprintln(cfg.Stdout, s.Kubeconfig)
	return nil
}

// Down stops what Up started, kubelet first, then kills what was left
// running (a killed fake-cri's commands, say), and says what it ended;
// state, logs and the kubeconfig stay for the next Up. With containerd the
// pods are deleted first (Stack.Stop), and containerd is stopped only if
// Up started it.
func Down(ctx context.Context, cfg Config) error {
	s, err := execlabtest.Attach(cfg.StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(cfg.Stderr, "execlab: stopped 0 component(s)")
		return nil
	}
	if err != nil {
		return err
	}
	// In the order Stop stops them.
	var running []*execlabtest.Component
	for _, n := range s.Nodes {
		for _, c := range []*execlabtest.Component{n.Kubelet, n.Runtime} {
			if c != nil && c.Running() {
				running = append(running, c)
			}
		}
	}
	if s.APIServer.Running() {
		running = append(running, s.APIServer)
	}
	stopErr := s.Stop()
	for _, c := range running {
		fmt.Fprintf(cfg.Stderr, "execlab: stopped %s (pid %d)\n", c.Name, c.PID())
	}
	for _, p := range s.Leftovers() {
		fmt.Fprintf(cfg.Stderr, "execlab: ended pid %d left running: %s\n", p.PID, p.Command)
	}
	// The count last: scripts and labs read it with tail -1.
	fmt.Fprintf(cfg.Stderr, "execlab: stopped %d component(s)\n", len(running))
	return errors.Join(stopErr, stopContainerd(ctx, cfg))
}

// Reset brings the running stack back to the demo state without a
// rebuild: every pod but the demo pod is deleted, and the demo pod created
// again if it is gone or does not run.
func Reset(ctx context.Context, cfg Config) error {
	s, err := running(cfg)
	if err != nil {
		return err
	}
	deleted, err := s.DeletePods(ctx, isDemoPod)
	for _, p := range deleted {
		fmt.Fprintf(cfg.Stderr, "pod/%s deleted (namespace %s)\n", p.Name, p.Namespace)
	}
	return errors.Join(err, ensureDemoPod(ctx, cfg, s, true))
}

// running is the stack in the state directory, if its apiserver runs.
func running(cfg Config) (*execlabtest.Stack, error) {
	s, err := execlabtest.Attach(cfg.StateDir)
	if err != nil || !s.APIServer.Running() {
		return nil, fmt.Errorf("execlab is not running (state in %s); `make demo` starts it", cfg.StateDir)
	}
	return s, nil
}

// demoPod is scripts/demo-pod.yaml.
func demoPod(cfg Config) (*corev1.Pod, error) {
	path := filepath.Join(cfg.Root, "scripts", "demo-pod.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(b, &pod); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &pod, nil
}

func isDemoPod(p *corev1.Pod) bool {
	return p.Namespace == metav1.NamespaceDefault && p.Name == "demo"
}

// ensureDemoPod creates the demo pod if it is gone and waits until it runs
// ready. A demo pod that exists is waited for, or with recreate, deleted
// and created again if it does not run ready.
func ensureDemoPod(ctx context.Context, cfg Config, s *execlabtest.Stack, recreate bool) error {
	want, err := demoPod(cfg)
	if err != nil {
		return err
	}
	pods := s.Client().CoreV1().Pods(want.Namespace)
	got, err := pods.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	case !recreate:
		// The pod of an earlier up: until the kubelet just started has
		// synced it, its status tells of containers the runtime may have
		// lost, so only an exec shows that it runs.
		pod, err := s.WaitPod(ctx, want.Namespace, want.Name, execlabtest.RunningAndReady)
		if err != nil {
			return err
		}
		if err := waitExec(ctx, s, pod); err != nil {
			return err
		}
		fmt.Fprintf(cfg.Stderr, "pod/%s unchanged\n", want.Name)
		return nil
	case execlabtest.RunningAndReady(got):
		fmt.Fprintf(cfg.Stderr, "pod/%s unchanged\n", want.Name)
		return nil
	default:
		grace := int64(1)
		if err := pods.Delete(ctx, want.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := s.WaitPodGone(ctx, want.Namespace, want.Name); err != nil {
			return fmt.Errorf("delete pod %s: %w", want.Name, err)
		}
		fmt.Fprintf(cfg.Stderr, "pod/%s deleted: it was %s\n", want.Name, got.Status.Phase)
	}
	if _, err := s.CreatePod(ctx, want); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Stderr, "pod/%s created\n", want.Name)
	return nil
}

// waitExec runs true in the pod's first container, straight at its node's
// kubelet API as the apiserver would ask it (with the apiserver's kubelet
// client certificate), until it succeeds, for up to 30 s: then the kubelet
// and the runtime run the container, whatever the apiserver's switches.
// client-go's SPDY executor follows the redirect of a kubelet with
// --redirect-container-streaming, which the apiserver need not.
func waitExec(ctx context.Context, s *execlabtest.Stack, pod *corev1.Pod) error {
	var kubelet string
	for _, n := range s.Nodes {
		if n.Name == pod.Spec.NodeName {
			kubelet = n.Kubelet.URL
		}
	}
	if kubelet == "" {
		return fmt.Errorf("pod %s runs on %q, no node of the stack", pod.Name, pod.Spec.NodeName)
	}
	u, err := url.Parse(fmt.Sprintf("%s/exec/%s/%s/%s?command=true&output=1", kubelet, pod.Namespace, pod.Name, pod.Spec.Containers[0].Name))
	if err != nil {
		return err
	}
	config := &rest.Config{Host: kubelet, TLSClientConfig: rest.TLSClientConfig{
		CAFile:   pki.CertFile(s.CertDir, pki.CA),
		CertFile: pki.CertFile(s.CertDir, pki.APIServerKubeletClient),
		KeyFile:  pki.KeyFile(s.CertDir, pki.APIServerKubeletClient),
	}}
	exec, err := remotecommand.NewSPDYExecutor(config, http.MethodPost, u)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("exec in pod %s: %w (last: %v)", pod.Name, err, last)
	}
	return nil
}

func anyAlive(s *execlabtest.Stack) bool {
	for _, c := range s.Components() {
		if c.Running() {
			return true
		}
	}
	return false
}

// portFree reports whether nothing listens on the loopback port.
func portFree(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}
