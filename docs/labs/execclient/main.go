// Command execclient is lab 3's own `kubectl exec`, on client-go's
// executors as kubectl's own exec is (staging/src/k8s.io/kubectl/pkg/cmd/exec/exec.go,
// createExecutor): the request built from the pod's exec subresource, an
// executor for the transport, and the streams.
//
//	execclient [-transport spdy|websocket|fallback] [-i] POD [--] COMMAND...
//
// It reads $KUBECONFIG and execs in the pod's first container in namespace
// default; with -i its stdin goes to the command. It exits with the
// command's exit code, as kubectl does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

func main() {
	transport := flag.String("transport", "fallback", "spdy (a POST), websocket (a GET), or fallback: WebSocket, then SPDY if the upgrade is refused (kubectl ≥ 1.30)")
	stdin := flag.Bool("i", false, "pass stdin to the command")
	flag.Parse()
	pod, command := flag.Arg(0), flag.Args()[min(1, flag.NArg()):]
	if len(command) > 0 && command[0] == "--" {
		command = command[1:]
	}
	if pod == "" || len(command) == 0 {
		fmt.Fprintln(os.Stderr, "usage: execclient [-transport spdy|websocket|fallback] [-i] POD [--] COMMAND...")
		os.Exit(2)
	}
	config, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	check(err)
	client, err := kubernetes.NewForConfig(config)
	check(err)

	// POST /api/v1/namespaces/default/pods/POD/exec?command=…&stdout=true…
	req := client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace("default").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Command: command,
			Stdin:   *stdin,
			Stdout:  true,
			Stderr:  true,
		}, scheme.ParameterCodec)

	var executor remotecommand.Executor
	spdy, err := remotecommand.NewSPDYExecutor(config, http.MethodPost, req.URL())
	check(err)
	// RFC 6455: a WebSocket handshake is a GET.
	websocket, err := remotecommand.NewWebSocketExecutor(config, http.MethodGet, req.URL().String())
	check(err)
	switch *transport {
	case "spdy":
		executor = spdy
	case "websocket":
		executor = websocket
	default:
		executor, err = remotecommand.NewFallbackExecutor(websocket, spdy, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
		check(err)
	}

	opts := remotecommand.StreamOptions{Stdout: os.Stdout, Stderr: os.Stderr}
	if *stdin {
		opts.Stdin = os.Stdin
	}
	err = executor.StreamWithContext(context.Background(), opts)
	var exitErr exec.CodeExitError
	if errors.As(err, &exitErr) {
		os.Exit(exitErr.Code)
	}
	check(err)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "execclient:", err)
		os.Exit(1)
	}
}
