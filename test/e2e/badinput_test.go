package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/pki"
)

// spdyUpgrade is what kubectl sends to start an exec over SPDY.
var spdyUpgrade = http.Header{
	"Connection":                {"Upgrade"},
	"Upgrade":                   {"SPDY/3.1"},
	"X-Stream-Protocol-Version": {"v4.channel.k8s.io"},
}

// TestBadInput sends malformed exec requests through the chain: each gets
// a Status with the right code, reason and message, before anything runs.
func TestBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: "default"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "c", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"true"},
		}}},
	}
	if _, err := shared.Client().CoreV1().Pods("default").Create(ctx, done, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		shared.Client().CoreV1().Pods("default").Delete(context.Background(), "done", metav1.DeleteOptions{})
		shared.WaitPodGone(context.Background(), "default", "done")
	})
	if _, err := shared.WaitPod(ctx, "default", "done", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }); err != nil {
		t.Fatal(err)
	}
	client := http1Client(t)
	pods := shared.RESTConfig().Host + "/api/v1/namespaces/default/pods/"
	cases := []struct {
		name    string
		method  string
		path    string
		header  http.Header
		code    int
		reason  metav1.StatusReason
		message string
	}{
		{"no command", "POST", "demo/exec?stdout=true", spdyUpgrade, 400, metav1.StatusReasonBadRequest,
			"you must specify at least 1 command"},
		{"unknown container", "POST", "demo/exec?command=true&stdout=true&container=nope", spdyUpgrade, 400, metav1.StatusReasonBadRequest,
			"container nope is not valid for pod demo"},
		{"unknown pod", "POST", "nope/exec?command=true&stdout=true", spdyUpgrade, 404, metav1.StatusReasonNotFound,
			`pods "nope" not found`},
		{"pod not running", "POST", "done/exec?command=true&stdout=true", spdyUpgrade, 400, metav1.StatusReasonBadRequest,
			"cannot exec into a container in a completed pod; current phase is Succeeded"},
		{"no streams", "POST", "demo/exec?command=true", spdyUpgrade, 400, metav1.StatusReasonBadRequest,
			"you must specify at least 1 of stdin, stdout, stderr"},
		{"no upgrade", "POST", "demo/exec?command=true&stdout=true", nil, 400, metav1.StatusReasonBadRequest,
			"Upgrade request required"},
		{"unknown protocol", "POST", "demo/exec?command=true&stdout=true", http.Header{
			"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}, "X-Stream-Protocol-Version": {"v9.channel.k8s.io"},
		}, 403, metav1.StatusReasonForbidden,
			"unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], server accepts " + streamingServers[runtimeName].accepts()},
		{"attach to a pod not running", "POST", "done/attach?stdout=true", spdyUpgrade, 400, metav1.StatusReasonBadRequest,
			"cannot attach to a container in a completed pod; current phase is Succeeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, pods+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var st metav1.Status
			if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" {
				t.Fatalf("%d %q: not a Status", resp.StatusCode, body)
			}
			if resp.StatusCode != tc.code || int(st.Code) != tc.code || st.Reason != tc.reason || !strings.HasSuffix(st.Message, tc.message) {
				t.Errorf("%d %s %q; want %d %s %q", resp.StatusCode, st.Reason, st.Message, tc.code, tc.reason, tc.message)
			}
		})
	}
}

// TestOversizedHeaders: past 1 MiB of request headers every hop answers
// 431 before any handler runs (net/http's own answer, with the limit
// kube-apiserver, the kubelet and net/http's default set), and stays up.
func TestOversizedHeaders(t *testing.T) {
	cas, err := pki.CertPool(shared.CertDir)
	if err != nil {
		t.Fatal(err)
	}
	rs := criClient(t)
	resp, err := rs.Exec(context.Background(), &runtimeapi.ExecRequest{ContainerId: demoContainerID(t, rs), Cmd: []string{"true"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	streamURL := mustParseURL(resp.Url)
	hops := []struct {
		name, url string
		client    *http.Client
	}{
		{"apiserver", shared.RESTConfig().Host + "/api/v1/namespaces/default/pods/demo", http1Client(t)},
		{"kubelet", shared.Nodes[0].Kubelet.URL + "/healthz", &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cas}, DisableKeepAlives: true}}},
		{"streaming server", streamURL.Scheme + "://" + streamURL.Host + "/exec/AAAAAAAA", &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}},
	}
	for _, hop := range hops {
		t.Run(hop.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", hop.url, nil)
			req.Header.Set("X-Padding", strings.Repeat("x", 2<<20))
			resp, err := hop.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || string(body) != "431 Request Header Fields Too Large" {
				t.Errorf("2 MiB of headers: %s %q, want 431", resp.Status, body)
			}
		})
	}
	if _, err := shared.Client().CoreV1().Pods("default").Get(context.Background(), "demo", metav1.GetOptions{}); err != nil {
		t.Errorf("after oversized headers: %v", err)
	}
}

// TestOversizedBody: a request body past kube-apiserver's 3 MiB gets 413
// RequestEntityTooLarge, before it is decoded.
func TestOversizedBody(t *testing.T) {
	body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big","annotations":{"pad":"` + strings.Repeat("x", 4<<20) + `"}}}`
	req, _ := http.NewRequest("POST", shared.RESTConfig().Host+"/api/v1/namespaces/default/pods", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http1Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st metav1.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge ||
		st.Reason != metav1.StatusReasonRequestEntityTooLarge || st.Message != "Request entity too large: limit is 3145728" {
		t.Errorf("4 MiB body: %s, %+v, %v; want 413 RequestEntityTooLarge", resp.Status, st, err)
	}
}

// TestGarbageAfterUpgrade writes random bytes where SPDY frames belong:
// the runtime's streaming server closes the connection, then every hop
// (containerd 1.6 holds it open instead, see closesOnGarbage), and the
// shared stack's goroutine check at the end shows nothing was left behind.
func TestGarbageAfterUpgrade(t *testing.T) {
	conn, br := rawUpgrade(t, shared, "POST", "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n")
	conn.Write([]byte("\x80\x03\x00\x01\xff\xff\xff\xffthis is not SPDY at all\n"))
	if !streamingServers[runtimeName].closesOnGarbage {
		// Nothing must come back; the Close at cleanup then ends the
		// session at every hop, which the goroutine check verifies.
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := io.Copy(io.Discard, br); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s answered garbage with %d bytes, then %v; want it to hold the connection open", runtimeName, n, err)
		}
		return
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Errorf("the chain did not close the connection: %v", err)
	}
}

// rawUpgrade sends s's admin an upgrade of "exec cat" on the demo pod with
// method and the upgrade's own header lines (each ending in CRLF), checks
// that it switched protocols, and returns the connection, closed when the
// test ends, and a reader of what follows the response head.
func rawUpgrade(t *testing.T, s *execlabtest.Stack, method, upgrade string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	config := s.RESTConfig()
	tlsConfig, err := rest.TLSConfigFor(config)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig.NextProtos = []string{"http/1.1"}
	u, _ := url.Parse(config.Host)
	conn, err := tls.Dial("tcp", u.Host, tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "%s /api/v1/namespaces/default/pods/demo/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\nHost: %s\r\n"+
		"Authorization: Bearer %s\r\nConnection: Upgrade\r\n%s\r\n", method, u.Host, config.BearerToken, upgrade)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return conn, br
}

// TestRuntimeRefusesTTYWithStderr: a terminal has no separate stderr. The
// kubelet drops stderr from such a request, as upstream's does; the
// runtime, asked directly, refuses it.
func TestRuntimeRefusesTTYWithStderr(t *testing.T) {
	rs := criClient(t)
	_, err := rs.Exec(context.Background(), &runtimeapi.ExecRequest{
		ContainerId: demoContainerID(t, rs), Cmd: []string{"true"}, Tty: true, Stdout: true, Stderr: true,
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("Exec with tty and stderr: %v, want InvalidArgument", err)
	}
}

// http1Client is the admin's HTTP/1.1 client of the shared stack, as
// clients speak to start upgrades.
func http1Client(t *testing.T) *http.Client {
	return http1ClientFor(t, shared)
}

// http1ClientFor is http1Client for stack s.
func http1ClientFor(t *testing.T, s *execlabtest.Stack) *http.Client {
	config := s.RESTConfig()
	tlsConfig, err := rest.TLSConfigFor(config)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig.NextProtos = []string{"http/1.1"}
	transport := &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true}
	return &http.Client{Transport: bearer{config.BearerToken, transport}}
}

// bearer adds the token to each request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
