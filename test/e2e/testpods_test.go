package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// createPod creates a test's pod on s, waits until it runs, and deletes it
// when the test ends, so that its processes do not count against the
// goroutine baselines of later checks.
func createPod(t *testing.T, s *execlabtest.Stack, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created, err := s.CreatePod(ctx, pullIfNotPresent(pod))
	if err != nil {
		t.Fatal(err)
	}
	deleteOnCleanup(t, s, created)
	return created
}

// createPodUntil creates a test's pod on s and waits until done says so,
// for pods that are not meant to become ready; it is deleted when the test
// ends.
func createPodUntil(t *testing.T, s *execlabtest.Stack, pod *corev1.Pod, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	if _, err := s.Client().CoreV1().Pods(pod.Namespace).Create(ctx, pullIfNotPresent(pod), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteOnCleanup(t, s, pod)
	got, err := s.WaitPod(ctx, pod.Namespace, pod.Name, done)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// pullIfNotPresent sets the pull policy of the containers that have none:
// nothing can be pulled offline, the images the tests use are imported
// into containerd, and the fake "pulls" any image on first use.
func pullIfNotPresent(pod *corev1.Pod) *corev1.Pod {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].ImagePullPolicy == "" {
			pod.Spec.Containers[i].ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	return pod
}

func deleteOnCleanup(t *testing.T, s *execlabtest.Stack, created *corev1.Pod) {
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
}
