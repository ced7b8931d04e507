// Package stack starts the execlab components as real processes — one
// fake-apiserver, and per node a fake-cri and a fake-kubelet — and stops them
// again. The end-to-end tests use it; scripts/up.sh does the same in shell for
// people.
package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options say what to start.
type Options struct {
	// BinDir holds fake-apiserver, fake-kubelet and fake-cri.
	BinDir string
	// StateDir receives every component's state, logs and the kubeconfig.
	StateDir string
	// Nodes are the node names, one kubelet and one runtime each; default "node-1".
	Nodes []string
	// StreamingMode is the apiserver's --streaming-mode; empty means its default.
	StreamingMode string
}

// Stack is a running set of components.
type Stack struct {
	opts       Options
	Kubeconfig string
	APIServer  *Process
	Nodes      []*Node
	config     *rest.Config
	client     kubernetes.Interface
}

// Node is one kubelet with its own runtime.
type Node struct {
	Name       string
	Kubelet    *Process
	Runtime    *Process
	CRISocket  string
	RuntimeDir string
}

// Start starts the apiserver, then each node's runtime and kubelet, and
// returns once every node is Ready.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if len(opts.Nodes) == 0 {
		opts.Nodes = []string{"node-1"}
	}
	s := &Stack{opts: opts}
	if err := s.start(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	args := []string{
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port),
		"--data-dir", s.dir("apiserver"),
	}
	if s.opts.StreamingMode != "" {
		args = append(args, "--streaming-mode", s.opts.StreamingMode)
	}
	if s.APIServer, err = s.startProcess("fake-apiserver", "apiserver", args); err != nil {
		return err
	}
	s.APIServer.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(ctx, s.APIServer, "/readyz"); err != nil {
		return err
	}
	s.Kubeconfig = filepath.Join(s.opts.StateDir, "kubeconfig")
	if err := WriteKubeconfig(s.Kubeconfig, s.APIServer.URL); err != nil {
		return err
	}
	if s.config, err = clientcmd.BuildConfigFromFlags("", s.Kubeconfig); err != nil {
		return err
	}
	if s.client, err = kubernetes.NewForConfig(s.config); err != nil {
		return err
	}
	for _, name := range s.opts.Nodes {
		if err := s.AddNode(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// AddNode starts a runtime and a kubelet for a new node and waits until the
// node is Ready.
func (s *Stack) AddNode(ctx context.Context, name string) error {
	n := &Node{Name: name, RuntimeDir: s.dir("cri-" + name)}
	n.CRISocket = filepath.Join(n.RuntimeDir, "fake-cri.sock")
	debugPort, err := freePort()
	if err != nil {
		return err
	}
	n.Runtime, err = s.startProcess("fake-cri", "cri-"+name, []string{
		"--listen", "unix://" + n.CRISocket,
		"--root", n.RuntimeDir,
		"--stream-address", "127.0.0.1:0",
		"--debug-address", fmt.Sprintf("127.0.0.1:%d", debugPort),
	})
	s.Nodes = append(s.Nodes, n)
	if err != nil {
		return err
	}
	n.Runtime.URL = fmt.Sprintf("http://127.0.0.1:%d", debugPort)
	if err := waitFile(ctx, n.Runtime, n.CRISocket); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	n.Kubelet, err = s.startProcess("fake-kubelet", "kubelet-"+name, []string{
		"--kubeconfig", s.Kubeconfig,
		"--node-name", name,
		"--address", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--container-runtime-endpoint", "unix://" + n.CRISocket,
		"--root-dir", s.dir("kubelet-" + name),
	})
	if err != nil {
		return err
	}
	n.Kubelet.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(ctx, n.Kubelet, "/healthz"); err != nil {
		return err
	}
	return s.waitNodeReady(ctx, name)
}

// Client is a clientset for the stack's apiserver.
func (s *Stack) Client() kubernetes.Interface { return s.client }

// RESTConfig is the client configuration the kubeconfig describes.
func (s *Stack) RESTConfig() *rest.Config { return rest.CopyConfig(s.config) }

// Processes lists every running component, apiserver first.
func (s *Stack) Processes() []*Process {
	ps := []*Process{s.APIServer}
	for _, n := range s.Nodes {
		ps = append(ps, n.Runtime, n.Kubelet)
	}
	var live []*Process
	for _, p := range ps {
		if p != nil {
			live = append(live, p)
		}
	}
	return live
}

// Stop stops the kubelets, then the runtimes, then the apiserver, each with
// SIGTERM and, past a grace period, SIGKILL.
func (s *Stack) Stop() error {
	var errs []error
	for _, n := range s.Nodes {
		errs = append(errs, n.Kubelet.Stop(), n.Runtime.Stop())
	}
	errs = append(errs, s.APIServer.Stop())
	return errors.Join(errs...)
}

// CreatePod creates pod and waits until it runs with every container ready.
func (s *Stack) CreatePod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	if _, err := s.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return s.WaitPod(ctx, pod.Namespace, pod.Name, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && podReady(p)
	})
}

// WaitPod polls the pod until done reports true.
func (s *Stack) WaitPod(ctx context.Context, ns, name string, done func(*corev1.Pod) bool) (*corev1.Pod, error) {
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := s.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return done(p), nil
	})
	if err != nil {
		return last, fmt.Errorf("wait for pod %s/%s (last status %+v): %w", ns, name, statusOf(last), err)
	}
	return last, nil
}

// WaitPodGone waits until the pod object no longer exists.
func (s *Stack) WaitPodGone(ctx context.Context, ns, name string) error {
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := s.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func (s *Stack) waitNodeReady(ctx context.Context, name string) error {
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := s.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

func (s *Stack) dir(name string) string { return filepath.Join(s.opts.StateDir, name) }

func (s *Stack) startProcess(binary, name string, args []string) (*Process, error) {
	if err := os.MkdirAll(s.opts.StateDir, 0o755); err != nil {
		return nil, err
	}
	return StartProcess(filepath.Join(s.opts.BinDir, binary), filepath.Join(s.opts.StateDir, name+".log"), args)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func statusOf(p *corev1.Pod) any {
	if p == nil {
		return nil
	}
	return p.Status
}

func waitHTTP(ctx context.Context, p *Process, path string) error {
	return p.waitFor(ctx, func() bool {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func waitFile(ctx context.Context, p *Process, path string) error {
	return p.waitFor(ctx, func() bool {
		c, err := net.Dial("unix", path)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the component binds it; on loopback in a test run that is rare
// and shows as a clear start-up error.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
