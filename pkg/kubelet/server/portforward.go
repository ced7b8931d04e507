package server

import (
	"net/http"

	"github.com/emicklei/go-restful/v3"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/execlab/execlab/pkg/streaming"

	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/pkg/tracing"
)

// servePortForward asks the host for a port-forward session on the pod and
// proxies the client's connection to it (upstream's getPortForward).
// WebSocket clients name the ports in the query; SPDY clients name them per
// stream, and a WebSocket tunnelling SPDY does the same.
func (s *Server) servePortForward(req *restful.Request, resp *restful.Response) {
	uid := types.UID(req.PathParameter("uid"))
	tunnel := wsstream.IsWebSocketRequestWithTunnelingProtocol(req.Request)
	var ports []int32
	if !tunnel {
		var err error
		if ports, err = portForwardPorts(req.Request); err != nil {
			streaming.WriteStatus(resp.ResponseWriter, http.StatusBadRequest, err.Error())
			return
		}
	}
	pod, ok := s.requestedPod(req, resp)
	if !ok {
		return
	}
	if uid != "" && pod.UID != uid {
		streaming.WriteStatus(resp.ResponseWriter, http.StatusNotFound, "pod not found")
		return
	}
	trace.SpanFromContext(req.Request.Context()).SetAttributes(tracing.AttrHop.String(tracing.HopKubelet), tracing.AttrSession.String("portforward"),
		tracing.AttrNamespace.String(pod.Namespace), tracing.AttrPod.String(pod.Name))
	u, err := s.host.GetPortForward(req.Request.Context(), pod, ports)
	if err != nil {
		streaming.WriteError(resp.ResponseWriter, err)
		return
	}
	if s.redirect {
		s.redirectStream(resp.ResponseWriter, req.Request, u)
		return
	}
	var handler http.Handler = proxy.NewUpgradeAwareHandler(u, runtimeTransport, false, true, &responder{s})
	if tunnel {
		s.proxySession(resp.ResponseWriter, req.Request, translator.NewTunnelingHandler(handler), "SPDY tunnelled in WebSocket from the client, SPDY to the runtime")
		return
	}
	s.proxySession(resp.ResponseWriter, req.Request, handler, "")
}

// portForwardPorts reads the ports of a WebSocket port-forward request;
// SPDY requests name them per stream instead.
func portForwardPorts(req *http.Request) ([]int32, error) {
	if !wsstream.IsWebSocketRequest(req) {
		return nil, nil
	}
	return streaming.QueryPorts(req.URL.Query())
}
