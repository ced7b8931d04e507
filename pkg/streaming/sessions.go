package streaming

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SessionRetryAfter is the Retry-After, in seconds, of a session refused
// past a SessionLimit: kube-apiserver's answer past --max-requests-inflight
// (k8s.io/apiserver/pkg/server/filters/maxinflight.go).
const SessionRetryAfter = 1

// SessionLimit bounds the exec, attach and port-forward sessions a
// component serves at once. Upstream's kubelet and streaming server have no
// such bound, but each session holds connections and a process in the
// runtime, so a flood could exhaust the node's descriptors.
type SessionLimit struct {
	// Who names the component in the refusal: "the kubelet".
	Who string
	// Max is how many sessions may run at once.
	Max    int64
	active atomic.Int64
}

// Enter counts one more session. Past Max it answers w 429
// TooManyRequests with Retry-After, as a Status, and returns false; else
// the caller serves the session and then calls Leave.
func (l *SessionLimit) Enter(w http.ResponseWriter) bool {
	if l.active.Add(1) <= l.Max {
		return true
	}
	l.active.Add(-1)
	w.Header().Set("Retry-After", strconv.Itoa(SessionRetryAfter))
	writeStatusDetails(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests,
		fmt.Sprintf("too many streaming sessions: %s serves at most %d at once", l.Who, l.Max),
		&metav1.StatusDetails{RetryAfterSeconds: SessionRetryAfter})
	return false
}

// Leave ends a session that Enter let in.
func (l *SessionLimit) Leave() { l.active.Add(-1) }
