package kubelet

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/emicklei/go-restful/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sessionRetryAfter is the Retry-After of a refused session, in seconds:
// kube-apiserver's answer past --max-requests-inflight
// (k8s.io/apiserver/pkg/server/filters/maxinflight.go).
const sessionRetryAfter = 1

// sessionLimit bounds the exec, attach and port-forward sessions the
// kubelet serves at once (Config.MaxStreamingSessions). Upstream's kubelet
// has no such bound — server.go only counts them in its
// HTTPInflightRequests metric — but each session holds two connections and
// a process in the runtime, so a flood could exhaust the node's
// descriptors. A request past the bound gets 429 TooManyRequests with
// Retry-After, as a Status, and nothing is asked of the runtime.
type sessionLimit struct {
	max    int64
	active atomic.Int64
}

// limit wraps the handler of a streaming endpoint: the request counts as a
// session until the handler returns, which for an upgraded one is when the
// session ends.
func (l *sessionLimit) limit(route restful.RouteFunction) restful.RouteFunction {
	return func(req *restful.Request, resp *restful.Response) {
		if l.active.Add(1) > l.max {
			l.active.Add(-1)
			writeTooManySessions(resp.ResponseWriter, l.max)
			return
		}
		defer l.active.Add(-1)
		route(req, resp)
	}
}

// writeTooManySessions answers a session past the bound.
func writeTooManySessions(w http.ResponseWriter, max int64) {
	st := apierrors.NewTooManyRequests(fmt.Sprintf("too many streaming sessions: the kubelet serves at most %d at once", max), sessionRetryAfter).ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	body, _ := json.Marshal(&st) // a Status always marshals
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", strconv.Itoa(sessionRetryAfter))
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(append(body, '\n'))
}
