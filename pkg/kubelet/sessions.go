package kubelet

import (
	"github.com/emicklei/go-restful/v3"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/streaming"
)

// limitSessions wraps the handler of a streaming endpoint so that its
// request counts against l (Config.MaxStreamingSessions) until the handler
// returns, which for an upgraded one is when the session ends. Upstream's
// kubelet only counts them (server.go, HTTPInflightRequests); past the
// bound a request gets 429 and nothing is asked of the runtime.
func limitSessions(l *httpserver.SessionLimit, route restful.RouteFunction) restful.RouteFunction {
	return func(req *restful.Request, resp *restful.Response) {
		if err := l.Enter(); err != nil {
			streaming.WriteError(resp.ResponseWriter, err)
			return
		}
		defer l.Leave()
		route(req, resp)
	}
}
