package kubelet

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestStreamingErrors checks the status codes and messages the kubelet
// answers before any upgrade: upstream's codes and texts, in a Status.
func TestStreamingErrors(t *testing.T) {
	e := newEnv(t)
	pod := newTestPod("web")
	pod.Spec.Containers[0].TTY = true
	e.createPod(pod)
	e.waitPod("web", "running", running)

	answer := func(url string, err error) func(proto.Message) (string, error) {
		return func(proto.Message) (string, error) { return url, err }
	}
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		stream     func(proto.Message) (string, error)
		code       int
		body       string
		retryAfter string
	}{
		{name: "unknown pod", path: "/exec/default/nope/c?command=ls&output=1", code: 404, body: "pod does not exist"},
		{name: "unknown container", path: "/exec/default/web/nope?command=ls&output=1", code: 500, body: `container not found ("nope")`},
		{name: "other pod UID", path: "/exec/default/web/other-uid/c?command=ls&output=1", code: 500, body: `container not found ("c")`},
		{name: "no streams", path: "/exec/default/web/c?command=ls", code: 400, body: "you must specify at least 1 of stdin, stdout, stderr"},
		{name: "false is no stream", path: "/exec/default/web/c?command=ls&output=0&error=false", code: 400, body: "you must specify at least 1 of stdin, stdout, stderr"},
		{name: "relative URL from the runtime", path: "/exec/default/web/c?command=ls&output=1", stream: answer("/exec/abcdefgh", nil), code: 500,
			body: `container runtime returned a relative streaming URL "/exec/abcdefgh"; it must be absolute (http://host:port/...)`},
		{name: "runtime NotFound", path: "/exec/default/web/c?command=ls&output=1", stream: answer("", status.Error(codes.NotFound, "container is gone")), code: 404,
			body: "container is gone"},
		{name: "runtime out of tokens", path: "/exec/default/web/c?command=ls&output=1",
			stream: answer("", status.Error(codes.ResourceExhausted, "maximum number of in-flight requests exceeded")), code: 429,
			body: "maximum number of in-flight requests exceeded", retryAfter: "60"},
		{name: "runtime failure", path: "/exec/default/web/c?command=ls&output=1", stream: answer("", status.Error(codes.Unknown, "boom")), code: 500,
			body: "boom"},
		{name: "no upgrade", path: "/exec/default/web/c?command=ls&output=1", stream: answer("http://127.0.0.1:1/exec/x", nil), code: 400, body: "Upgrade request required"},
		{name: "attach to unknown pod", path: "/attach/default/nope/c?output=1", code: 404, body: "pod does not exist"},
		{name: "attach to unknown container", path: "/attach/default/web/nope?output=1", code: 500, body: "container nope not found in pod web_default"},
		{name: "port-forward to unknown pod", path: "/portForward/default/nope", code: 404, body: "pod does not exist"},
		{name: "port-forward to another UID", path: "/portForward/default/web/other-uid", code: 404, body: "pod not found"},
		{name: "logs with POST", method: http.MethodPost, path: "/containerLogs/default/web/c", code: 405, body: "405: Method Not Allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.setStream(tc.stream)
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, e.base+tc.path, nil)
			resp, err := e.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readAll(t, resp)
			if strings.HasPrefix(tc.path, "/containerLogs") {
				if resp.StatusCode != tc.code || body != tc.body {
					t.Errorf("%d %q, want %d %q", resp.StatusCode, body, tc.code, tc.body)
				}
			} else {
				var st metav1.Status
				err := json.Unmarshal([]byte(body), &st)
				if err != nil || resp.StatusCode != tc.code || int(st.Code) != tc.code || st.Message != tc.body || st.Kind != "Status" {
					t.Errorf("%d %q, want %d with a Status saying %q", resp.StatusCode, body, tc.code, tc.body)
				}
			}
			if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
		})
	}

	// Attach takes the terminal setting from the container, not the query.
	e.setStream(answer("", status.Error(codes.NotFound, "stop here")))
	before := len(e.cri.callsOf("Attach"))
	if code, _ := e.get("/attach/default/web/c?input=1&output=1"); code != 404 {
		t.Errorf("attach: %d", code)
	}
	reqs := e.cri.callsOf("Attach")
	if len(reqs) != before+1 || !reqs[before].(*runtimeapi.AttachRequest).Tty {
		t.Errorf("attach requests %v, want one with tty from the container spec", reqs[before:])
	}
}

func TestPortForwardPortsFromQuery(t *testing.T) {
	e := newEnv(t)
	e.createPod(newTestPod("web"))
	e.waitPod("web", "running", running)
	e.setStream(func(proto.Message) (string, error) { return "", status.Error(codes.NotFound, "stop here") })
	webSocket := func(query string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, e.base+"/portForward/default/web"+query, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		return req
	}
	for _, tc := range []struct {
		query string
		code  int
		body  string
		ports []int32
	}{
		{"", 400, `query parameter "port" is required`, nil},
		{"?port=", 400, `query parameter "port" cannot be empty`, nil},
		{"?port=http", 400, `unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax`, nil},
		{"?port=0", 400, `port "0" must be > 0`, nil},
		{"?port=80,443&port=8080", 404, "stop here", []int32{80, 443, 8080}},
	} {
		before := len(e.cri.callsOf("PortForward"))
		resp, err := e.http.Do(webSocket(tc.query))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		resp.Body.Close()
		var st metav1.Status
		if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != tc.code || st.Message != tc.body {
			t.Errorf("%q: %d %q, want %d with a Status saying %q", tc.query, resp.StatusCode, body, tc.code, tc.body)
		}
		reqs := e.cri.callsOf("PortForward")
		if tc.ports == nil {
			if len(reqs) != before {
				t.Errorf("%q reached the runtime", tc.query)
			}
			continue
		}
		if len(reqs) != before+1 {
			t.Fatalf("%q: no PortForward call", tc.query)
		}
		assertProto(t, "port-forward request", reqs[before], &runtimeapi.PortForwardRequest{PodSandboxId: e.cri.sandboxOf("uid-web"), Port: tc.ports})
	}
}

func TestPodsHealthzPprof(t *testing.T) {
	e := newEnv(t)
	other := newTestPod("elsewhere")
	other.Spec.NodeName = "node-2"
	e.createPod(other)
	e.createPod(newTestPod("b"))
	e.createPod(newTestPod("a"))
	e.waitPod("a", "running", running)
	e.waitPod("b", "running", running)

	code, body := e.get("/pods")
	if code != 200 {
		t.Fatalf("/pods: %d %s", code, body)
	}
	var list v1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" || len(list.Items) != 2 || list.Items[0].Name != "a" || list.Items[1].Name != "b" {
		t.Errorf("/pods: %s", body)
	}
	if code, body := e.do(http.MethodPost, "/pods"); code != 405 || body != "405: Method Not Allowed" {
		t.Errorf("POST /pods: %d %q", code, body)
	}
	if code, body := e.get("/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := e.get("/healthz/syncloop"); code != 200 || body != "ok" {
		t.Errorf("/healthz/syncloop: %d %q", code, body)
	}
	if code, body := e.get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d", code)
	}
	if code, body := e.get("/debug/pprof/goroutine?debug=1"); code != 200 || !strings.HasPrefix(body, "goroutine profile: total ") {
		t.Errorf("/debug/pprof/goroutine: %d %.40q", code, body)
	}
	if code, _ := e.get("/nothing"); code != 404 {
		t.Errorf("/nothing: %d", code)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
