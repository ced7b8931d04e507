package kubelet

import (
	"github.com/emicklei/go-restful/v3"

	"github.com/execlab/execlab/pkg/streaming"
)

// limitSessions wraps the handler of a streaming endpoint so that its
// request counts against l (Config.MaxStreamingSessions) until the handler
// returns, which for an upgraded one is when the session ends. Upstream's
// kubelet only counts them (server.go, HTTPInflightRequests); past the
// bound a request gets 429 and nothing is asked of the runtime.
func limitSessions(l *streaming.SessionLimit, route restful.RouteFunction) restful.RouteFunction {
	return func(req *restful.Request, resp *restful.Response) {
		if !l.Enter(resp.ResponseWriter) {
			return
		}
		defer l.Leave()
		route(req, resp)
	}
}
