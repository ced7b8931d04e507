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
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/execlab/execlab/pkg/pki"
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
	// CRIEndpoint, when set, is a CRI runtime already running (containerd
	// from scripts/containerd.sh, unix:///…) that every node's kubelet uses
	// instead of a fake-cri of its own. The stack neither starts nor stops
	// it, so Stop deletes the stack's pods first: nothing else would remove
	// their containers from it.
	CRIEndpoint string
	// Users are token users besides admin (AdminToken, system:masters).
	Users []User
	// Policy is the apiserver's authorization policy file (YAML); empty
	// grants only the built-in roles.
	Policy string
	// MaxStreamingSessions, when set, is every component's
	// --max-streaming-sessions.
	MaxStreamingSessions int
	// StreamIdleTimeout, when set, is every fake-cri's
	// --stream-idle-timeout.
	StreamIdleTimeout time.Duration
}

// Stack is a running set of components.
type Stack struct {
	opts       Options
	Kubeconfig string
	APIServer  *Process
	Nodes      []*Node
	config     *rest.Config
	client     kubernetes.Interface
	// CertDir holds the cluster CA and certificates.
	CertDir string
	// http reaches the components' health and profiling endpoints.
	http *http.Client
}

// Node is one kubelet with its runtime.
type Node struct {
	Name    string
	Kubelet *Process
	// Runtime is the node's fake-cri; nil with an external CRIEndpoint.
	Runtime *Process
	// CRIEndpoint is what the kubelet dials: unix://CRISocket.
	CRIEndpoint string
	CRISocket   string
	// RuntimeDir is fake-cri's root; empty with an external CRIEndpoint.
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
	certDir, tokenFile, policyFile, err := s.securityFiles()
	if err != nil {
		return err
	}
	s.CertDir = certDir
	if s.http, err = newHTTPClient(certDir); err != nil {
		return err
	}
	args := []string{
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port),
		"--data-dir", s.dir("apiserver"),
		"--token-auth-file", tokenFile,
		"--authorization-policy-file", policyFile,
	}
	if s.opts.StreamingMode != "" {
		args = append(args, "--streaming-mode", s.opts.StreamingMode)
	}
	args = append(args, s.sessionLimitArgs()...)
	if s.APIServer, err = s.startProcess("fake-apiserver", "apiserver", args); err != nil {
		return err
	}
	s.APIServer.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := s.waitHTTP(ctx, s.APIServer, "/readyz"); err != nil {
		return err
	}
	s.Kubeconfig = filepath.Join(s.opts.StateDir, "kubeconfig")
	if err := WriteKubeconfig(s.Kubeconfig, s.APIServer.URL, pki.CertFile(certDir, pki.CA), Credentials{Token: AdminToken}); err != nil {
		return err
	}
	kubeletCreds := Credentials{ClientCertificate: pki.CertFile(certDir, pki.KubeletClient), ClientKey: pki.KeyFile(certDir, pki.KubeletClient)}
	if err := WriteKubeconfig(s.dir("kubelet.kubeconfig"), s.APIServer.URL, pki.CertFile(certDir, pki.CA), kubeletCreds); err != nil {
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
	n := &Node{Name: name, CRIEndpoint: s.opts.CRIEndpoint}
	if n.CRIEndpoint == "" {
		if err := s.startFakeCRI(ctx, n); err != nil {
			return err
		}
	} else {
		s.Nodes = append(s.Nodes, n)
		n.CRISocket = strings.TrimPrefix(n.CRIEndpoint, "unix://")
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	n.Kubelet, err = s.startProcess("fake-kubelet", "kubelet-"+name, append(s.sessionLimitArgs(),
		"--kubeconfig", s.dir("kubelet.kubeconfig"),
		"--tls-cert-file", pki.CertFile(s.CertDir, pki.Kubelet),
		"--tls-private-key-file", pki.KeyFile(s.CertDir, pki.Kubelet),
		"--client-ca-file", pki.CertFile(s.CertDir, pki.CA),
		"--node-name", name,
		"--address", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--container-runtime-endpoint", n.CRIEndpoint,
		"--root-dir", s.dir("kubelet-"+name),
	))
	if err != nil {
		return err
	}
	n.Kubelet.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := s.waitHTTP(ctx, n.Kubelet, "/healthz"); err != nil {
		return err
	}
	return s.waitNodeReady(ctx, name)
}

// startFakeCRI starts the node's own fake-cri and waits for its socket.
func (s *Stack) startFakeCRI(ctx context.Context, n *Node) error {
	n.RuntimeDir = s.dir("cri-" + n.Name)
	n.CRISocket = filepath.Join(n.RuntimeDir, "fake-cri.sock")
	n.CRIEndpoint = "unix://" + n.CRISocket
	debugPort, err := freePort()
	if err != nil {
		return err
	}
	args := append(s.sessionLimitArgs(),
		"--listen", n.CRIEndpoint,
		"--root", n.RuntimeDir,
		"--stream-address", "127.0.0.1:0",
		"--debug-address", fmt.Sprintf("127.0.0.1:%d", debugPort),
	)
	if s.opts.StreamIdleTimeout != 0 {
		args = append(args, "--stream-idle-timeout", s.opts.StreamIdleTimeout.String())
	}
	n.Runtime, err = s.startProcess("fake-cri", "cri-"+n.Name, args)
	s.Nodes = append(s.Nodes, n)
	if err != nil {
		return err
	}
	n.Runtime.URL = fmt.Sprintf("http://127.0.0.1:%d", debugPort)
	return waitFile(ctx, n.Runtime, n.CRISocket)
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
	if s.opts.CRIEndpoint != "" {
		errs = append(errs, s.deletePods())
	}
	for _, n := range s.Nodes {
		errs = append(errs, n.Kubelet.Stop(), n.Runtime.Stop())
	}
	errs = append(errs, s.APIServer.Stop())
	return errors.Join(errs...)
}

// deletePods deletes every pod and waits until the kubelets have removed
// them from the runtime, which they do before the objects go. A component a
// test killed is started again first: only the kubelet removes pods from an
// external runtime, and it needs the apiserver to learn of the deletion.
func (s *Stack) deletePods() error {
	if s.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	components := []*Process{s.APIServer}
	for _, n := range s.Nodes {
		components = append(components, n.Kubelet)
	}
	for _, p := range components {
		if exited(p) {
			if err := s.Restart(ctx, p); err != nil {
				return fmt.Errorf("restart %s to delete its pods: %w", p.Name, err)
			}
		}
	}
	pods, err := s.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods to delete: %w", err)
	}
	// A second of grace: a shell or sleep as PID 1 ignores SIGTERM, and the
	// default 30 s would only delay its SIGKILL.
	grace := int64(1)
	var errs []error
	for _, p := range pods.Items {
		err := s.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	for _, p := range pods.Items {
		if err := s.WaitPodGone(ctx, p.Namespace, p.Name); err != nil {
			errs = append(errs, fmt.Errorf("wait for pod %s/%s to go: %w", p.Namespace, p.Name, err))
		}
	}
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

// sessionLimitArgs are the flags of Options.MaxStreamingSessions, which
// every component takes.
func (s *Stack) sessionLimitArgs() []string {
	if s.opts.MaxStreamingSessions == 0 {
		return nil
	}
	return []string{"--max-streaming-sessions", strconv.Itoa(s.opts.MaxStreamingSessions)}
}

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

func (s *Stack) waitHTTP(ctx context.Context, p *Process, path string) error {
	return p.waitFor(ctx, func() bool {
		resp, err := s.http.Get(p.URL + path)
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

// Restart starts p, one of the stack's components that has exited, again
// as it was started, and waits until it is ready.
func (s *Stack) Restart(ctx context.Context, p *Process) error {
	if err := p.restart(); err != nil {
		return err
	}
	if p == s.APIServer {
		return s.waitHTTP(ctx, p, "/readyz")
	}
	for _, n := range s.Nodes {
		switch p {
		case n.Kubelet:
			return s.waitHTTP(ctx, p, "/healthz")
		case n.Runtime:
			return waitFile(ctx, p, n.CRISocket)
		}
	}
	return fmt.Errorf("restart: %s is not a component of this stack", p.Name)
}
