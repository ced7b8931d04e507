package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestStreamingErrors checks the status codes and messages the kubelet
// answers before any upgrade: upstream's codes and texts, in a Status. The
// texts of the host's errors are the kubelet's (pkg/kubelet exec_test.go).
func TestStreamingErrors(t *testing.T) {
	e := newEnv(t, Options{}, newTestPod("web"))
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		stream     func(hostCall) (*url.URL, error)
		code       int
		body       string
		retryAfter string
	}{
		{name: "unknown pod", path: "/exec/default/nope/c?command=ls&output=1", code: 404, body: "pod does not exist"},
		{name: "unknown container", path: "/exec/default/web/nope?command=ls&output=1", stream: answer("", errors.New(`container not found ("nope")`)), code: 500, body: `container not found ("nope")`},
		{name: "other pod UID", path: "/exec/default/web/other-uid/c?command=ls&output=1", stream: answer("", errors.New(`container not found ("c")`)), code: 500, body: `container not found ("c")`},
		{name: "no streams", path: "/exec/default/web/c?command=ls", code: 400, body: "you must specify at least 1 of stdin, stdout, stderr"},
		{name: "false is no stream", path: "/exec/default/web/c?command=ls&output=0&error=false", code: 400, body: "you must specify at least 1 of stdin, stdout, stderr"},
		{name: "relative URL from the runtime", path: "/exec/default/web/c?command=ls&output=1",
			stream: answer("", errors.New(`container runtime returned a relative streaming URL "/exec/abcdefgh"; it must be absolute (http://host:port/...)`)), code: 500,
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
		{name: "attach to unknown container", path: "/attach/default/web/nope?output=1", stream: answer("", errors.New("container nope not found in pod web_default")), code: 500,
			body: "container nope not found in pod web_default"},
		{name: "port-forward to unknown pod", path: "/portForward/default/nope", code: 404, body: "pod does not exist"},
		{name: "port-forward to another UID", path: "/portForward/default/web/other-uid", code: 404, body: "pod not found"},
		{name: "logs with POST", method: http.MethodPost, path: "/containerLogs/default/web/c", code: 405, body: "405: Method Not Allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.host.setStream(tc.stream)
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
}

func TestPortForwardPortsFromQuery(t *testing.T) {
	e := newEnv(t, Options{}, newTestPod("web"))
	e.host.setStream(answer("", status.Error(codes.NotFound, "stop here")))
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
		before := len(e.host.callsOf("GetPortForward"))
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
		calls := e.host.callsOf("GetPortForward")
		if tc.ports == nil {
			if len(calls) != before {
				t.Errorf("%q reached the host", tc.query)
			}
			continue
		}
		if len(calls) != before+1 {
			t.Fatalf("%q: no GetPortForward call", tc.query)
		}
		if got := calls[before].ports; !reflect.DeepEqual(got, tc.ports) {
			t.Errorf("%q: ports %v, want %v", tc.query, got, tc.ports)
		}
	}
}
