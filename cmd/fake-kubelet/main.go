// Command fake-kubelet runs pkg/kubelet: it registers a node with the apiserver,
// runs the pods bound to it on a CRI runtime and serves the kubelet API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"

	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/kubelet"
	"github.com/execlab/execlab/pkg/kubelet/server"
	"github.com/execlab/execlab/pkg/streaming"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fake-kubelet:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fake-kubelet", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file to reach the apiserver with")
	nodeName := fs.String("node-name", "", "name of the node to register (default: the host name)")
	address := fs.String("address", "127.0.0.1", "IP address to serve on; also the node's InternalIP")
	port := fs.Int("port", 10250, "port to serve the kubelet API on (0 picks one)")
	endpoint := fs.String("container-runtime-endpoint", "", "CRI endpoint, unix:///absolute/path")
	rootDir := fs.String("root-dir", "", "directory for pod logs (<root-dir>/pods/<ns>_<pod>_<uid>/)")
	certFile := fs.String("tls-cert-file", "", "serving certificate; without it the API is plain HTTP with no authentication")
	keyFile := fs.String("tls-private-key-file", "", "key of --tls-cert-file")
	clientCAFile := fs.String("client-ca-file", "", "CA that signs the client certificates the kubelet accepts")
	maxSessions := fs.Int("max-streaming-sessions", streaming.DefaultMaxSessions, "exec, attach and port-forward sessions served at once; past it, 429")
	redirect := fs.Bool("redirect-container-streaming", false, "answer exec, attach and port-forward with a redirect to the runtime's streaming URL, as kubelets before 1.20 could (a teaching switch)")
	configFile := fs.String("config", "", "kubelet configuration file (KubeletConfiguration, kubelet.config.k8s.io/v1beta1); read: crashLoopBackOff.maxContainerRestartPeriod, nodeLeaseDurationSeconds, nodeStatusUpdateFrequency, nodeStatusReportFrequency, authentication, authorization")
	tokenWebhook := fs.Bool("authentication-token-webhook", true, "authenticate bearer tokens with a TokenReview to the apiserver")
	anonymous := fs.Bool("anonymous-auth", false, "serve requests with no credentials as system:anonymous, for the authorizer to decide on")
	authzMode := fs.String("authorization-mode", string(kubeletconfig.KubeletAuthorizationModeWebhook), "Webhook (a SubjectAccessReview to the apiserver for each request, cached) or AlwaysAllow")
	tracingEndpoint := fs.String("tracing-endpoint", "", "OTLP/HTTP collector to send traces to, such as http://127.0.0.1:4318 (off when empty)")
	gates := kubelet.NewFeatureGate()
	fs.Var(gatesFlag{gates}, "feature-gates", "feature gates, Name=true|false,...: "+strings.Join(gates.KnownFeatures(), "; "))
	var injected faults.Set
	fs.Var(&injected, "fault", "inject a fault into the exec, attach and port-forward sessions served: "+faults.Syntax)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kubeconfig == "" || *endpoint == "" || *rootDir == "" {
		return errors.New("--kubeconfig, --container-runtime-endpoint and --root-dir are required")
	}
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	tlsConfig, err := server.LoadServingTLS(*certFile, *keyFile, *clientCAFile)
	if err != nil {
		return err
	}
	cfg := kubelet.Config{
		NodeName:             *nodeName,
		Client:               client,
		RuntimeEndpoint:      *endpoint,
		RootDir:              *rootDir,
		NodeIP:               *address,
		Logger:               slog.New(slog.NewTextHandler(os.Stderr, nil)),
		TLS:                  tlsConfig,
		MaxStreamingSessions: *maxSessions,
		TracingEndpoint:      *tracingEndpoint,
		Faults:               injected,
		// A teaching switch (docs/labs).
		RedirectContainerStreaming: *redirect,
		FeatureGates:               gates,
	}
	cfg.Authentication.X509.ClientCAFile = *clientCAFile
	if err := kubelet.LoadConfigFile(*configFile, &cfg); err != nil {
		return err
	}
	// Flags given win over the file, as upstream's.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "authentication-token-webhook":
			cfg.Authentication.Webhook.Enabled = tokenWebhook
		case "anonymous-auth":
			cfg.Authentication.Anonymous.Enabled = anonymous
		case "authorization-mode":
			cfg.Authorization.Mode = kubeletconfig.KubeletAuthorizationMode(*authzMode)
		}
	})
	k, err := kubelet.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*address, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return k.Run(ctx, ln)
}

// gatesFlag is the kubelet's gates as a flag.Value whose zero value, which
// flag's usage prints the default of, has a String.
type gatesFlag struct{ kubelet.FeatureGates }

func (f gatesFlag) String() string {
	if f.FeatureGates == nil {
		return ""
	}
	return f.FeatureGates.String()
}
