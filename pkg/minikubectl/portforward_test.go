package minikubectl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilproxy "k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apiserver/pkg/util/proxy"
	crpf "k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// echoPort plays a server in the pod: it answers "PORT:" then echoes.
type echoPort struct{}

func (echoPort) PortForward(_ context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	fmt.Fprintf(stream, "%d:", port)
	_, err := io.Copy(stream, stream)
	return err
}

// useEchoPorts serves pods/portforward as kube-apiserver does: SPDY
// straight to the CRI streaming server; SPDY tunnelled in a WebSocket
// unwrapped by the upstream tunneling handler, which hands it to an
// upgrade-aware proxy in front of that server.
func (api *fakeAPI) useEchoPorts() {
	spdy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		crpf.ServePortForward(w, r, echoPort{}, "pod", "uid", &crpf.V4Options{}, time.Minute, 10*time.Second, crpf.SupportedProtocols)
	})
	streaming := httptest.NewServer(spdy)
	api.t.Cleanup(streaming.Close)
	location, _ := url.Parse(streaming.URL)
	api.setUpgrade(func(w http.ResponseWriter, r *http.Request) {
		if wsstream.IsWebSocketRequest(r) {
			upstream := utilproxy.NewUpgradeAwareHandler(location, http.DefaultTransport, false, true, errorResponder{})
			proxy.NewTunnelingHandler(upstream).ServeHTTP(w, r)
			return
		}
		spdy(w, r)
	})
}

type errorResponder struct{}

func (errorResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusBadGateway)
}

func TestPortForward(t *testing.T) {
	const path = "/api/v1/namespaces/default/pods/demo/portforward"
	for _, tc := range []struct {
		protocol, call string
	}{
		{"spdy", "POST " + path},
		{"websocket", "GET " + path + " [SPDY/3.1+portforward.k8s.io]"},
		{"auto", "GET " + path + " [SPDY/3.1+portforward.k8s.io]"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			withGoroutineCheck(t)
			api := newFakeAPI(t)
			pod := runningPod("demo", "main")
			pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
			api.addPod(pod)
			api.useEchoPorts()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			outR, outW := io.Pipe()
			var stderr strings.Builder
			code := make(chan int, 1)
			go func() {
				code <- Run(ctx, []string{"--kubeconfig", api.kubeconfig, "--protocol", tc.protocol, "port-forward", "pod/demo", "--address", "127.0.0.1", ":http"},
					IOStreams{Out: outW, ErrOut: &stderr})
				outW.Close()
			}()
			out := bufio.NewReader(outR)
			line, err := out.ReadString('\n')
			m := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 8080\n$`).FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("port-forward printed %q (%v), want the Forwarding line; stderr %q", line, err, stderr.String())
			}
			go io.Copy(io.Discard, out) // "Handling connection for …" lines

			for i := range 3 {
				conn, err := net.Dial("tcp", "127.0.0.1:"+m[1])
				if err != nil {
					t.Fatal(err)
				}
				msg := fmt.Sprintf("ping %d", i)
				fmt.Fprint(conn, msg)
				conn.(*net.TCPConn).CloseWrite()
				got, err := io.ReadAll(conn)
				conn.Close()
				if want := "8080:" + msg; string(got) != want || err != nil {
					t.Errorf("connection %d got %q (%v), want %q", i, got, err, want)
				}
			}

			cancel() // Ctrl-C: kubectl stops and exits 0
			if c := <-code; c != 0 || stderr.String() != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", c, stderr.String())
			}
			if calls := api.recorded(); len(calls) != 1 || calls[0] != tc.call {
				t.Errorf("requests %q, want [%q]", calls, tc.call)
			}
		})
	}
}

func TestPortForwardErrors(t *testing.T) {
	api := newFakeAPI(t)
	pending := runningPod("pending", "main")
	pending.Status.Phase = corev1.PodPending
	api.addPod(pending)
	dns := runningPod("dns", "main")
	dns.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
	api.addPod(dns)

	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"not running", []string{"port-forward", "pending", "8080"}, "error: unable to forward port because pod is not running. Current status=Pending\n"},
		{"UDP only", []string{"port-forward", "dns", "5353:53"}, "error: UDP protocol is not supported for 53\n"},
		{"unknown port name", []string{"port-forward", "dns", "http"}, "error: Pod 'dns' does not have a named port 'http'\n"},
		{"no ports", []string{"port-forward", "dns"}, "error: TYPE/NAME and list of ports are required for port-forward\nSee 'mini-kubectl port-forward -h' for help and examples\n"},
		{"unknown pod", []string{"port-forward", "nope", "80"}, "Error from server (NotFound): pods \"nope\" not found\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := api.run(nil, tc.args...); r != (result{stderr: tc.stderr, code: 1}) {
				t.Errorf("got %+v, want exit 1 and stderr %q", r, tc.stderr)
			}
		})
	}
}
