package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPortForward carries 50 MiB each way over 10 connections at once through
// kubectl port-forward, over WebSocket tunnelling and over SPDY.
func TestPortForward(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	podPort := freePort(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "echo", Image: "echoserver",
			Command: []string{filepath.Join(binDir, "echoserver"), "--listen", fmt.Sprintf("127.0.0.1:%d", podPort)},
		}}},
	}
	if _, err := shared.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	spdyOnly := kubectlLatest
	spdyOnly.name, spdyOnly.env = "kubectl-spdy", []string{"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}
	for _, c := range []client{kubectlLatest, spdyOnly, miniWS, miniSPDY} {
		t.Run(c.name, func(t *testing.T) {
			local := freePort(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := c.command(ctx, t, shared, "port-forward", "pod/echo", fmt.Sprintf("%d:%d", local, podPort))
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
					if err := echoThrough(fmt.Sprintf("127.0.0.1:%d", local), 5<<20); err != nil {
						t.Errorf("connection %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			if strings.Contains(stderr.String(), "error") {
				t.Errorf("port-forward stderr: %s", stderr.String())
			}
		})
	}
}

// echoThrough sends size random bytes to addr and checks that the same bytes
// come back.
func echoThrough(addr string, size int) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	sent := make([]byte, size)
	rand.Read(sent)
	writeErr := make(chan error, 1)
	go func() {
		_, err := conn.Write(sent)
		writeErr <- err
	}()
	got := make([]byte, size)
	if _, err := io.ReadFull(conn, got); err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if err := <-writeErr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, sent) {
		return fmt.Errorf("%d bytes came back different", size)
	}
	return nil
}
