package streaming

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/execlab/execlab/internal/testutil"
)

const notFoundBody = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"unknown, used or expired streaming token","reason":"NotFound","code":404}` + "\n"

// get sends a plain (not upgraded) GET to url and returns the answer.
func get(t testing.TB, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func wantNotFound(t testing.TB, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusNotFound || body != notFoundBody || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %s %q (%s), want 404 %q (application/json)", resp.Status, body, resp.Header.Get("Content-Type"), notFoundBody)
	}
}

func TestTokenURL(t *testing.T) {
	s := newTestServer(t, localRuntime{})
	url := execURL(t, s, false, false, true, false, "true")
	token, ok := strings.CutPrefix(url, s.URL()+"/exec/")
	if !ok || !regexp.MustCompile(`^[A-Za-z0-9_-]{8}$`).MatchString(token) {
		t.Fatalf("URL %q: want %s/exec/ and 8 base64url characters", url, s.URL())
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:PORT", s.URL())
	}
}

// TestTokenSingleUse: the first request uses the token up, whatever becomes
// of it (here a failed handshake); the next one is a 404.
func TestTokenSingleUse(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	url := execURL(t, s, false, false, true, false, "true")
	if resp, _ := get(t, http.MethodGet, url); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("first use: got %s, want the handshake's 400", resp.Status)
	}
	resp, body := get(t, http.MethodGet, url)
	wantNotFound(t, resp, body)
}

// TestTokenKind: an exec token is no attach token, and is used up anyway.
func TestTokenKind(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	url := execURL(t, s, false, false, true, false, "true")
	resp, body := get(t, http.MethodGet, strings.Replace(url, "/exec/", "/attach/", 1))
	wantNotFound(t, resp, body)
	resp, body = get(t, http.MethodGet, url)
	wantNotFound(t, resp, body)
}

func TestTokenExpiry(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	clock := clocktesting.NewFakePassiveClock(time.Now())
	s.tokens.clock = clock

	onTime := execURL(t, s, false, false, true, false, "true")
	late := execURL(t, s, false, false, true, false, "true")
	clock.SetTime(clock.Now().Add(time.Minute))
	if resp, _ := get(t, http.MethodPost, onTime); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("after exactly 1m: got %s, want the token valid (the handshake's 400)", resp.Status)
	}
	clock.SetTime(clock.Now().Add(time.Nanosecond))
	resp, body := get(t, http.MethodPost, late)
	wantNotFound(t, resp, body)
}

// TestTokenBound: 1000 unused tokens at most; the 1001st request is
// ResourceExhausted, which WriteError answers 429 with Retry-After: 60.
// Expired tokens free their place.
func TestTokenBound(t *testing.T) {
	s := newTestServer(t, localRuntime{})
	clock := clocktesting.NewFakePassiveClock(time.Now())
	s.tokens.clock = clock

	req := &runtimeapi.PortForwardRequest{PodSandboxId: "sandbox"}
	for i := range maxInFlight {
		if _, err := s.GetPortForward(context.Background(), req); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	_, err := s.GetExec(context.Background(), &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"true"}, Stdout: true})
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || st.Message() != "maximum number of in-flight requests exceeded" {
		t.Fatalf("request 1001: got %v, want ResourceExhausted", err)
	}

	w := httptest.NewRecorder()
	WriteError(w, err)
	const want = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"maximum number of in-flight requests exceeded","reason":"TooManyRequests","details":{"retryAfterSeconds":60},"code":429}` + "\n"
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" || w.Body.String() != want {
		t.Errorf("WriteError: got %d, Retry-After %q, %q; want 429, 60, %q", w.Code, w.Header().Get("Retry-After"), w.Body.String(), want)
	}

	clock.SetTime(clock.Now().Add(tokenTTL + time.Nanosecond))
	if _, err := s.GetPortForward(context.Background(), req); err != nil {
		t.Errorf("after the TTL: %v, want room again", err)
	}
}

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		body string
	}{
		{status.Error(codes.NotFound, "no such container"), http.StatusNotFound,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"no such container","reason":"NotFound","code":404}`},
		{status.Error(codes.InvalidArgument, "tty and stderr cannot both be true"), http.StatusBadRequest,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"tty and stderr cannot both be true","reason":"BadRequest","code":400}`},
		{status.Error(codes.Unknown, "boom"), http.StatusInternalServerError,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"boom","reason":"InternalError","code":500}`},
	} {
		w := httptest.NewRecorder()
		WriteError(w, tc.err)
		if w.Code != tc.code || w.Body.String() != tc.body+"\n" {
			t.Errorf("WriteError(%v): got %d %q, want %d %q", tc.err, w.Code, w.Body.String(), tc.code, tc.body)
		}
	}
}

func TestGetValidation(t *testing.T) {
	s := newTestServer(t, localRuntime{})
	exec := func(r *runtimeapi.ExecRequest) error { _, err := s.GetExec(context.Background(), r); return err }
	attach := func(r *runtimeapi.AttachRequest) error { _, err := s.GetAttach(context.Background(), r); return err }
	portForward := func(r *runtimeapi.PortForwardRequest) error {
		_, err := s.GetPortForward(context.Background(), r)
		return err
	}
	cmd := []string{"true"}
	for _, tc := range []struct {
		name string
		err  error
		want string // the InvalidArgument message; "" for success
	}{
		{"exec", exec(&runtimeapi.ExecRequest{ContainerId: "c", Cmd: cmd, Stdout: true}), ""},
		{"exec without container", exec(&runtimeapi.ExecRequest{Cmd: cmd, Stdout: true}), "missing required container_id"},
		{"exec tty and stderr", exec(&runtimeapi.ExecRequest{ContainerId: "c", Cmd: cmd, Tty: true, Stderr: true}), "tty and stderr cannot both be true"},
		{"exec without streams", exec(&runtimeapi.ExecRequest{ContainerId: "c", Cmd: cmd, Tty: true}), "one of stdin, stdout, or stderr must be set"},
		{"exec without cmd", exec(&runtimeapi.ExecRequest{ContainerId: "c", Stdout: true}), "missing required cmd"},
		{"attach", attach(&runtimeapi.AttachRequest{ContainerId: "c", Stdin: true}), ""},
		{"attach tty and stderr", attach(&runtimeapi.AttachRequest{ContainerId: "c", Tty: true, Stderr: true}), "tty and stderr cannot both be true"},
		{"attach without streams", attach(&runtimeapi.AttachRequest{ContainerId: "c"}), "one of stdin, stdout, or stderr must be set"},
		{"port-forward", portForward(&runtimeapi.PortForwardRequest{PodSandboxId: "p", Port: []int32{80}}), ""},
		{"port-forward without sandbox", portForward(&runtimeapi.PortForwardRequest{}), "missing required pod_sandbox_id"},
		{"port-forward to port 0", portForward(&runtimeapi.PortForwardRequest{PodSandboxId: "p", Port: []int32{0}}), "invalid port 0"},
	} {
		st, _ := status.FromError(tc.err)
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v", tc.name, tc.err)
		case tc.want != "" && (st.Code() != codes.InvalidArgument || st.Message() != tc.want):
			t.Errorf("%s: got %v, want InvalidArgument %q", tc.name, tc.err, tc.want)
		}
	}
}

// TestRoutes: what is not a streaming endpoint, or not GET or POST, answers
// a Status.
func TestRoutes(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	resp, body := get(t, http.MethodGet, s.URL()+"/exec")
	if want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","code":404}` + "\n"; resp.StatusCode != http.StatusNotFound || body != want {
		t.Errorf("GET /exec: got %s %q, want 404 %q", resp.Status, body, want)
	}
	resp, body = get(t, http.MethodGet, s.URL()+"/exec/nosuchtk")
	wantNotFound(t, resp, body)

	url := execURL(t, s, false, false, true, false, "true")
	resp, body = get(t, http.MethodPut, url)
	if want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"method PUT not allowed: use GET or POST","reason":"MethodNotAllowed","code":405}` + "\n"; resp.StatusCode != http.StatusMethodNotAllowed || body != want || resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("PUT: got %s %q (Allow %q), want 405 %q", resp.Status, body, resp.Header.Get("Allow"), want)
	}
	// A wrong method does not use the token up.
	if resp, _ := get(t, http.MethodGet, url); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET after PUT: got %s, want the handshake's 400", resp.Status)
	}
}
