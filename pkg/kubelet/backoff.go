package kubelet

import (
	"fmt"
	"time"

	"k8s.io/client-go/util/flowcontrol"
)

// Upstream's back-off timings (pkg/kubelet/kubelet.go backOffPeriod,
// pkg/kubelet/container MaxContainerBackOff and MaxImageBackOff).
const (
	backOffPeriod       = 10 * time.Second
	maxCrashLoopBackOff = 300 * time.Second
	maxImageBackOff     = 300 * time.Second
	// crashLoopReset is how long a container must run for its next crash
	// to restart it at once again, whatever the cap.
	crashLoopReset = 600 * time.Second
)

// newCrashLoopBackOff is the crash-loop back-off capped at max, as
// pkg/kubelet/kubelet.go newCrashLoopBackOff builds it: from 10s, or from
// max when shorter, doubling, forgotten after ten minutes of running.
func newCrashLoopBackOff(max time.Duration) *flowcontrol.Backoff {
	b := flowcontrol.NewBackOff(min(backOffPeriod, max), max)
	// flowcontrol's own reset, after twice the cap, would follow the cap
	// down when configured shorter.
	b.HasExpiredFunc = func(eventTime, lastUpdate time.Time, _ time.Duration) bool {
		return eventTime.Sub(lastUpdate) > crashLoopReset
	}
	return b
}

// checkMaxContainerRestartPeriod is upstream's validation of the field
// (pkg/kubelet/apis/config/validation).
func checkMaxContainerRestartPeriod(p time.Duration) error {
	if p < time.Second || p > maxCrashLoopBackOff {
		return fmt.Errorf("crashLoopBackOff.maxContainerRestartPeriod %v: want 1s to %v", p, maxCrashLoopBackOff)
	}
	return nil
}
