package minikubectl

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/execlab/execlab/pkg/tracing"
)

// session is what a command needs to talk to the cluster: the REST config,
// the namespace to use and a typed client.
type session struct {
	config    *rest.Config
	namespace string
	// explicitNamespace is true when -n was given (kubectl's enforceNamespace).
	explicitNamespace bool
	client            kubernetes.Interface
}

// clientConfig loads the kubeconfig as kubectl does
// (cli-runtime/pkg/genericclioptions/config_flags.go, toRawKubeConfigLoader):
// --kubeconfig alone if given, else the files in $KUBECONFIG merged, else
// ~/.kube/config; then --context and -n override the current context.
func (g *globalFlags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
	rules.ExplicitPath = g.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: g.context}
	overrides.Context.Namespace = g.namespace
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// newSession loads the configuration for cmd.
func (g *globalFlags) newSession(cmd *cobra.Command) (*session, error) {
	cc := g.clientConfig()
	ns, explicit, err := cc.Namespace()
	if err != nil {
		return nil, err
	}
	config, err := cc.ClientConfig()
	if err != nil {
		return nil, err
	}
	config.UserAgent = rest.DefaultKubernetesUserAgent()
	// Server warnings go to stderr once each, as kubectl sets up in cmd.go.
	config.WarningHandler = rest.NewWarningWriter(g.streams.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	config.Wrap(commandHeaders(cmd.CommandPath(), uuid.NewString()))
	// Requests made within a span (--trace) carry its trace context.
	config.Wrap(tracing.Transport)
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return &session{config: config, namespace: ns, explicitNamespace: explicit, client: client}, nil
}

// commandHeaders tags every request, upgrades included, with the command and
// a per-run session id, as kubectl's CommandHeaderRoundTripper
// (cli-runtime/pkg/genericclioptions/command_headers.go). They reach audit
// logs and, over SPDY, the kubelet.
func commandHeaders(command, sessionID string) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return &headerRoundTripper{delegate: rt, command: command, session: sessionID}
	}
}

type headerRoundTripper struct {
	delegate         http.RoundTripper
	command, session string
}

func (h *headerRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Kubectl-Command", h.command)
	req.Header.Set("Kubectl-Session", h.session)
	return h.delegate.RoundTrip(req)
}

// WrappedRoundTripper lets client-go find the TLS settings underneath.
func (h *headerRoundTripper) WrappedRoundTripper() http.RoundTripper { return h.delegate }
