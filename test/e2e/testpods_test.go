package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/stack"
)

// createPod creates a test's pod on s, waits until it runs, and deletes it
// when the test ends, so that its processes do not count against the
// goroutine baselines of later checks.
func createPod(t *testing.T, s *stack.Stack, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range pod.Spec.Containers {
		// Nothing can be pulled offline: the images the tests use are
		// imported into containerd, and the fake "pulls" on first use.
		if pod.Spec.Containers[i].ImagePullPolicy == "" {
			pod.Spec.Containers[i].ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	created, err := s.CreatePod(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// A second is enough for the kubelet to stop a container politely;
		// an interactive shell ignores SIGTERM and takes the whole grace.
		grace := int64(1)
		err := s.Client().CoreV1().Pods(created.Namespace).Delete(ctx, created.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err == nil {
			err = s.WaitPodGone(ctx, created.Namespace, created.Name)
		}
		if err != nil {
			t.Errorf("delete pod %s/%s: %v", created.Namespace, created.Name, err)
		}
	})
	return created
}
