package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/execlab/execlab/internal/upgradeproxy"
	"github.com/execlab/execlab/pkg/apiserver/registry"
	"github.com/execlab/execlab/pkg/tracing"
)

// Reaching a pod's kubelet and naming the stream on it, as
// pkg/kubelet/client/kubelet_client.go (GetConnectionInfo) and
// pkg/registry/core/pod/strategy.go (ExecLocation, AttachLocation,
// PortForwardLocation, LogLocation, validateContainer) do upstream.

// preferredAddressTypes is the order node addresses are tried in: what
// kubeadm passes as --kubelet-preferred-address-types.
var preferredAddressTypes = []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName}

// defaultKubeletPort is used when the node reports no kubelet endpoint.
const defaultKubeletPort = 10250

// kubeletClient is how the apiserver reaches the kubelets, over TLS when
// tlsConfig is set. Each request gets its own connection, so that no idle
// connection (and its goroutines) outlives a log request. A dial is a phase
// of the session it serves ("kubelet dialled").
type kubeletClient struct {
	// transport serves UpgradeAwareHandler and the log requests; the
	// request it forwards carries the session's trace context. Its
	// connections are upgradeproxy's, so that a session ends with the
	// kubelet's last byte passed on.
	transport http.RoundTripper
	// translator serves pkg/streamtranslator, whose SPDY client
	// writes its own request, taking no header from us: its connections,
	// TLS included, write the trace context into the request on the wire
	// (tracing.InjectOnDial), and the translator sees plain http.
	translator http.RoundTripper
	// scheme is https when the kubelets are reached over TLS.
	scheme string
}

func newKubeletClient(tlsConfig *tls.Config) kubeletClient {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			trace.SpanFromContext(ctx).AddEvent(tracing.PhaseKubeletDialled, trace.WithAttributes(tracing.AttrURL.String(addr)))
		}
		return c, err
	}
	dialClear := dial
	if tlsConfig != nil {
		dialClear = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cfg := tlsConfig.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
			cfg.NextProtos = []string{"http/1.1"}
			tc := tls.Client(c, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		}
	}
	k := kubeletClient{
		transport: tracing.Transport(&http.Transport{
			DialContext:         upgradeproxy.Dial(dial),
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: 10 * time.Second,
			DisableKeepAlives:   true,
		}),
		translator: &http.Transport{DialContext: tracing.InjectOnDial(dialClear), DisableKeepAlives: true},
		scheme:     "http",
	}
	if tlsConfig != nil {
		k.scheme = "https"
	}
	return k
}

// translatorLocation is loc as the translator's transport dials it: plain
// http, its connections being TLS already.
func translatorLocation(loc *url.URL) *url.URL {
	u := *loc
	u.Scheme = "http"
	return &u
}

// connectionInfo is how to reach a node's kubelet, and the features the
// node declares: one read of the node serves both, as upstream's
// GetConnectionInfo.
type connectionInfo struct {
	// url is the kubelet's base URL; streamLocation adds the stream's
	// path and query.
	url              *url.URL
	declaredFeatures []string
}

// connectionInfo reads node nodeName for how to reach its kubelet.
func (s *Server) connectionInfo(nodeName string) (*connectionInfo, error) {
	obj, err := s.store.Get(registry.Nodes, "", nodeName)
	if err != nil {
		return nil, err
	}
	node := obj.(*corev1.Node)
	host, ok := preferredAddress(node)
	if !ok {
		return nil, fmt.Errorf("no preferred addresses found; known addresses: %v", node.Status.Addresses)
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 {
		port = defaultKubeletPort
	}
	return &connectionInfo{
		url:              &url.URL{Scheme: s.kubelet.scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))},
		declaredFeatures: node.Status.DeclaredFeatures,
	}, nil
}

// preferredAddress is the node's first address of the most preferred type.
func preferredAddress(node *corev1.Node) (string, bool) {
	for _, t := range preferredAddressTypes {
		for _, a := range node.Status.Addresses {
			if a.Type == t {
				return a.Address, true
			}
		}
	}
	return "", false
}

// podLocation gets the pod, checks the container (defaulting it when the
// pod has one only) and returns how to reach the pod's kubelet (nil when
// no node runs the pod) and the container. container is ignored when
// validate is false (port-forward).
func (s *Server) podLocation(ns, name, container string, validate bool) (*connectionInfo, *corev1.Pod, string, error) {
	obj, err := s.store.Get(registry.Pods, ns, name)
	if err != nil {
		return nil, nil, "", err
	}
	pod := obj.(*corev1.Pod)
	if validate {
		if container, err = validateContainer(container, pod); err != nil {
			return nil, nil, "", err
		}
	}
	if pod.Spec.NodeName == "" {
		return nil, pod, container, nil
	}
	conn, err := s.connectionInfo(pod.Spec.NodeName)
	return conn, pod, container, err
}

// validateContainer returns the container a request is for: the one named,
// which must exist, or the pod's only container.
func validateContainer(container string, pod *corev1.Pod) (string, error) {
	names := containerNames(pod)
	if container == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		default:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, names))
		}
	}
	if !sets.New(names...).Has(container) {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod.Name))
	}
	return container, nil
}

// containerNames lists init, regular and ephemeral containers, in the
// order podutil.VisitContainers walks them.
func containerNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	return names
}

// streamParams is the kubelet's query for a stream: the flags as "1",
// present only when true, and the command repeated (streamParams upstream).
func streamParams(opts runtime.Object) url.Values {
	params := url.Values{}
	flags := func(stdin, stdout, stderr, tty bool) {
		for _, f := range []struct {
			on  bool
			key string
		}{{stdin, corev1.ExecStdinParam}, {stdout, corev1.ExecStdoutParam}, {stderr, corev1.ExecStderrParam}, {tty, corev1.ExecTTYParam}} {
			if f.on {
				params.Add(f.key, "1")
			}
		}
	}
	switch o := opts.(type) {
	case *corev1.PodExecOptions:
		flags(o.Stdin, o.Stdout, o.Stderr, o.TTY)
		for _, c := range o.Command {
			params.Add("command", c)
		}
	case *corev1.PodAttachOptions:
		flags(o.Stdin, o.Stdout, o.Stderr, o.TTY)
	case *corev1.PodPortForwardOptions:
		if len(o.Ports) > 0 {
			ports := ""
			for i, p := range o.Ports {
				if i > 0 {
					ports += ","
				}
				ports += strconv.Itoa(int(p))
			}
			params.Add(corev1.PortHeader, ports)
		}
	}
	return params
}
