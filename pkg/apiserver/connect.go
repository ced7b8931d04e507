package apiserver

import (
	"fmt"
	"net/http"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// pods/exec, pods/attach and pods/portforward, as ExecREST, AttachREST and
// PortForwardREST connect them in pkg/registry/core/pod/rest/subresources.go:
// the query parsed into the option type, the pod and container checked,
// the kubelet URL built with the kubelet's own query, and the upgrade
// proxied by UpgradeAwareHandler, which answers a request that is no
// upgrade with 400 "Upgrade request required". In translate mode a
// WebSocket v5 exec or attach is served by the StreamTranslatorHandler
// (WebSocket to the client, SPDY to the kubelet) and a WebSocket
// port-forward by the TunnelingHandler (SPDY tunnelled in WebSocket).

// serveConnect serves one of exec, attach and portforward, to a GET (a
// WebSocket upgrade) or a POST (SPDY).
func (s *Server) serveConnect(w http.ResponseWriter, r *http.Request, sub, ns, name string) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		registry.MethodNotAllowed(w, r, corev1.Resource("pods/"+sub))
		return
	}
	if _, ok := r.URL.Query()["dryRun"]; ok {
		registry.WriteError(w, r, registry.ErrDryRun)
		return
	}
	var opts runtime.Object
	var container string
	switch sub {
	case "exec":
		opts = &corev1.PodExecOptions{}
	case "attach":
		opts = &corev1.PodAttachOptions{}
	default:
		opts = &corev1.PodPortForwardOptions{}
	}
	if err := registry.ParameterCodec.DecodeParameters(r.URL.Query(), corev1.SchemeGroupVersion, opts); err != nil {
		registry.WriteError(w, r, apierrors.NewBadRequest(err.Error()))
		return
	}
	if err := s.authorizeCreate(r.Context()); err != nil {
		registry.WriteError(w, r, err)
		return
	}
	switch o := opts.(type) {
	case *corev1.PodExecOptions:
		container = o.Container
	case *corev1.PodAttachOptions:
		container = o.Container
	}
	loc, err := s.streamLocation(sub, ns, name, container, opts)
	if err != nil {
		registry.WriteError(w, r, err)
		return
	}
	if err := s.sessions.Enter(); err != nil {
		registry.WriteError(w, r, err)
		return
	}
	defer s.sessions.Leave()
	s.streamHandler(loc, opts, errorResponder{w, r}).ServeHTTP(w, r)
}

// streamLocation is the kubelet URL of the stream:
// /exec/{ns}/{pod}/{container}, /attach/... or /portForward/{ns}/{pod}.
func (s *Server) streamLocation(sub, ns, name, container string, opts runtime.Object) (*url.URL, error) {
	loc, pod, container, err := s.podLocation(ns, name, container, sub != "portforward")
	if err != nil {
		return nil, err
	}
	if loc == nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	// The kubelet would answer a 500 "container not found" for a pod
	// whose containers have all ended; say what is wrong, in kubectl's
	// words for it.
	if phase := pod.Status.Phase; phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot %s a container in a completed pod; current phase is %s", connectVerbs[sub], phase))
	}
	if o, ok := opts.(*corev1.PodExecOptions); ok && len(o.Command) == 0 {
		return nil, apierrors.NewBadRequest("you must specify at least 1 command")
	}
	if sub == "portforward" {
		loc.Path = fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name)
	} else {
		loc.Path = fmt.Sprintf("/%s/%s/%s/%s", sub, pod.Namespace, pod.Name, container)
	}
	loc.RawQuery = streamParams(opts).Encode()
	return loc, nil
}

// connectVerbs name what each subresource does, for messages.
var connectVerbs = map[string]string{"exec": "exec into", "attach": "attach to", "portforward": "port-forward to"}

// streamHandler proxies the stream to loc, translating WebSocket requests
// in translate mode.
func (s *Server) streamHandler(loc *url.URL, opts runtime.Object, responder errorResponder) http.Handler {
	upgrade := proxy.NewUpgradeAwareHandler(loc, s.kubelet, false, true, proxy.NewErrorResponder(responder))
	if s.opts.StreamingMode != StreamingTranslate {
		return upgrade
	}
	switch o := opts.(type) {
	case *corev1.PodExecOptions:
		streams := translator.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.TTY}
		return translator.NewTranslatingHandler(upgrade, translator.NewStreamTranslatorHandler(loc, s.kubelet, 0, streams), wsstream.IsWebSocketRequestWithStreamCloseProtocol)
	case *corev1.PodAttachOptions:
		streams := translator.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.TTY}
		return translator.NewTranslatingHandler(upgrade, translator.NewStreamTranslatorHandler(loc, s.kubelet, 0, streams), wsstream.IsWebSocketRequestWithStreamCloseProtocol)
	default:
		return translator.NewTranslatingHandler(upgrade, translator.NewTunnelingHandler(upgrade), wsstream.IsWebSocketRequestWithTunnelingProtocol)
	}
}

// errorResponder answers proxy errors as a Status: a kubelet that cannot
// be dialled is a 500 "error dialing backend: ...", as from kube-apiserver.
type errorResponder struct {
	w http.ResponseWriter
	r *http.Request
}

func (e errorResponder) Error(err error) { registry.WriteError(e.w, e.r, err) }
