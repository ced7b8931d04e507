package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"

	"github.com/execlab/execlab/internal/testutil"
)

// TestPortForward carries 50 MiB each way over 10 connections at once through
// kubectl port-forward, over WebSocket tunnelling and over SPDY, with the
// apiserver in each streaming mode.
func TestPortForward(t *testing.T) {
	spdyOnly := kubectlLatest
	spdyOnly.name, spdyOnly.env = "kubectl-spdy", []string{"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}
	for _, mode := range streamingModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			podPort := testutil.FreePort(t)
			createPod(t, mode.stack, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "echo"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{echoContainer(podPort)}},
			})
			for _, c := range []client{kubectlLatest, spdyOnly, miniWS, miniSPDY} {
				t.Run(c.name, func(t *testing.T) {
					portForward50MiB(t, mode.stack, c, podPort)
				})
			}
		})
	}
}

// portForward50MiB runs c's port-forward to the echo pod's podPort and
// echoes 5 MiB through each of 10 connections at once.
func portForward50MiB(t *testing.T, s *execlabtest.Stack, c client, podPort int) {
	local := testutil.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := c.command(ctx, t, s, "port-forward", "pod/echo", fmt.Sprintf("%d:%d", local, podPort))
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if want := fmt.Sprintf("Forwarding from 127.0.0.1:%d -> %d\n", local, podPort); line != want {
		t.Fatalf("port-forward printed %q (%v), want %q; stderr: %s", line, err, want, stderr.String())
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := testutil.EchoThrough(fmt.Sprintf("127.0.0.1:%d", local), 5<<20); err != nil {
				t.Errorf("connection %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if strings.Contains(stderr.String(), "error") {
		t.Errorf("port-forward stderr: %s", stderr.String())
	}
}
