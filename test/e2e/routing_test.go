package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/execlab/execlab/pkg/apiserver"
	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestWebSocketRoutingPerNode: an apiserver in per-node mode, as
// kube-apiserver 1.36+, passes sessions through to the kubelet of a node
// that declares ExtendWebSocketsToKubelet and translates them for one that
// does not (its kubelet started with the gate off); an exec over each
// transport works either way, and apiserver_websocket_streaming_requests_total
// counts each kind. Binaries, so that the counts are this apiserver's alone.
func TestWebSocketRoutingPerNode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newStack(t, execlabtest.Options{
		StreamingMode:       apiserver.StreamingPerNode,
		NodeCount:           2,
		KubeletFeatureGates: map[string]string{"node-2": "ExtendWebSocketsToKubelet=false"},
	})
	for node, want := range map[string][]string{"node-1": {"ExtendWebSocketsToKubelet"}, "node-2": nil} {
		n, err := s.Client().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(n.Status.DeclaredFeatures, want) {
			t.Errorf("%s declares %q, want %q", node, n.Status.DeclaredFeatures, want)
		}
		pod := demoPod()
		pod.Name, pod.Spec.NodeName = "on-"+node, node
		if _, err := s.CreatePod(ctx, pod); err != nil {
			t.Fatal(err)
		}
		for _, websocket := range []bool{false, true} {
			u := s.RESTConfig().Host + "/api/v1/namespaces/default/pods/" + pod.Name + "/exec?command=echo&command=" + node + "&stdout=true"
			exec, err := remotecommand.NewSPDYExecutor(s.RESTConfig(), http.MethodPost, mustParseURL(u))
			if websocket {
				exec, err = remotecommand.NewWebSocketExecutor(s.RESTConfig(), http.MethodGet, u)
			}
			if err != nil {
				t.Fatal(err)
			}
			var stdout bytes.Buffer
			if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout}); err != nil || stdout.String() != node+"\n" {
				t.Errorf("exec on %s (WebSocket %t): %v, stdout %q", node, websocket, err, stdout.String())
			}
		}
	}
	metrics, err := s.Client().CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, proxyType := range []string{"proxied_to_kubelet", "translated_at_apiserver"} {
		want := fmt.Sprintf("apiserver_websocket_streaming_requests_total{proxy_type=%q,subresource=\"exec\"} 2\n", proxyType)
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %q:\n%s", want, grepLines(string(metrics), "apiserver_websocket_streaming_requests_total"))
		}
	}
}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
