package httpserver

import (
	"fmt"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// SessionRetryAfter is the Retry-After, in seconds, of a session refused
// past a SessionLimit: kube-apiserver's answer past --max-requests-inflight
// (k8s.io/apiserver/pkg/server/filters/maxinflight.go).
const SessionRetryAfter = 1

// SessionLimit bounds the exec, attach and port-forward sessions a
// component serves at once. Upstream has no such bound in any of them
// (--max-requests-inflight leaves long-running requests out), but each
// session holds connections, goroutines and a process in the runtime, so a
// flood could exhaust a node's descriptors.
type SessionLimit struct {
	// Who names the component in the refusal: "the kubelet".
	Who string
	// Max is how many sessions may run at once.
	Max    int64
	active atomic.Int64
}

// Enter counts one more session, or refuses it past Max with a 429
// TooManyRequests asking to retry after SessionRetryAfter seconds, which
// the caller answers in its own error format. After a nil error the caller
// serves the session and then calls Leave.
func (l *SessionLimit) Enter() error {
	if l.active.Add(1) <= l.Max {
		return nil
	}
	l.active.Add(-1)
	return apierrors.NewTooManyRequests(fmt.Sprintf("too many streaming sessions: %s serves at most %d at once", l.Who, l.Max), SessionRetryAfter)
}

// Leave ends a session that Enter let in.
func (l *SessionLimit) Leave() { l.active.Add(-1) }

// Active is how many sessions are being served.
func (l *SessionLimit) Active() int64 { return l.active.Load() }
