package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestCrashLoopBackOff: with the kubelet's defaults, upstream's, a
// container that exits at once restarts at once, then after 10s, 20s and
// 40s of back-off (10s doubling): 3 or 4 restarts in its first 100 seconds,
// against dozens with a short back-off. Between restarts the pod shows
// CrashLoopBackOff with upstream's message. It takes 100 seconds.
func TestCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pods := s.Client().CoreV1().Pods("default")
	pod, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crash"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent,
			Command: []string{"sh", "-c", "exit 3"},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "crash").String(), ResourceVersion: pod.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	window := time.After(100 * time.Second)
	// The back-off messages seen at each restart count.
	messages := map[int32]map[string]bool{}
	var restarts int32
watch:
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended early")
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || len(p.Status.ContainerStatuses) != 1 {
				continue
			}
			cs := p.Status.ContainerStatuses[0]
			restarts = cs.RestartCount
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				if messages[restarts] == nil {
					messages[restarts] = map[string]bool{}
				}
				messages[restarts][w.Message] = true
			}
		case <-window:
			break watch
		}
	}
	t.Logf("%d restarts in 100 seconds; back-off messages by restart count: %v", restarts, messages)
	if restarts < 3 || restarts > 4 {
		t.Errorf("%d restarts in 100 seconds, want 3 or 4", restarts)
	}
	// After the first restart, each crash waits out a back-off twice the last.
	for n, delay := int32(1), 10*time.Second; n < restarts; n, delay = n+1, 2*delay {
		want := fmt.Sprintf("back-off %s restarting failed container=main pod=crash_default(%s)", delay, pod.UID)
		if got := messages[n]; len(got) != 1 || !got[want] {
			t.Errorf("after restart %d: CrashLoopBackOff messages %v, want %q", n, got, want)
		}
	}
	if len(messages[0]) != 0 {
		t.Errorf("back-off before the first restart: %v", messages[0])
	}
	// The kubelet's BackOff events, one aggregated by client-go's record
	// package (a count kept up with patches), as kubectl describe shows it.
	events, err := s.Client().CoreV1().Events("default").List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.name=crash,reason=BackOff"})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Back-off restarting failed container main in pod crash_default(%s)", pod.UID)
	if len(events.Items) != 1 || events.Items[0].Message != want || events.Items[0].Type != corev1.EventTypeWarning ||
		events.Items[0].Count < 2 || events.Items[0].InvolvedObject.FieldPath != "spec.containers{main}" {
		t.Errorf("BackOff events %+v; want one Warning %q counted more than once", events.Items, want)
	}
}
