package execlabtest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"

	"github.com/execlab/execlab/pkg/apiserver"
	"github.com/execlab/execlab/pkg/fakecri"
	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/kubelet"
	"github.com/execlab/execlab/pkg/kubelet/server"
	"github.com/execlab/execlab/pkg/pki"
	"github.com/execlab/execlab/pkg/streaming"
)

// loopback is the one address every component listens on.
const loopback = "127.0.0.1"

// componentSpec is the one description of a component, from which both
// ways of running it are derived: serve runs it in this process through its
// package, args are the same settings as flags of its binary (whose flags
// and defaults the in-process options follow: cmd/<binary>/main.go).
type componentSpec interface {
	binary() string
	args() []string
	// serve runs the component until ctx ends; ln is its TCP listener, nil
	// for fake-cri, which listens on a unix socket.
	serve(ctx context.Context, ln net.Listener, log *slog.Logger) error
}

// apiserverSpec is the stack's apiserver.
type apiserverSpec struct {
	port int
	// dataDir keeps the objects; its pki/ holds the cluster PKI unless
	// insecure (fake-apiserver's default --cert-dir).
	dataDir       string
	insecure      bool
	tokenFile     string
	policyFile    string
	streamingMode apiserver.StreamingMode
	maxSessions   int
	// followRedirects is --streaming-proxy-redirects.
	followRedirects bool
	// receiverPort is where the apiserver takes in the others' spans;
	// tracingEndpoint, a collector it sends every span on to.
	receiverPort    int
	tracingEndpoint string
	faults          faults.Set
	// receiver, in this process, holds the listener taken on receiverPort
	// until the first start takes it.
	receiver *reservedListener
}

func (c apiserverSpec) binary() string { return "fake-apiserver" }

// receiverAddress is the apiserver's --tracing-receiver-address.
func (c apiserverSpec) receiverAddress() string {
	return net.JoinHostPort(loopback, strconv.Itoa(c.receiverPort))
}

// receiverURL is the --tracing-endpoint of the other components.
func (c apiserverSpec) receiverURL() string { return "http://" + c.receiverAddress() }

func (c apiserverSpec) args() []string {
	args := []string{
		"--bind-address", loopback,
		"--secure-port", strconv.Itoa(c.port),
		"--data-dir", c.dataDir,
		"--token-auth-file", c.tokenFile,
		"--authorization-policy-file", c.policyFile,
	}
	if c.streamingMode != "" {
		args = append(args, "--streaming-mode", string(c.streamingMode))
	}
	if c.followRedirects {
		args = append(args, "--streaming-proxy-redirects")
	}
	args = append(args, "--tracing-receiver-address", c.receiverAddress())
	if c.tracingEndpoint != "" {
		args = append(args, "--tracing-endpoint", c.tracingEndpoint)
	}
	args = append(args, faultArgs(c.faults)...)
	return append(args, sessionLimitArgs(c.maxSessions)...)
}

func (c apiserverSpec) serve(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	opts := apiserver.Options{
		BindAddress:             loopback,
		SecurePort:              c.port,
		DataDir:                 c.dataDir,
		TokenAuthFile:           c.tokenFile,
		AuthorizationPolicyFile: c.policyFile,
		StreamingMode:           c.streamingMode,
		MaxStreamingSessions:    c.maxSessions,
		StreamingProxyRedirects: c.followRedirects,
		TracingReceiverAddress:  c.receiverAddress(),
		TracingReceiverListener: c.receiver.take(),
		TracingEndpoint:         c.tracingEndpoint,
		Faults:                  c.faults,
		// The flags' defaults.
		AnonymousAuth:  true,
		AnonymousPaths: apiserver.DefaultAnonymousPaths,
		Logger:         log,
	}
	if !c.insecure {
		opts.CertDir = filepath.Join(c.dataDir, "pki")
	}
	srv, err := apiserver.New(opts)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, ln)
}

// criSpec is a node's fake-cri.
type criSpec struct {
	socket string
	root   string
	// debugPort, when set, serves net/http/pprof, where the goroutines of
	// a process are counted.
	debugPort         int
	maxSessions       int
	streamIdleTimeout time.Duration
	tracingEndpoint   string
	faults            faults.Set
}

func (c criSpec) binary() string { return "fake-cri" }

func (c criSpec) args() []string {
	args := []string{
		"--listen", "unix://" + c.socket,
		"--root", c.root,
		"--stream-address", streamAddress,
	}
	if c.debugPort != 0 {
		args = append(args, "--debug-address", net.JoinHostPort(loopback, strconv.Itoa(c.debugPort)))
	}
	if c.streamIdleTimeout != 0 {
		args = append(args, "--stream-idle-timeout", c.streamIdleTimeout.String())
	}
	args = append(args, "--tracing-endpoint", c.tracingEndpoint)
	args = append(args, faultArgs(c.faults)...)
	return append(args, sessionLimitArgs(c.maxSessions)...)
}

func (c criSpec) serve(ctx context.Context, _ net.Listener, log *slog.Logger) error {
	opts := fakecri.Options{
		Config:          fakecri.Config{Root: c.root, Logger: log},
		Socket:          c.socket,
		TracingEndpoint: c.tracingEndpoint,
		Faults:          c.faults,
		Streaming: streaming.Config{
			Addr:              streamAddress,
			MaxSessions:       c.maxSessions,
			StreamIdleTimeout: c.streamIdleTimeout,
			Logger:            log,
		},
	}
	if c.debugPort != 0 {
		opts.DebugAddress = net.JoinHostPort(loopback, strconv.Itoa(c.debugPort))
	}
	return fakecri.Serve(ctx, opts)
}

// streamAddress is where fake-cri's streaming server listens: loopback,
// on a port the kernel picks.
const streamAddress = loopback + ":0"

// kubeletSpec is a node's kubelet.
type kubeletSpec struct {
	node            string
	port            int
	kubeconfig      string
	runtimeEndpoint string
	rootDir         string
	// pkiDir holds its serving certificate and the CA of its clients;
	// empty serves plain HTTP with no authentication.
	pkiDir          string
	maxSessions     int
	tracingEndpoint string
	faults          faults.Set
	// redirect is --redirect-container-streaming.
	redirect bool
	// featureGates is --feature-gates ("Name=bool,..."); empty: the defaults.
	featureGates string
}

func (c kubeletSpec) binary() string { return "fake-kubelet" }

func (c kubeletSpec) args() []string {
	args := []string{
		"--kubeconfig", c.kubeconfig,
		"--node-name", c.node,
		"--address", loopback,
		"--port", strconv.Itoa(c.port),
		"--container-runtime-endpoint", c.runtimeEndpoint,
		"--root-dir", c.rootDir,
		"--tracing-endpoint", c.tracingEndpoint,
	}
	if c.pkiDir != "" {
		cert, key, ca := c.tlsFiles()
		args = append(args, "--tls-cert-file", cert, "--tls-private-key-file", key, "--client-ca-file", ca)
	}
	args = append(args, faultArgs(c.faults)...)
	if c.redirect {
		args = append(args, "--redirect-container-streaming")
	}
	if c.featureGates != "" {
		args = append(args, "--feature-gates", c.featureGates)
	}
	return append(args, sessionLimitArgs(c.maxSessions)...)
}

func (c kubeletSpec) serve(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	config, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	tlsConfig, err := server.LoadServingTLS(c.tlsFiles())
	if err != nil {
		return err
	}
	gates := kubelet.NewFeatureGate()
	if err := gates.Set(c.featureGates); err != nil {
		return err
	}
	_, _, clientCA := c.tlsFiles()
	k, err := kubelet.New(kubelet.Config{
		NodeName:             c.node,
		Client:               client,
		RuntimeEndpoint:      c.runtimeEndpoint,
		RootDir:              c.rootDir,
		NodeIP:               loopback,
		Logger:               log,
		TLS:                  tlsConfig,
		Authentication:       kubeletconfig.KubeletAuthentication{X509: kubeletconfig.KubeletX509Authentication{ClientCAFile: clientCA}},
		MaxStreamingSessions: c.maxSessions,
		TracingEndpoint:      c.tracingEndpoint,
		Faults:               c.faults,
		// A teaching switch.
		RedirectContainerStreaming: c.redirect,
		FeatureGates:               gates,
	})
	if err != nil {
		return err
	}
	return k.Run(ctx, ln)
}

// tlsFiles are its --tls-cert-file, --tls-private-key-file and
// --client-ca-file; empty without a PKI.
func (c kubeletSpec) tlsFiles() (cert, key, clientCA string) {
	if c.pkiDir == "" {
		return "", "", ""
	}
	return pki.CertFile(c.pkiDir, pki.Kubelet), pki.KeyFile(c.pkiDir, pki.Kubelet), pki.CertFile(c.pkiDir, pki.CA)
}

// sessionLimitArgs is --max-streaming-sessions, which every binary takes,
// when set; unset, each binary and package has the same default.
func sessionLimitArgs(n int) []string {
	if n == 0 {
		return nil
	}
	return []string{"--max-streaming-sessions", strconv.Itoa(n)}
}

// faultArgs are a --fault flag per fault, which each binary takes.
func faultArgs(s faults.Set) []string {
	var args []string
	for _, f := range s {
		args = append(args, "--fault", f.String())
	}
	return args
}
