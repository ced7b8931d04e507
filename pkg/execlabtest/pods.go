package execlabtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// CreatePod creates pod (in namespace default if it names none) and waits
// until it runs with every container ready.
func (s *Stack) CreatePod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	if _, err := s.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return s.WaitPod(ctx, pod.Namespace, pod.Name, RunningAndReady)
}

// RunningAndReady reports whether p runs with every container ready: what
// CreatePod waits for.
func RunningAndReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitPod polls the pod for up to 30 s until done reports true, and returns
// it as done saw it.
func (s *Stack) WaitPod(ctx context.Context, ns, name string, done func(*corev1.Pod) bool) (*corev1.Pod, error) {
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := s.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return done(p), nil
	})
	if err != nil {
		var status any
		if last != nil {
			status = last.Status
		}
		return last, fmt.Errorf("wait for pod %s/%s (last status %+v): %w", ns, name, status, err)
	}
	return last, nil
}

// WaitPodGone waits up to a minute until the pod object no longer exists,
// which the kubelet allows once it removed the pod from the runtime.
func (s *Stack) WaitPodGone(ctx context.Context, ns, name string) error {
	return wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := s.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// DeletePods deletes every pod, in every namespace, that keep does not
// keep (nil keeps none), with a second of grace, and waits until each is
// gone. It returns the pods it deleted.
func (s *Stack) DeletePods(ctx context.Context, keep func(*corev1.Pod) bool) ([]corev1.Pod, error) {
	pods, err := s.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods to delete: %w", err)
	}
	// A second of grace: a shell or sleep as PID 1 ignores SIGTERM, and the
	// default 30 s would only delay its SIGKILL.
	grace := int64(1)
	var deleted []corev1.Pod
	var errs []error
	for _, p := range pods.Items {
		if keep != nil && keep(&p) {
			continue
		}
		err := s.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err))
			continue
		}
		deleted = append(deleted, p)
	}
	for _, p := range deleted {
		if err := s.WaitPodGone(ctx, p.Namespace, p.Name); err != nil {
			errs = append(errs, fmt.Errorf("wait for pod %s/%s to go: %w", p.Namespace, p.Name, err))
		}
	}
	return deleted, errors.Join(errs...)
}
