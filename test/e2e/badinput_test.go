package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
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
			"unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], server accepts [v5.channel.k8s.io v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]"},
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

// TestOversizedHeaders: past the header limit the apiserver answers 431
// (net/http's own answer, before any handler) and stays up.
func TestOversizedHeaders(t *testing.T) {
	client := http1Client(t)
	req, _ := http.NewRequest("GET", shared.RESTConfig().Host+"/api/v1/namespaces/default/pods/demo", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 2<<20))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("2 MiB of headers: %s, want 431", resp.Status)
	}
	if _, err := shared.Client().CoreV1().Pods("default").Get(context.Background(), "demo", metav1.GetOptions{}); err != nil {
		t.Errorf("after oversized headers: %v", err)
	}
}

// TestGarbageAfterUpgrade writes random bytes where SPDY frames belong:
// every hop closes the connection, and the shared stack's goroutine check
// at the end shows nothing was left behind.
func TestGarbageAfterUpgrade(t *testing.T) {
	config := shared.RESTConfig()
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
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/namespaces/default/pods/demo/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\nHost: %s\r\n"+
		"Authorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n",
		u.Host, config.BearerToken)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	conn.Write([]byte("\x80\x03\x00\x01\xff\xff\xff\xffthis is not SPDY at all\n"))
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Errorf("the chain did not close the connection: %v", err)
	}
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
	config := shared.RESTConfig()
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
