package apiserver

import (
	"fmt"
	"net/http"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// DefaultMaxStreamingSessions is the default Options.MaxStreamingSessions:
// room for the 1000 concurrent sessions the chain is tested with.
const DefaultMaxStreamingSessions = 4096

// sessionLimit bounds the exec, attach and port-forward sessions the
// apiserver proxies at once (Options.MaxStreamingSessions).
// kube-apiserver has no such bound: --max-requests-inflight leaves out
// long-running requests, these among them
// (k8s.io/apiserver/pkg/server/filters/maxinflight.go). Each session holds
// two connections and, translated, a WebSocket server and an SPDY client;
// a request past the bound gets the answer past --max-requests-inflight,
// 429 with Retry-After: 1, as a Status.
type sessionLimit struct {
	max    int64
	active atomic.Int64
}

// serve runs h as one session, until it returns, or refuses it.
func (l *sessionLimit) serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	if l.active.Add(1) > l.max {
		l.active.Add(-1)
		writeError(w, r, apierrors.NewTooManyRequests(fmt.Sprintf("too many streaming sessions: the apiserver serves at most %d at once", l.max), 1))
		return
	}
	defer l.active.Add(-1)
	h.ServeHTTP(w, r)
}
