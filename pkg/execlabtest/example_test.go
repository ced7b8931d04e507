package execlabtest_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// A stack in this process: create a pod, then exec into it with
// client-go's remotecommand, as kubectl exec does. In a test, New(t, …)
// starts it and stops it when the test ends.
func Example() {
	dir, err := os.MkdirTemp("", "execlab-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	stack, err := execlabtest.Start(ctx, execlabtest.Options{StateDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer stack.Stop()

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "busybox", Command: []string{"sleep", "1000000"},
		}}},
	}
	if _, err := stack.CreatePod(ctx, pod); err != nil {
		log.Fatal(err)
	}

	req := stack.Client().CoreV1().RESTClient().Post().
		Resource("pods").Namespace("default").Name("demo").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: "main",
			Command:   []string{"echo", "hello"},
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	exec, err := remotecommand.NewWebSocketExecutor(stack.RESTConfig(), http.MethodGet, req.URL().String())
	if err != nil {
		log.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		log.Fatal(err)
	}
	fmt.Print(stdout.String())
	// Output: hello
}
