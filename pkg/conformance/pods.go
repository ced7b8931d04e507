package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The suite's pods. Their commands run on busybox (sh, cat, head, stty,
// sleep, and busybox's nc) and on the fake runtime, whose containers are
// host processes on the host's network: hence `busybox nc` and ports
// picked at random, so that two runs on one host do not collide.
type suitePods struct {
	// main runs the exec cases: containers main (fixed log lines, then
	// sleep), ticker (a line every 0.2 s, for logs -f) and echo (an echo
	// server on echoPort, for port-forward).
	main     string
	echoPort int
	// attach has, per protocol, a pod whose process prints each line it
	// reads, and exits after hello: the server then ends the attach
	// session. Another line shows the session up without ending it.
	attach map[Protocol]string
	// doomed has, per port-forward transport, an echo pod on doomedPort
	// that the pod-deleted case deletes mid-forward.
	doomed     map[Protocol]string
	doomedPort map[Protocol]int
	all        []string
}

// Container names of the main pod.
const (
	mainContainer   = "main"
	tickerContainer = "ticker"
	echoContainer   = "echo"
)

// mainLog is what the main container logs at start.
var mainLog = []string{"line 1", "line 2", "line 3", "line 4", "line 5"}

// podWait bounds the wait for the suite's pods to run, and to be gone.
const podWait = 2 * time.Minute

func (e *env) createPods(ctx context.Context) (*suitePods, error) {
	prefix := "execlab-conformance-" + e.id
	p := &suitePods{
		main:       prefix,
		echoPort:   randomPort(),
		attach:     map[Protocol]string{},
		doomed:     map[Protocol]string{},
		doomedPort: map[Protocol]int{},
	}
	specs := []*corev1.Pod{e.pod(p.main, corev1.RestartPolicyAlways,
		corev1.Container{Name: mainContainer, Command: []string{"sh", "-c", `for i in 1 2 3 4 5; do echo "line $i"; done; exec sleep 1000000`}},
		corev1.Container{Name: tickerContainer, Command: []string{"sh", "-c", `i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done`}},
		echo(echoContainer, p.echoPort),
	)}
	for _, proto := range e.opts.Protocols {
		name := fmt.Sprintf("%s-attach-%s", prefix, proto)
		p.attach[proto] = name
		specs = append(specs, e.pod(name, corev1.RestartPolicyNever, corev1.Container{
			Name: mainContainer, Stdin: true, Command: []string{"sh", "-c", `while read l; do echo "attach: $l"; [ "$l" != hello ] || exit 0; done`},
		}))
		if proto == WebSocketV4 {
			continue // port-forward has one WebSocket transport
		}
		name = fmt.Sprintf("%s-doomed-%s", prefix, proto)
		p.doomed[proto], p.doomedPort[proto] = name, randomPort()
		specs = append(specs, e.pod(name, corev1.RestartPolicyAlways, echo(echoContainer, p.doomedPort[proto])))
	}
	pods := e.clientset.CoreV1().Pods(e.opts.Namespace)
	for _, spec := range specs {
		if _, err := pods.Create(ctx, spec, metav1.CreateOptions{}); err != nil {
			return p, fmt.Errorf("create pod %s: %w", spec.Name, err)
		}
		p.all = append(p.all, spec.Name)
	}
	for _, name := range p.all {
		if err := e.waitRunning(ctx, name); err != nil {
			return p, err
		}
	}
	return p, nil
}

// echo is a container that echoes what a connection sends until it
// half-closes, then closes: busybox nc hands each connection to cat.
func echo(name string, port int) corev1.Container {
	return corev1.Container{Name: name, Command: []string{"busybox", "nc", "-ll", "-p", strconv.Itoa(port), "-e", "cat"}}
}

// randomPort picks a port for a server in a pod, away from the kernel's
// ephemeral range (32768–60999 on Linux): one free here, for the fake
// runtime's pods share this host's network, and taken by no other run of
// this process. A cluster's pods have networks of their own, where any
// port does.
func randomPort() int {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	for {
		p := 20000 + rand.IntN(12000)
		if ports.taken[p] {
			continue
		}
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			l.Close()
			ports.taken[p] = true
			return p
		}
	}
}

// ports are the ports the runs of this process have picked.
var ports = struct {
	mu    sync.Mutex
	taken map[int]bool
}{taken: map[int]bool{}}

func (e *env) pod(name string, restart corev1.RestartPolicy, containers ...corev1.Container) *corev1.Pod {
	for i := range containers {
		containers[i].Image = e.opts.Image
		containers[i].ImagePullPolicy = corev1.PullIfNotPresent
	}
	// A second of grace: sleep and sh as PID 1 ignore SIGTERM.
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.opts.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "execlab-conformance"}},
		Spec:       corev1.PodSpec{Containers: containers, RestartPolicy: restart, TerminationGracePeriodSeconds: &grace},
	}
}

// waitRunning waits until the pod runs with every container ready.
func (e *env) waitRunning(ctx context.Context, name string) error {
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, podWait, true, func(ctx context.Context) (bool, error) {
		p, err := e.clientset.CoreV1().Pods(e.opts.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		if p.Status.Phase != corev1.PodRunning {
			return false, nil
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		var status any
		if last != nil {
			status = last.Status
		}
		return fmt.Errorf("pod %s not running (%+v): %w", name, status, err)
	}
	return nil
}

// deletePods deletes the suite's pods and waits until they are gone.
func (e *env) deletePods(p *suitePods) {
	ctx, cancel := context.WithTimeout(context.Background(), podWait)
	defer cancel()
	for _, name := range p.all {
		_ = e.deletePod(ctx, name)
	}
	for _, name := range p.all {
		_ = e.waitGone(ctx, name)
	}
}

func (e *env) deletePod(ctx context.Context, name string) error {
	grace := int64(1)
	err := e.clientset.CoreV1().Pods(e.opts.Namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (e *env) waitGone(ctx context.Context, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, podWait, true, func(ctx context.Context) (bool, error) {
		_, err := e.clientset.CoreV1().Pods(e.opts.Namespace).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return errors.Join(fmt.Errorf("pod %s still there", name), err)
	}
	return nil
}
