package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/execlab/execlab/internal/testutil"
	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/tracing"
)

// Seeing an exec: one trace across every hop, the same trace ID in every
// component's log, mini-kubectl's --trace timeline, and the live view in a
// real browser.

// sessionsOf returns the sessions of the stack's live view.
func sessionsOf(t *testing.T, s *execlabtest.Stack) []tracing.Session {
	t.Helper()
	body, err := s.Client().CoreV1().RESTClient().Get().AbsPath(tracing.UIPath, "api/sessions").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("GET %sapi/sessions: %v", tracing.UIPath, err)
	}
	var sessions []tracing.Session
	if err := json.Unmarshal(body, &sessions); err != nil {
		t.Fatal(err)
	}
	return sessions
}

// sessionWith finds the session whose command is command, waiting until
// it shows, running or ended, and until it has spans of every hop listed.
func sessionWith(t *testing.T, s *execlabtest.Stack, command string, hops ...string) tracing.Session {
	t.Helper()
	var last []tracing.Session
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		last = sessionsOf(t, s)
		for _, sess := range last {
			if sess.Command == command && strings.Join(sess.Hops, ",") == strings.Join(hops, ",") {
				return sess
			}
		}
	}
	t.Fatalf("no session of %q with hops %v in the live view: %+v", command, hops, last)
	return tracing.Session{}
}

// TestTraceIDInEveryLog: one kubectl exec, over WebSocket and over SPDY,
// is one trace, and the apiserver, the kubelet and the runtime each log a
// line with its trace ID. kubectl sends no trace context: the apiserver
// starts the trace and passes it on.
func TestTraceIDInEveryLog(t *testing.T) {
	if runtimeName != fakeRuntime {
		t.Skip("containerd does not trace this session (the fake runtime's streaming server does)")
	}
	for i, c := range []client{kubectlLatest, kubectlNoWS} {
		t.Run(c.name, func(t *testing.T) {
			word := fmt.Sprintf("traced-%d", i)
			if r := c.run(t, shared, nil, "exec", "demo", "--", "echo", word); r.code != 0 || r.stdout != word+"\n" {
				t.Fatalf("exec: %+v", r)
			}
			sess := sessionWith(t, shared, "echo "+word, tracing.HopAPIServer, tracing.HopKubelet, tracing.HopRuntime, tracing.HopStreaming)
			mark := "trace_id=" + sess.TraceID
			for _, comp := range []*execlabtest.Component{shared.APIServer, shared.Nodes[0].Kubelet, shared.Nodes[0].Runtime} {
				var lines []string
				for _, line := range strings.Split(comp.Log(), "\n") {
					if strings.Contains(line, mark) {
						lines = append(lines, line)
					}
				}
				if len(lines) == 0 {
					t.Errorf("%s logged no line with %s", comp.Name, mark)
				}
			}
			wantTransport := "websocket"
			if c.name == kubectlNoWS.name {
				wantTransport = "spdy"
			}
			if sess.Transport != wantTransport || sess.ExitCode != "0" || sess.BytesOut == 0 {
				t.Errorf("session %+v: want %s, exit code 0, bytes to the client", sess, wantTransport)
			}
		})
	}
}

// TestTraceTimeline: mini-kubectl exec --trace prints, after the command,
// every hop in order with the protocol negotiated, the bytes and the exit
// code; --trace=headers adds what each hop received.
func TestTraceTimeline(t *testing.T) {
	if runtimeName != fakeRuntime {
		t.Skip("containerd does not trace this session")
	}
	mini := client{name: "mini-kubectl", bin: "mini-kubectl"}
	for _, tc := range []struct {
		c         client
		transport string
	}{{mini, "websocket"}, {miniSPDY, "spdy"}} {
		t.Run(tc.c.name, func(t *testing.T) {
			r := tc.c.run(t, shared, nil, "exec", "--trace=headers", "demo", "--", "sh", "-c", "printf hello; exit 7")
			if r.code != 7 || r.stdout != "hello" {
				t.Fatalf("exec: %+v", r)
			}
			// In this order, each on a line of its own; times vary.
			want := []string{
				`^trace [0-9a-f]{32}: exec default/demo, v5\.channel\.k8s\.io over ` + tc.transport + `, hops: apiserver → kubelet → runtime → streaming$`,
				`ms +● +│ +│ +│ +│ +mini-kubectl exec$`,
				`ms +│─+▶│ +│ +│ +│ +GET /api/v1/namespaces/\{:namespace\}/pods/\{:name\}$`,
				`ms +│ +● +│ +│ +│ +authenticated admin$`,
				`ms +│─+▶│ +│ +│ +│ +(GET|POST) /api/v1/namespaces/\{:namespace\}/pods/\{:name\}/exec$`,
				`ms +│ +● +│ +│ +│ +authorized allow create pods/exec$`,
				`ms +│ +● +│ +│ +│ +pod found node-1$`,
				`ms +│ +│─+▶│ +│ +│ +POST /exec/default/demo/main$`,
				`ms +│ +│ +│─+▶│ +│ +runtime\.v1\.RuntimeService/Exec$`,
				`ms +│ +│ +│◀─+│ +│ +CRI Exec answered http://127\.0\.0\.1:[0-9]+/exec/\*{8}$`,
				`ms +│ +│ +│─+▶│ +token redeemed /exec/\*{8}$`,
				`ms +│ +│ +│ +│ +● +streams ready v5\.channel\.k8s\.io spdy$`,
				`ms +│ +│ +│ +│ +● +first byte stdout$`,
				`ms +│ +│ +│ +│ +● +exited code 7$`,
				`ms +● +│ +│ +│ +│ +exited code 7$`,
				`^== apiserver received$`,
				`^Kubectl-Session: [0-9a-f-]{36}$`,
				`^Traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-01$`,
				`^== kubelet received$`,
				`^POST /exec/default/demo/main\?command=sh&command=-c&command=printf\+hello%3B\+exit\+7&error=1&output=1 HTTP/1\.1$`,
				`^== streaming received$`,
				`^POST /exec/\*{8} HTTP/1\.1$`,
			}
			lines := strings.Split(r.stderr, "\n")
			i := 0
			for _, w := range want {
				re := regexp.MustCompile(w)
				for i < len(lines) && !re.MatchString(lines[i]) {
					i++
				}
				if i == len(lines) {
					t.Fatalf("the trace has no line matching %s after the ones before; stderr:\n%s", w, r.stderr)
				}
				i++
			}
			// The streaming server's session closes after it has sent the
			// status, which the client may have read and acted on first.
			if !regexp.MustCompile(`(?m)ms +│ +│ +│ +│ +● +closed code 7 stdin 0 B, stdout 5 B, stderr 0 B \(command ended\)$`).MatchString(r.stderr) {
				t.Errorf("the trace has no closed line at the streaming server:\n%s", r.stderr)
			}
			if !strings.HasSuffix(r.stderr, "command terminated with exit code 7\n") {
				t.Errorf("stderr does not end with kubectl's message:\n%s", r.stderr)
			}
		})
	}
}

// TestLiveViewInBrowser opens the apiserver's /ui/ in headless Chromium,
// authenticated with the kubeconfig's token: a running exec shows with its
// hops and its bytes moving, then its exit code; a screenshot is kept.
func TestLiveViewInBrowser(t *testing.T) {
	if runtimeName != fakeRuntime {
		t.Skip("the live view's hops past the kubelet need the fake runtime's spans")
	}
	ctx := testutil.Browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
				Headers: network.Headers{"Authorization": "Bearer " + shared.AdminToken()}})
			return err
		}),
		chromedp.Navigate(shared.APIServer.URL+tracing.UIPath),
	); err != nil {
		t.Fatal(err)
	}

	// cat: the session runs while the test feeds it, and ends when stdin does.
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	cmd := client{name: "mini-kubectl", bin: "mini-kubectl"}.command(context.Background(), t, shared, "exec", "-i", "demo", "--", "cat")
	cmd.Stdin, cmd.Stdout = stdinR, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sess := sessionWith(t, shared, "cat", tracing.HopAPIServer, tracing.HopKubelet, tracing.HopRuntime)
	if !sess.Running {
		t.Fatalf("the exec of cat ended before its stdin did: %+v", sess)
	}
	row := `#sessions tr[data-trace="` + sess.TraceID + `"]`
	testutil.Click(t, ctx, row)
	testutil.WaitText(t, ctx, row+" td.state", "running")
	if _, err := io.WriteString(stdinW, strings.Repeat("x", 3<<20)); err != nil {
		t.Fatal(err)
	}
	// 3 MiB in, echoed back out, moving while the session runs.
	testutil.WaitText(t, ctx, row+" td.bytes", "3.0 MiB / 3.0 MiB")
	testutil.WaitText(t, ctx, "#hop-table", "apiserver")
	stdinW.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exec: %v", err)
	}
	testutil.WaitText(t, ctx, row+" td.state", "exit 0")
	testutil.WaitText(t, ctx, "#hop-table", "streaming server")
	testutil.WaitText(t, ctx, "#protocol", "v5.channel.k8s.io over websocket")
	testutil.WaitText(t, ctx, "#hop-table tr[data-hop=streaming] td.bytes", "stdin 3.0 MiB, stdout 3.0 MiB")
	lanes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#sequence g.hop[data-present=true]")].map(g => g.dataset.hop)`))
	if err != nil || strings.Join(lanes, ",") != "client,apiserver,kubelet,runtime,streaming" && strings.Join(lanes, ",") != "apiserver,kubelet,runtime,streaming" {
		t.Errorf("hops drawn: %v (%v)", lanes, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	testutil.Artifact(t, "live-view.png", png)
}
