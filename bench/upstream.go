package main

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"

	"github.com/execlab/execlab/pkg/pki"
)

// The upstream chain: upstream's parts, each in a process of its own (this
// program run with "role NAME"), wired as a cluster wires them, with as
// little code of ours around them as the shape allows:
//
//	runtime    k8s.io/cri-streaming's server over local processes, behind
//	           a CRI RuntimeService that answers Exec (containerd's CRI
//	           plugin: internal/cri/server/container_exec.go)
//	kubelet    the kubelet API's exec route over TLS: the CRI Exec call, then
//	           apimachinery's UpgradeAwareHandler to the runtime's URL
//	           (pkg/kubelet/server/server.go getExec, proxyStream), and for a
//	           WebSocket v5 client k8s.io/apiserver's StreamTranslatorHandler,
//	           as a kubelet with ExtendWebSocketsToKubelet translates
//	apiserver  pods/exec over TLS: a bearer token, the kubelet URL, then
//	           UpgradeAwareHandler, wrapped in the TranslatingHandler with
//	           the StreamTranslatorHandler in translate mode
//	           (pkg/registry/core/pod/rest/subresources.go ExecREST.Connect)
//
// What upstream does and these do not: no pod lookup in storage, no
// authorization, admission or audit at the apiserver, no
// SubjectAccessReview at the kubelet. Each serves net/http/pprof on a debug
// port, as ours do, so that both chains are measured the same way.

// Containers of the upstream runtime: the name says where its commands run.
const (
	// containerOwnSession runs each command in a session of its own, as
	// fake-cri does (and as a container's processes are scheduled apart).
	containerOwnSession = "own-session"
	// containerRuntimeSession runs each command in the runtime's session.
	containerRuntimeSession = "runtime-session"
)

// upstreamPod is the pod the upstream apiserver and kubelet serve.
const upstreamPod = "bench"

// runRole runs one part of the upstream chain until SIGTERM or SIGINT.
func runRole(args []string) error {
	if len(args) == 0 {
		return errors.New("role: which one? runtime, kubelet or apiserver")
	}
	fs := flag.NewFlagSet("role "+args[0], flag.ContinueOnError)
	var (
		socket      = fs.String("runtime-socket", "", "the runtime's CRI socket")
		streamPort  = fs.Int("stream-port", 0, "runtime: the streaming server's port")
		port        = fs.Int("port", 0, "kubelet: the API port; apiserver: the translate-mode port")
		passPort    = fs.Int("passthrough-port", 0, "apiserver: the passthrough-mode port")
		debugPort   = fs.Int("debug-port", 0, "net/http/pprof's port")
		pkiDir      = fs.String("pki", "", "the chain's PKI (package pki)")
		kubeletPort = fs.Int("kubelet-port", 0, "apiserver: the kubelet's port")
		token       = fs.String("token", "", "apiserver: the bearer token it accepts")
	)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	// Quiet, as the components are by default; a failure still says why.
	log.SetOutput(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go serveDebug(*debugPort)
	switch args[0] {
	case "runtime":
		return runRuntime(ctx, *socket, *streamPort)
	case "kubelet":
		return runKubelet(ctx, *port, *socket, *pkiDir)
	case "apiserver":
		return runAPIServer(ctx, *port, *passPort, *kubeletPort, *pkiDir, *token)
	}
	return fmt.Errorf("role: unknown role %q", args[0])
}

// serveDebug serves net/http/pprof on loopback.
func serveDebug(port int) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	if err := http.ListenAndServe(net.JoinHostPort(loopback, strconv.Itoa(port)), mux); err != nil {
		log.Fatalf("debug server: %v", err)
	}
}

// serveUntil serves srv on ln until ctx ends, then closes it.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runRuntime serves cri-streaming's server for local processes, and the CRI
// Exec that hands out its URLs.
func runRuntime(ctx context.Context, socket string, streamPort int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(streamPort)))
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	// streaming.DefaultConfig, as containerd's CRI plugin starts it
	// (internal/cri/server/streaming.go newStreamServer); its Start would
	// listen on Addr itself: this listener is the same, taken first.
	cfg := streaming.DefaultConfig
	cfg.Addr = addr
	cfg.BaseURL = &url.URL{Scheme: "http", Host: addr}
	cfg.SupportedPortForwardProtocols = portforward.SupportedProtocols
	streams, err := streaming.NewServer(cfg, localRuntime{})
	if err != nil {
		return err
	}
	os.Remove(socket)
	criLn, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	g := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(g, &criRuntime{streams: streams})
	go g.Serve(criLn)
	defer g.Stop()
	return serveUntil(ctx, &http.Server{Handler: streams}, ln)
}

// criRuntime is the CRI RuntimeService of the upstream runtime: Exec only.
type criRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	streams streaming.Server
}

func (c *criRuntime) Exec(_ context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if _, ok := placements[req.ContainerId]; !ok {
		return nil, status.Errorf(codes.NotFound, "container %q not found", req.ContainerId)
	}
	return c.streams.GetExec(req)
}

// placements say, per container, whether its commands lead a session of
// their own.
var placements = map[string]bool{containerOwnSession: true, containerRuntimeSession: false}

// localRuntime runs each exec as a local process, its stdio through pipes
// copied to and from the session's streams (what os/exec does for a writer
// that is not a file), as fake-cri does.
type localRuntime struct{}

func (localRuntime) Exec(ctx context.Context, containerID string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, _ <-chan remotecommandserver.TerminalSize) error {
	setsid, ok := placements[containerID]
	switch {
	case !ok:
		return fmt.Errorf("container %q not found", containerID)
	case tty:
		return errors.New("no terminals in the benchmark")
	case len(cmd) == 0:
		return errors.New("no command")
	}
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid, Pdeathsig: syscall.SIGKILL}
	c.WaitDelay = 5 * time.Second
	if out != nil {
		c.Stdout = out
	}
	if errOut != nil {
		c.Stderr = errOut
	}
	if in != nil {
		w, err := c.StdinPipe()
		if err != nil {
			return err
		}
		// Not waited for: it ends when the session closes stdin.
		go func() {
			io.Copy(w, in)
			w.Close()
		}()
	}
	err := c.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		return utilexec.CodeExitError{Err: err, Code: exitErr.ExitCode()}
	}
	return err
}

func (localRuntime) Attach(context.Context, string, io.Reader, io.WriteCloser, io.WriteCloser, bool, <-chan remotecommandserver.TerminalSize) error {
	return errors.New("no attach in the benchmark")
}

func (localRuntime) PortForward(context.Context, string, int32, io.ReadWriteCloser) error {
	return errors.New("no port-forward in the benchmark")
}

// runKubelet serves the kubelet API's exec route over TLS.
func runKubelet(ctx context.Context, port int, socket, pkiDir string) error {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	runtime := runtimeapi.NewRuntimeServiceClient(conn)
	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) {
		if !fromMaster(r) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		opts, err := remotecommandserver.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := runtime.Exec(r.Context(), &runtimeapi.ExecRequest{
			ContainerId: r.PathValue("container"),
			Cmd:         r.URL.Query()[corev1.ExecCommandParam],
			Tty:         opts.TTY, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		u, err := url.Parse(resp.Url)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
			translator.NewStreamTranslatorHandler(u, nil, 0, translator.Options{
				Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.TTY,
			}).ServeHTTP(w, r)
			return
		}
		proxy.NewUpgradeAwareHandler(u, nil, false, true, kubeletResponder{}).ServeHTTP(w, r)
	})
	cert, cas, err := keyPairAndCA(pkiDir, pki.Kubelet)
	if err != nil {
		return err
	}
	// The kubelet's serving TLS (cmd/kubelet/app/server.go
	// InitializeTLS): client certificates verified when given.
	tlsConfig := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    cas,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}
	ln, err := tls.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(port)), tlsConfig)
	if err != nil {
		return err
	}
	return serveUntil(ctx, &http.Server{Handler: mux}, ln)
}

// keyPairAndCA loads the chain's certificate name with its key, and the CA.
func keyPairAndCA(pkiDir, name string) (tls.Certificate, *x509.CertPool, error) {
	cert, err := pki.KeyPair(pkiDir, name)
	if err != nil {
		return cert, nil, err
	}
	cas, err := pki.CertPool(pkiDir)
	return cert, cas, err
}

// fromMaster is the kubelet's authentication with a fixed authorization,
// as ours has: a verified client certificate in system:masters.
func fromMaster(r *http.Request) bool {
	return r.TLS != nil && len(r.TLS.VerifiedChains) > 0 &&
		slices.Contains(r.TLS.VerifiedChains[0][0].Subject.Organization, "system:masters")
}

// kubeletResponder is pkg/kubelet/server/server.go's responder.
type kubeletResponder struct{}

func (kubeletResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// runAPIServer serves pods/exec over TLS on two ports: one translating
// WebSocket v5 to SPDY towards the kubelet, one passing it through.
func runAPIServer(ctx context.Context, translatePort, passthroughPort, kubeletPort int, pkiDir, token string) error {
	clientCert, cas, err := keyPairAndCA(pkiDir, pki.APIServerKubeletClient)
	if err != nil {
		return err
	}
	// The kubelet client's transport, as kube-apiserver builds it
	// (pkg/kubelet/client/kubelet_client.go MakeTransport).
	transport := utilnet.SetTransportDefaults(&http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{clientCert},
			RootCAs:      cas,
			MinVersion:   tls.VersionTLS12,
		},
	})
	kubelet := net.JoinHostPort(loopback, strconv.Itoa(kubeletPort))
	serving, err := pki.KeyPair(pkiDir, pki.APIServer)
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	for _, p := range []struct {
		port      int
		translate bool
	}{{translatePort, true}, {passthroughPort, false}} {
		mux := http.NewServeMux()
		mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}/exec", func(w http.ResponseWriter, r *http.Request) {
			serveExec(w, r, token, kubelet, transport, p.translate)
		})
		ln, err := tls.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(p.port)), &tls.Config{
			Certificates: []tls.Certificate{serving},
			ClientAuth:   tls.RequestClientCert,
			MinVersion:   tls.VersionTLS12,
		})
		if err != nil {
			return err
		}
		go func() { errs <- serveUntil(ctx, &http.Server{Handler: mux}, ln) }()
	}
	return errors.Join(<-errs, <-errs)
}

// serveExec is pods/exec: ExecREST.Connect with ExecLocation's URL.
func serveExec(w http.ResponseWriter, r *http.Request, token, kubelet string, transport http.RoundTripper, translate bool) {
	got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	flag := func(name string) bool { b, _ := strconv.ParseBool(q.Get(name)); return b }
	opts := corev1.PodExecOptions{
		Container: q.Get("container"),
		Command:   q["command"],
		Stdin:     flag("stdin"), Stdout: flag("stdout"), Stderr: flag("stderr"), TTY: flag("tty"),
	}
	// pkg/registry/core/pod/strategy.go streamParams: the kubelet's query.
	params := url.Values{corev1.ExecCommandParam: opts.Command}
	for name, on := range map[string]bool{corev1.ExecStdinParam: opts.Stdin, corev1.ExecStdoutParam: opts.Stdout, corev1.ExecStderrParam: opts.Stderr, corev1.ExecTTYParam: opts.TTY} {
		if on {
			params.Set(name, "1")
		}
	}
	loc := &url.URL{
		Scheme:   "https",
		Host:     kubelet,
		Path:     fmt.Sprintf("/exec/%s/%s/%s", r.PathValue("ns"), r.PathValue("pod"), opts.Container),
		RawQuery: params.Encode(),
	}
	var handler http.Handler = proxy.NewUpgradeAwareHandler(loc, transport, false, true, proxy.NewErrorResponder(apiResponder{w}))
	if translate {
		streams := translator.Options{Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.TTY}
		handler = translator.NewTranslatingHandler(handler, translator.NewStreamTranslatorHandler(loc, transport, 0, streams),
			wsstream.IsWebSocketRequestWithStreamCloseProtocol)
	}
	handler.ServeHTTP(w, r)
}

// apiResponder answers a proxy failure as kube-apiserver's responder does:
// a Status.
type apiResponder struct{ w http.ResponseWriter }

func (a apiResponder) Error(err error) {
	st := apierrors.NewInternalError(err).Status()
	http.Error(a.w, st.Message, int(st.Code))
}
