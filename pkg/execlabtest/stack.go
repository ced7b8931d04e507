package execlabtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/execlab/execlab/internal/goroutines"
	"github.com/execlab/execlab/internal/ports"
	"github.com/execlab/execlab/internal/procs"
	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/pki"
)

// The stack's state directory: what scripts, docs and tests find there.
const (
	apiserverDir          = "apiserver" // fake-apiserver's --data-dir
	tokensFile            = "apiserver/tokens.csv"
	policyFile            = "apiserver/policy.yaml"
	kubeconfigFile        = "kubeconfig"
	kubeletKubeconfigFile = "kubelet.kubeconfig"
	logsDir               = "logs"
	pidsDir               = "pids"
	manifestFile          = "stack.json"
	// criSocket is a fake-cri's socket in its root.
	criSocket = "fake-cri.sock"
)

// The pprof labels of an in-process stack's goroutines (see Goroutines).
const (
	stackLabel     = "execlabtest.stack"
	componentLabel = "execlabtest.component"
)

// stackIDs numbers the stacks of this process, for their labels.
var stackIDs atomic.Int64

// Stack is a running set of components: one apiserver and, per node, a
// kubelet and its runtime.
type Stack struct {
	// Kubeconfig is the path of a kubeconfig for admin (system:masters).
	Kubeconfig string
	APIServer  *Component
	Nodes      []*Node
	// CertDir holds the cluster CA and certificates (package pki); empty
	// with Options.Insecure.
	CertDir string

	opts       Options
	id         string
	adminToken string
	config     *rest.Config
	client     kubernetes.Interface
	// http reaches the components' health and profiling endpoints.
	http *http.Client
	// tracingReceiver is the apiserver's span receiver, which the other
	// components send their spans to.
	tracingReceiver string
	leftovers       []procs.Process
}

// Node is one kubelet with its runtime.
type Node struct {
	Name    string
	Kubelet *Component
	// Runtime is the node's fake-cri; nil with an external CRIEndpoint.
	Runtime *Component
	// CRIEndpoint is what the kubelet dials: unix://CRISocket.
	CRIEndpoint string
	CRISocket   string
	// RuntimeDir is fake-cri's root; empty with an external CRIEndpoint.
	RuntimeDir string
}

// Start starts the apiserver, then each node's runtime and kubelet, and
// returns once every node is Ready. Stop stops it.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Stack{opts: opts, id: strconv.FormatInt(stackIDs.Add(1), 10)}
	if err := s.start(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// New starts a stack for the test, in t.TempDir() unless opts names a
// state directory, and stops it when the test ends. The test fails if the
// stack does not start or stop cleanly or, run in this process, leaves a
// goroutine of its own running; if it failed, each component's last log
// lines are logged.
func New(t testing.TB, opts Options) *Stack {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if s.opts.BinDir == "" {
			goroutines.Wait(t, 0, func() int { n, _ := goroutines.Labelled(stackLabel, s.id); return n },
				func() string { _, dump := goroutines.Labelled(stackLabel, s.id); return dump })
		}
		if t.Failed() {
			for _, c := range s.Components() {
				t.Logf("%s's log ends:\n%s", c.Name, lastLines(c.Log(), 40))
			}
		}
	})
	return s
}

func (s *Stack) start(ctx context.Context) error {
	dirs := []string{logsDir, apiserverDir}
	if s.opts.BinDir != "" {
		dirs = append(dirs, pidsDir)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			return err
		}
	}
	spec := apiserverSpec{
		dataDir:         s.path(apiserverDir),
		insecure:        s.opts.Insecure,
		streamingMode:   s.opts.StreamingMode,
		followRedirects: s.opts.StreamingProxyRedirects,
		maxSessions:     s.opts.MaxStreamingSessions,
		tracingEndpoint: s.opts.TracingEndpoint,
		faults:          s.opts.faultsAt("", faults.APIServer),
	}
	if !s.opts.Insecure {
		s.CertDir = filepath.Join(spec.dataDir, "pki")
		var err error
		if s.adminToken, err = s.writeSecurityFiles(); err != nil {
			return err
		}
		spec.tokenFile, spec.policyFile = s.path(tokensFile), s.path(policyFile)
	}
	var err error
	if s.http, err = newHTTPClient(s.CertDir); err != nil {
		return err
	}
	ln, port, err := s.reservePort(s.opts.APIServerPort)
	if err != nil {
		return fmt.Errorf("apiserver: %w", err)
	}
	spec.port = port
	receiver, receiverPort, err := s.reservePort(0)
	if err != nil {
		return fmt.Errorf("apiserver: %w", err)
	}
	spec.receiverPort, spec.receiver = receiverPort, &reservedListener{ln: receiver}
	s.tracingReceiver = spec.receiverURL()
	s.APIServer = s.newComponent("apiserver", spec, port, ln)
	s.APIServer.URL = s.baseURL(port)
	s.APIServer.ready = s.answers(s.APIServer.URL + "/readyz")
	if err := s.launch(ctx, s.APIServer); err != nil {
		return err
	}
	if err := s.writeKubeconfigs(); err != nil {
		return err
	}
	for _, name := range s.opts.Nodes {
		if err := s.startNode(ctx, name); err != nil {
			return err
		}
	}
	return s.writeManifest()
}

// writeKubeconfigs writes admin's kubeconfig and the kubelets', and makes
// the stack's client from admin's.
func (s *Stack) writeKubeconfigs() error {
	s.Kubeconfig = s.path(kubeconfigFile)
	if err := s.WriteKubeconfig(s.Kubeconfig, Credentials{Token: s.adminToken}); err != nil {
		return err
	}
	var kubelet Credentials
	if !s.opts.Insecure {
		kubelet = Credentials{ClientCertificate: pki.CertFile(s.CertDir, pki.KubeletClient), ClientKey: pki.KeyFile(s.CertDir, pki.KubeletClient)}
	}
	if err := s.WriteKubeconfig(s.path(kubeletKubeconfigFile), kubelet); err != nil {
		return err
	}
	var err error
	if s.config, err = clientcmd.BuildConfigFromFlags("", s.Kubeconfig); err != nil {
		return err
	}
	s.client, err = kubernetes.NewForConfig(s.config)
	return err
}

// startNode starts a node's runtime, unless it uses an external one, and
// its kubelet, and waits until the node is Ready.
func (s *Stack) startNode(ctx context.Context, name string) error {
	n := &Node{Name: name, CRIEndpoint: s.opts.CRIEndpoint}
	s.Nodes = append(s.Nodes, n)
	if n.CRIEndpoint != "" {
		n.CRISocket = strings.TrimPrefix(n.CRIEndpoint, "unix://")
	} else if err := s.startRuntime(ctx, n); err != nil {
		return err
	}
	kubeletName := s.nodeComponent("kubelet", name)
	ln, port, err := s.reservePort(s.opts.KubeletPort)
	if err != nil {
		return fmt.Errorf("%s: %w", kubeletName, err)
	}
	spec := kubeletSpec{
		node:            name,
		port:            port,
		kubeconfig:      s.path(kubeletKubeconfigFile),
		runtimeEndpoint: n.CRIEndpoint,
		rootDir:         s.path(kubeletName),
		pkiDir:          s.CertDir,
		maxSessions:     s.opts.MaxStreamingSessions,
		tracingEndpoint: s.tracingReceiver,
		faults:          s.opts.faultsAt(name, faults.Kubelet),
		redirect:        s.opts.RedirectContainerStreaming,
		featureGates:    s.opts.KubeletFeatureGates[name],
	}
	n.Kubelet = s.newComponent(kubeletName, spec, port, ln)
	n.Kubelet.URL = s.baseURL(port)
	n.Kubelet.ready = s.answers(n.Kubelet.URL + "/healthz")
	if err := s.launch(ctx, n.Kubelet); err != nil {
		return err
	}
	return s.waitNodeReady(ctx, name)
}

// startRuntime starts the node's own fake-cri and waits for its socket.
func (s *Stack) startRuntime(ctx context.Context, n *Node) error {
	name := s.nodeComponent("cri", n.Name)
	n.RuntimeDir = s.path(name)
	n.CRISocket = filepath.Join(n.RuntimeDir, criSocket)
	n.CRIEndpoint = "unix://" + n.CRISocket
	// bind(2) takes at most 107 bytes of path.
	if len(n.CRISocket) > 107 {
		return fmt.Errorf("%s: socket path %s is %d bytes long, more than a unix socket takes: use a shorter state directory", name, n.CRISocket, len(n.CRISocket))
	}
	spec := criSpec{
		socket:            n.CRISocket,
		root:              n.RuntimeDir,
		maxSessions:       s.opts.MaxStreamingSessions,
		streamIdleTimeout: s.opts.StreamIdleTimeout,
		tracingEndpoint:   s.tracingReceiver,
		faults:            s.opts.faultsAt(n.Name, faults.Runtime, faults.Streaming),
	}
	if s.opts.BinDir != "" {
		// A process's goroutines are counted at its debug server.
		var err error
		if spec.debugPort, err = ports.Free(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	n.Runtime = s.newComponent(name, spec, 0, nil)
	if spec.debugPort != 0 {
		n.Runtime.URL = fmt.Sprintf("http://%s", net.JoinHostPort(loopback, strconv.Itoa(spec.debugPort)))
	}
	n.Runtime.ready = accepts(n.CRISocket)
	return s.launch(ctx, n.Runtime)
}

// newComponent makes the component that spec describes, to run in this
// process or as a process, by the stack's options.
func (s *Stack) newComponent(name string, spec componentSpec, port int, ln net.Listener) *Component {
	c := &Component{Name: name, LogPath: s.path(logsDir, name+".log")}
	if s.opts.BinDir == "" {
		c.run = &runInProcess{
			spec:     spec,
			labels:   pprof.Labels(stackLabel, s.id, componentLabel, s.id+"/"+name),
			logPath:  c.LogPath,
			port:     port,
			reserved: ln,
		}
	} else {
		c.run = &runProcess{
			binary:  filepath.Join(s.opts.BinDir, spec.binary()),
			args:    spec.args(),
			logPath: c.LogPath,
			pidPath: s.path(pidsDir, name+".pid"),
			detach:  s.opts.Detach,
			env:     []string{s.mark()},
		}
	}
	return c
}

// launch starts c and waits until it serves.
func (s *Stack) launch(ctx context.Context, c *Component) error {
	if err := c.run.start(); err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	return c.waitReady(ctx)
}

// nodeComponent names a node's kubelet or runtime: by its kind alone in a
// stack of one node, as scripts/up.sh's state has always had them.
func (s *Stack) nodeComponent(kind, node string) string {
	if len(s.opts.Nodes) == 1 {
		return kind
	}
	return kind + "-" + node
}

// reservePort is the port a component is to listen on: fixed, or a free
// one. In this process the listener is taken at once and handed to the
// component; a process gets the port only, one no outgoing connection
// takes meanwhile (internal/ports).
func (s *Stack) reservePort(fixed int) (net.Listener, int, error) {
	if s.opts.BinDir == "" {
		ln, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(fixed)))
		if err != nil {
			return nil, 0, err
		}
		return ln, ln.Addr().(*net.TCPAddr).Port, nil
	}
	if fixed != 0 {
		return nil, fixed, nil
	}
	port, err := ports.Free()
	return nil, port, err
}

// baseURL is the URL of the apiserver or a kubelet listening on port.
func (s *Stack) baseURL(port int) string {
	scheme := "https"
	if s.opts.Insecure {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(loopback, strconv.Itoa(port)))
}

// answers is a readiness check: url answers 200.
func (s *Stack) answers(url string) func() bool {
	return func() bool {
		resp, err := s.http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// accepts is a readiness check: the unix socket at path takes connections.
func accepts(path string) func() bool {
	return func() bool {
		c, err := net.Dial("unix", path)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
}

func (s *Stack) waitNodeReady(ctx context.Context, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
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
	if err != nil {
		return fmt.Errorf("node %s not Ready: %w", name, err)
	}
	return nil
}

func (s *Stack) path(elem ...string) string {
	return filepath.Join(append([]string{s.opts.StateDir}, elem...)...)
}

// Client is a clientset for the stack's apiserver, as admin.
func (s *Stack) Client() kubernetes.Interface { return s.client }

// RESTConfig is a copy of the client configuration the kubeconfig
// describes.
func (s *Stack) RESTConfig() *rest.Config { return rest.CopyConfig(s.config) }

// TracingReceiver is the URL where the apiserver takes in the spans of the
// kubelets and runtimes (their --tracing-endpoint).
func (s *Stack) TracingReceiver() string { return s.tracingReceiver }

// AdminToken is the bearer token of admin, the kubeconfig's user.
func (s *Stack) AdminToken() string { return s.adminToken }

// Components lists the stack's components, the apiserver first, then each
// node's runtime and kubelet.
func (s *Stack) Components() []*Component {
	var cs []*Component
	if s.APIServer != nil {
		cs = append(cs, s.APIServer)
	}
	for _, n := range s.Nodes {
		for _, c := range []*Component{n.Runtime, n.Kubelet} {
			if c != nil {
				cs = append(cs, c)
			}
		}
	}
	return cs
}

// Restart starts c, a component of the stack that has stopped, again as it
// was started — on the same ports, with the same state — and waits until
// it serves.
func (s *Stack) Restart(ctx context.Context, c *Component) error {
	if c.Running() {
		return fmt.Errorf("restart %s: it is still running", c.Name)
	}
	if err := s.launch(ctx, c); err != nil {
		return fmt.Errorf("restart %w", err)
	}
	return s.writeManifest()
}

// Stop deletes the pods first with an external runtime (see
// Options.CRIEndpoint), then stops the kubelets, the runtimes and the
// apiserver, each as SIGTERM does and, for a process past a grace period,
// with SIGKILL, and last kills what they left running (Leftovers),
// whatever died first.
func (s *Stack) Stop() error {
	var errs []error
	if s.opts.CRIEndpoint != "" && s.client != nil {
		errs = append(errs, s.deleteAllPods())
	}
	for _, n := range s.Nodes {
		errs = append(errs, n.Kubelet.Stop(), n.Runtime.Stop())
	}
	errs = append(errs, s.APIServer.Stop())
	var err error
	s.leftovers, err = s.endLeftovers()
	return errors.Join(append(errs, err)...)
}

// Leftovers are the processes the last Stop found left running and
// killed: what a component killed earlier could not end (the commands of
// a fake-cri's containers and execs), or a component Stop did not know of.
func (s *Stack) Leftovers() []procs.Process { return s.leftovers }

// deleteAllPods deletes every pod and waits until the kubelets have removed
// them from the runtime. A component that was killed is started again
// first: only the kubelet removes pods from an external runtime, and it
// needs the apiserver to learn of the deletion.
func (s *Stack) deleteAllPods() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	components := []*Component{s.APIServer}
	for _, n := range s.Nodes {
		components = append(components, n.Kubelet)
	}
	for _, c := range components {
		if c != nil && !c.Running() {
			if err := s.Restart(ctx, c); err != nil {
				return fmt.Errorf("start %s again to delete its pods: %w", c.Name, err)
			}
		}
	}
	_, err := s.DeletePods(ctx, nil)
	return err
}
