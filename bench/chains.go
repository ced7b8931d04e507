package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/apiserver"
	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/pki"
)

// loopback is where everything listens.
const loopback = "127.0.0.1"

// The pod both chains exec into.
const (
	podNamespace = "default"
	podName      = "bench"
	// ourContainer is the one container of our pod; fake-cri runs each
	// exec in a session of its own.
	ourContainer = "main"
)

// proc is one server process of a chain, measured from /proc and through
// its pprof endpoints.
type proc struct {
	role string // apiserver, kubelet, runtime
	pid  int
	// debug is the base URL under which it serves /debug/pprof/.
	debug string
	http  *http.Client
}

// roles are the server processes of a chain, in the order of the table.
var roles = []string{"apiserver", "kubelet", "runtime"}

// way is one way into a chain: where the client enters and what it speaks.
type way int

const (
	viaAPIServerSPDY way = iota
	viaAPIServerWSTranslated
	viaAPIServerWSPassthrough
	viaKubeletSPDY
	viaKubeletWS
	viaStreamingSPDY
	viaStreamingWS
)

func (w way) String() string {
	return [...]string{
		"apiserver, SPDY",
		"apiserver, WebSocket v5 translated at the apiserver",
		"apiserver, WebSocket v5 passed through at the apiserver",
		"kubelet, SPDY",
		"kubelet, WebSocket v5",
		"streaming server, SPDY",
		"streaming server, WebSocket",
	}[w]
}

// target is a way into one chain, with everything a client needs.
type target struct {
	config *rest.Config
	// url asks for an exec of cmd with the given streams and returns the
	// URL to upgrade.
	url func(ctx context.Context, cmd []string, stdin, stdout, stderr bool) (string, error)
	// websocket is the subprotocols to offer; nil speaks SPDY.
	websocket []string
	// procs are the chain's server processes.
	procs []*proc
}

// column is one chain as a column of the table.
type column interface {
	name() string
	// target is the way into it, or an error saying why there is none.
	target(w way) (*target, error)
}

// ours is our chain: two stacks of the repository's binaries (pkg/execlabtest
// with BinDir), one whose apiserver translates WebSocket v5 and one whose
// apiserver passes it through.
type ours struct {
	translate, passthrough *ourStack
}

type ourStack struct {
	stack       *execlabtest.Stack
	procs       []*proc
	containerID string
	cri         runtimeapi.RuntimeServiceClient
	criConn     *grpc.ClientConn
	kubeletTLS  rest.TLSClientConfig
}

func (o *ours) name() string { return "ours" }

func (o *ours) stop() error {
	var errs []error
	for _, s := range []*ourStack{o.translate, o.passthrough} {
		if s != nil {
			if s.criConn != nil {
				s.criConn.Close()
			}
			errs = append(errs, s.stack.Stop())
		}
	}
	return errors.Join(errs...)
}

// startOurs starts our two stacks, each with the pod.
func startOurs(ctx context.Context, dir, binDir string, maxSessions int) (*ours, error) {
	o := &ours{}
	var err error
	if o.translate, err = startOurStack(ctx, filepath.Join(dir, "translate"), binDir, apiserver.StreamingTranslate, maxSessions); err != nil {
		return o, err
	}
	o.passthrough, err = startOurStack(ctx, filepath.Join(dir, "passthrough"), binDir, apiserver.StreamingPassthrough, maxSessions)
	return o, err
}

func startOurStack(ctx context.Context, dir, binDir string, mode apiserver.StreamingMode, maxSessions int) (*ourStack, error) {
	s, err := execlabtest.Start(ctx, execlabtest.Options{
		StateDir:             dir,
		BinDir:               binDir,
		StreamingMode:        mode,
		MaxStreamingSessions: maxSessions,
	})
	if err != nil {
		return nil, fmt.Errorf("our stack (%s): %w", mode, err)
	}
	st := &ourStack{stack: s}
	node := s.Nodes[0]
	for i, c := range []*execlabtest.Component{s.APIServer, node.Kubelet, node.Runtime} {
		st.procs = append(st.procs, &proc{role: roles[i], pid: c.PID(), debug: c.URL, http: s.HTTPClient()})
	}
	pod, err := s.CreatePod(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: podNamespace},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: ourContainer, Image: "busybox", Command: []string{"sleep", "1000000"},
		}}},
	})
	if err != nil {
		return st, err
	}
	if len(pod.Status.ContainerStatuses) == 0 {
		return st, errors.New("our pod has no container status")
	}
	_, st.containerID, _ = strings.Cut(pod.Status.ContainerStatuses[0].ContainerID, "://")
	if st.criConn, err = grpc.NewClient("unix://"+node.CRISocket, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return st, err
	}
	st.cri = runtimeapi.NewRuntimeServiceClient(st.criConn)
	st.kubeletTLS = rest.TLSClientConfig{
		CAFile:   pki.CertFile(s.CertDir, pki.CA),
		CertFile: pki.CertFile(s.CertDir, pki.APIServerKubeletClient),
		KeyFile:  pki.KeyFile(s.CertDir, pki.APIServerKubeletClient),
	}
	return st, nil
}

func (o *ours) target(w way) (*target, error) {
	s := o.translate
	if w == viaAPIServerWSPassthrough {
		s = o.passthrough
	}
	t := &target{procs: s.procs}
	switch w {
	case viaAPIServerSPDY, viaAPIServerWSTranslated, viaAPIServerWSPassthrough:
		t.config = s.stack.RESTConfig()
		var err error
		if t.url, err = apiserverURL(t.config, ourContainer); err != nil {
			return nil, err
		}
	case viaKubeletSPDY, viaKubeletWS:
		t.config = &rest.Config{Host: s.stack.Nodes[0].Kubelet.URL, TLSClientConfig: s.kubeletTLS}
		t.url = kubeletURL(t.config.Host, ourContainer)
	case viaStreamingSPDY, viaStreamingWS:
		t.config = &rest.Config{}
		t.url = streamingURL(s.cri, s.containerID)
	}
	switch w {
	case viaAPIServerWSTranslated, viaAPIServerWSPassthrough, viaKubeletWS, viaStreamingWS:
		// Ours speaks v5 at every hop.
		t.websocket = []string{"v5.channel.k8s.io"}
	}
	return t, nil
}

// apiserverURL is pods/exec as client-go builds it for kubectl exec.
func apiserverURL(config *rest.Config, container string) (func(context.Context, []string, bool, bool, bool) (string, error), error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, cmd []string, stdin, stdout, stderr bool) (string, error) {
		req := client.CoreV1().RESTClient().Post().
			Resource("pods").Namespace(podNamespace).Name(podName).SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdin: stdin, Stdout: stdout, Stderr: stderr}, scheme.ParameterCodec)
		return req.URL().String(), nil
	}, nil
}

// kubeletURL is the kubelet API's exec URL, as the apiserver builds it.
func kubeletURL(host, container string) func(context.Context, []string, bool, bool, bool) (string, error) {
	return func(_ context.Context, cmd []string, stdin, stdout, stderr bool) (string, error) {
		q := url.Values{corev1.ExecCommandParam: cmd}
		for name, on := range map[string]bool{corev1.ExecStdinParam: stdin, corev1.ExecStdoutParam: stdout, corev1.ExecStderrParam: stderr} {
			if on {
				q.Set(name, "1")
			}
		}
		return fmt.Sprintf("%s/exec/%s/%s/%s?%s", host, podNamespace, podName, container, q.Encode()), nil
	}
}

// streamingURL asks the runtime for an exec over CRI, as crictl exec does,
// and returns the streaming server's URL.
func streamingURL(cri runtimeapi.RuntimeServiceClient, containerID string) func(context.Context, []string, bool, bool, bool) (string, error) {
	return func(ctx context.Context, cmd []string, stdin, stdout, stderr bool) (string, error) {
		resp, err := cri.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: containerID, Cmd: cmd, Stdin: stdin, Stdout: stdout, Stderr: stderr})
		if err != nil {
			return "", fmt.Errorf("CRI Exec: %w", err)
		}
		return resp.Url, nil
	}
}

// upstream is the chain of upstream's parts (upstream.go), each a process
// of this program.
type upstream struct {
	procs       []*proc
	cmds        []*exec.Cmd
	exited      []chan struct{}
	token       string
	pkiDir      string
	apiPort     int // translate mode
	passPort    int // passthrough mode
	kubeletPort int
	criConn     *grpc.ClientConn
	cri         runtimeapi.RuntimeServiceClient
}

// upstreamColumn is the upstream chain with commands placed one way.
type upstreamColumn struct {
	*upstream
	container string
}

func (u upstreamColumn) name() string {
	if u.container == containerOwnSession {
		return "upstream"
	}
	return "upstream-rt"
}

// startUpstream starts the runtime, the kubelet and the apiserver, in that
// order, each once the one before it serves.
func startUpstream(ctx context.Context, dir, self string) (*upstream, error) {
	u := &upstream{pkiDir: filepath.Join(dir, "pki")}
	if err := pki.Ensure(u.pkiDir); err != nil {
		return u, err
	}
	b := make([]byte, 24)
	rand.Read(b)
	u.token = base64.RawURLEncoding.EncodeToString(b)
	socket := filepath.Join(dir, "runtime.sock")
	ports, err := freePorts(7)
	if err != nil {
		return u, err
	}
	u.kubeletPort, u.apiPort, u.passPort = ports[1], ports[2], ports[3]
	debug := func(i int) string { return "--debug-port=" + strconv.Itoa(ports[4+i]) }
	parts := []struct {
		role  string
		args  []string
		ready func() bool
	}{
		{"runtime", []string{"--runtime-socket", socket, "--stream-port", strconv.Itoa(ports[0]), debug(0)}, dials("unix", socket)},
		{"kubelet", []string{"--port", strconv.Itoa(u.kubeletPort), "--runtime-socket", socket, "--pki", u.pkiDir, debug(1)}, dials("tcp", addr(u.kubeletPort))},
		{"apiserver", []string{"--port", strconv.Itoa(u.apiPort), "--passthrough-port", strconv.Itoa(u.passPort), "--kubelet-port", strconv.Itoa(u.kubeletPort),
			"--pki", u.pkiDir, "--token", u.token, debug(2)}, dials("tcp", addr(u.passPort))},
	}
	for i, p := range parts {
		log, err := os.Create(filepath.Join(dir, p.role+".log"))
		if err != nil {
			return u, err
		}
		cmd := exec.Command(self, append([]string{"role", p.role}, p.args...)...)
		cmd.Stdout, cmd.Stderr = log, log
		// As execlabtest starts ours: in this program's session, ended
		// with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		err = cmd.Start()
		log.Close()
		if err != nil {
			return u, fmt.Errorf("upstream %s: %w", p.role, err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		u.cmds, u.exited = append(u.cmds, cmd), append(u.exited, done)
		debugURL := "http://" + addr(ports[4+i])
		u.procs = append(u.procs, &proc{role: p.role, pid: cmd.Process.Pid, debug: debugURL, http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
		ready := func() bool { return p.ready() && dials("tcp", addr(ports[4+i]))() }
		if err := waitFor(ctx, 30*time.Second, ready, done); err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, p.role+".log"))
			return u, fmt.Errorf("upstream %s: %w: %s", p.role, err, b)
		}
	}
	// The table lists apiserver, kubelet, runtime.
	u.procs[0], u.procs[2] = u.procs[2], u.procs[0]
	u.criConn, err = grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return u, err
	}
	u.cri = runtimeapi.NewRuntimeServiceClient(u.criConn)
	return u, nil
}

// stop ends the parts, the apiserver first: SIGTERM, then SIGKILL past 10 s.
func (u *upstream) stop() error {
	if u.criConn != nil {
		u.criConn.Close()
	}
	var errs []error
	for i := len(u.cmds) - 1; i >= 0; i-- {
		u.cmds[i].Process.Signal(syscall.SIGTERM)
		select {
		case <-u.exited[i]:
		case <-time.After(10 * time.Second):
			u.cmds[i].Process.Kill()
			<-u.exited[i]
			errs = append(errs, fmt.Errorf("upstream %s ignored SIGTERM and was killed", u.cmds[i].Args[2]))
		}
	}
	return errors.Join(errs...)
}

func (u upstreamColumn) target(w way) (*target, error) {
	t := &target{procs: u.procs}
	ca, err := os.ReadFile(pki.CertFile(u.pkiDir, pki.CA))
	if err != nil {
		return nil, err
	}
	switch w {
	case viaAPIServerSPDY, viaAPIServerWSTranslated, viaAPIServerWSPassthrough:
		port := u.apiPort
		if w == viaAPIServerWSPassthrough {
			port = u.passPort
		}
		t.config = &rest.Config{Host: "https://" + addr(port), BearerToken: u.token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
		if t.url, err = apiserverURL(t.config, u.container); err != nil {
			return nil, err
		}
	case viaKubeletSPDY, viaKubeletWS:
		t.config = &rest.Config{Host: "https://" + addr(u.kubeletPort), TLSClientConfig: rest.TLSClientConfig{
			CAData:   ca,
			CertFile: pki.CertFile(u.pkiDir, pki.APIServerKubeletClient),
			KeyFile:  pki.KeyFile(u.pkiDir, pki.APIServerKubeletClient),
		}}
		t.url = kubeletURL(t.config.Host, u.container)
	case viaStreamingSPDY, viaStreamingWS:
		t.config = &rest.Config{}
		t.url = streamingURL(u.cri, u.container)
	}
	switch w {
	case viaAPIServerWSTranslated, viaAPIServerWSPassthrough, viaKubeletWS:
		t.websocket = []string{"v5.channel.k8s.io"}
	case viaStreamingWS:
		// cri-streaming's WebSocket server stops at v4, which cannot
		// half-close stdin.
		t.websocket = []string{"v4.channel.k8s.io"}
	}
	return t, nil
}

func addr(port int) string { return net.JoinHostPort(loopback, strconv.Itoa(port)) }

// freePorts asks the kernel for n free loopback ports, all held until all
// are known so that they differ.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", addr(0))
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// dials is a readiness check: network address takes connections.
func dials(network, address string) func() bool {
	return func() bool {
		c, err := net.DialTimeout(network, address, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
}

// waitFor polls ready until it holds, the process ends or time runs out.
func waitFor(ctx context.Context, limit time.Duration, ready func() bool, exited <-chan struct{}) error {
	deadline := time.Now().Add(limit)
	for !ready() {
		select {
		case <-exited:
			return errors.New("exited during start-up")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", limit)
		}
	}
	return nil
}
