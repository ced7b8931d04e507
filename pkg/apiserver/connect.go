package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apiserver/pkg/endpoints/request"
	translator "k8s.io/apiserver/pkg/util/proxy"
	proxymetrics "k8s.io/apiserver/pkg/util/proxy/metrics"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/apiserver/registry"
	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/streamtranslator"
	"github.com/execlab/execlab/pkg/tracing"
)

// pods/exec, pods/attach and pods/portforward, as ExecREST, AttachREST and
// PortForwardREST connect them in pkg/registry/core/pod/rest/subresources.go:
// the query parsed into the option type, the pod and container checked,
// the kubelet URL built with the kubelet's own query, and the upgrade
// proxied by UpgradeAwareHandler, which answers a request that is no
// upgrade with 400 "Upgrade request required". Where the session is
// translated (translate mode, or per-node mode towards a node that does
// not declare ExtendWebSocketsToKubelet) a WebSocket v5 exec or attach is
// translated by pkg/streamtranslator (WebSocket to the client, SPDY to the
// kubelet) and a WebSocket port-forward by the TunnelingHandler (SPDY
// tunnelled in WebSocket).

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
	conn, err := s.streamLocation(r.Context(), sub, ns, name, container, opts)
	if err != nil {
		registry.WriteError(w, r, err)
		return
	}
	if err := s.sessions.Enter(); err != nil {
		registry.WriteError(w, r, err)
		return
	}
	defer s.sessions.Leave()
	translate := s.translates(r.Context(), sub, conn.declaredFeatures)
	session := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveSession(w, r, sub, conn.url, opts, translate) })
	faults.Wrap(faults.APIServer, s.opts.Faults, sub, session, registry.WriteError).ServeHTTP(w, r)
}

// serveSession proxies or translates one session to its kubelet, and shows
// it: the live view lists it while it runs, with the bytes through this hop
// as they move, the span records the upgrade and the translation, and the
// forwarded request carries the trace to the kubelet.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, sub string, loc *url.URL, opts runtime.Object, translate bool) {
	ctx := r.Context()
	span := trace.SpanFromContext(ctx)
	live := &tracing.Live{TraceID: span.SpanContext().TraceID().String(), Kind: sub, Start: time.Now()}
	live.Namespace, live.Pod, live.Container = sessionTarget(loc)
	if o, ok := opts.(*corev1.PodExecOptions); ok {
		live.Command = strings.Join(o.Command, " ")
	}
	if u, ok := request.UserFrom(ctx); ok {
		live.User = u.GetName()
	}
	span.SetAttributes(tracing.AttrHop.String(tracing.HopAPIServer), tracing.AttrSession.String(sub),
		tracing.AttrNamespace.String(live.Namespace), tracing.AttrPod.String(live.Pod), tracing.AttrContainer.String(live.Container),
		tracing.AttrCommand.String(live.Command), tracing.AttrUser.String(live.User))
	s.traces.Begin(live)
	defer live.End()

	handler, translation := s.streamHandler(r, loc, opts, translate, errorResponder{w, r})
	answeredBy := tracing.HopKubelet
	if translation != "" {
		answeredBy = tracing.HopAPIServer
		span.AddEvent(tracing.PhaseTranslated, trace.WithAttributes(tracing.AttrReason.String(translation)))
	} else {
		span.AddEvent(tracing.PhasePassedThrough)
	}
	span.SetAttributes(tracing.RequestAttr(r))
	tracing.Inject(ctx, r.Header)
	hop := tracing.NewHop(span, answeredBy, tracing.HopClient, live)
	if f, ok := handler.(*redirectFollower); ok {
		f.followed = func(u *url.URL) {
			span.AddEvent(tracing.PhaseRedirected, trace.WithAttributes(tracing.AttrTo.String(tracing.HopStreaming), tracing.AttrURL.String(tracing.MaskToken(u.String()))))
			hop.AnsweredBy(tracing.HopStreaming)
		}
	}
	rec := httpserver.Record(w)
	rec.WrapHijacked(hop.Wrap)
	handler.ServeHTTP(rec, r)
	hop.End("")
	s.log.InfoContext(ctx, "session ended", "kind", sub, "pod", live.Namespace+"/"+live.Pod, "container", live.Container,
		"protocol", hop.Protocol(), "bytesIn", live.In.Load(), "bytesOut", live.Out.Load(), "duration", time.Since(live.Start))
}

// sessionTarget reads the namespace, pod and container back from the
// kubelet path streamLocation built.
func sessionTarget(loc *url.URL) (ns, pod, container string) {
	parts := strings.Split(strings.TrimPrefix(loc.Path, "/"), "/")
	for len(parts) < 4 {
		parts = append(parts, "")
	}
	return parts[1], parts[2], parts[3]
}

// streamLocation is how to reach the pod's kubelet, its URL the stream's:
// /exec/{ns}/{pod}/{container}, /attach/... or /portForward/{ns}/{pod}.
func (s *Server) streamLocation(ctx context.Context, sub, ns, name, container string, opts runtime.Object) (*connectionInfo, error) {
	conn, pod, container, err := s.podLocation(ns, name, container, sub != "portforward")
	if err != nil {
		return nil, err
	}
	span := trace.SpanFromContext(ctx)
	span.AddEvent(tracing.PhasePodFound, trace.WithAttributes(tracing.AttrNode.String(pod.Spec.NodeName)))
	if conn == nil {
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
	loc := conn.url
	if sub == "portforward" {
		loc.Path = fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name)
	} else {
		loc.Path = fmt.Sprintf("/%s/%s/%s/%s", sub, pod.Namespace, pod.Name, container)
	}
	loc.RawQuery = streamParams(opts).Encode()
	span.AddEvent(tracing.PhaseNodeChosen, trace.WithAttributes(tracing.AttrNode.String(pod.Spec.NodeName), tracing.AttrURL.String(loc.String())))
	return conn, nil
}

// connectVerbs name what each subresource does, for messages.
var connectVerbs = map[string]string{"exec": "exec into", "attach": "attach to", "portforward": "port-forward to"}

// translates says whether this session's WebSockets are translated (or
// tunnelled) here rather than passed through to the kubelet, by the
// streaming mode and, per node, by the features the node declares; and counts the
// choice for every session, as kube-apiserver 1.36 does in ExecREST,
// AttachREST and PortForwardREST's Connect
// (pkg/registry/core/pod/rest/subresources.go), in upstream's
// apiserver_websocket_streaming_requests_total. Passthrough mode is
// kube-apiserver before 1.30, which counted nothing.
func (s *Server) translates(ctx context.Context, sub string, declaredFeatures []string) bool {
	var translate bool
	switch s.opts.StreamingMode {
	case StreamingPassthrough:
		return false
	case StreamingTranslate:
		translate = true
	case StreamingPerNode:
		translate = !slices.Contains(declaredFeatures, extendWebSocketsToKubelet)
	}
	proxyType := "proxied_to_kubelet"
	if translate {
		proxyType = "translated_at_apiserver"
	}
	proxymetrics.IncWebSocketStreamingRequest(ctx, sub, proxyType)
	return translate
}

// streamHandler is the handler that proxies the stream to loc, and, when
// it translates, what it translates. When it translates it chooses as
// upstream's TranslatingHandler does: a WebSocket v5 exec or attach goes to
// pkg/streamtranslator (upstream's StreamTranslatorHandler, which reports a
// session cut mid-way as a success), a WebSocket port-forward (SPDY tunnelled)
// to the TunnelingHandler, anything else to UpgradeAwareHandler.
func (s *Server) streamHandler(r *http.Request, loc *url.URL, opts runtime.Object, translate bool, responder errorResponder) (http.Handler, string) {
	var upgrade http.Handler = proxy.NewUpgradeAwareHandler(loc, s.kubelet.transport, false, true, proxy.NewErrorResponder(responder))
	if s.opts.StreamingProxyRedirects {
		upgrade = &redirectFollower{location: loc, transport: s.kubelet.transport, responder: responder}
	}
	if !translate {
		return upgrade, ""
	}
	var streams streamtranslator.Options
	switch o := opts.(type) {
	case *corev1.PodExecOptions:
		streams = streamtranslator.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.TTY}
	case *corev1.PodAttachOptions:
		streams = streamtranslator.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.TTY}
	default:
		if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
			return translator.NewTunnelingHandler(upgrade), "SPDY tunnelled in WebSocket from the client, SPDY to the kubelet"
		}
		return upgrade, ""
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		return streamtranslator.New(translatorLocation(loc), s.kubelet.translator, streams), "WebSocket v5 from the client, SPDY to the kubelet"
	}
	return upgrade, ""
}

// errorResponder answers proxy errors as a Status: a kubelet that cannot
// be dialled is a 500 "error dialing backend: ...", as from kube-apiserver.
type errorResponder struct {
	w http.ResponseWriter
	r *http.Request
}

func (e errorResponder) Error(err error) { registry.WriteError(e.w, e.r, err) }
