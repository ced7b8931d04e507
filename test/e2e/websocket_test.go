package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

var (
	kubectl133 = client{name: "kubectl-1.33", bin: kubectlDir + "/kubectl.1.33", kubectl: true}
	miniWS     = client{name: "mini-kubectl-websocket", bin: "mini-kubectl", args: []string{"--protocol", "websocket"}}
	wsClients  = []client{kubectlLatest, kubectl133, miniWS}
)

type streamingMode struct {
	name  string
	stack *execlabtest.Stack
}

// streamingModes are the shared stacks, one per apiserver streaming mode.
func streamingModes(t *testing.T) []streamingMode {
	return []streamingMode{{"translate", shared}, {"passthrough", passthroughStack(t)}}
}

func TestExecWebSocket(t *testing.T) {
	for _, mode := range streamingModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			testExecCases(t, mode.stack, wsClients)
			t.Run("stdin half-close", func(t *testing.T) {
				// v5's CLOSE signal is what lets wc see the end of its input.
				data := bytes.Repeat([]byte("x"), 3<<20)
				for _, c := range wsClients {
					r := c.run(t, mode.stack, bytes.NewReader(data), "exec", "-i", "demo", "--", "wc", "-c")
					if r.code != 0 || strings.TrimSpace(r.stdout) != "3145728" {
						t.Errorf("%s: exit %d, stdout %q, stderr %q", c.name, r.code, r.stdout, r.stderr)
					}
				}
			})
			t.Run("no fallback to SPDY", func(t *testing.T) {
				for _, c := range []client{kubectlLatest, kubectl133} {
					r := c.run(t, mode.stack, nil, "-v=4", "exec", "demo", "--", "true")
					if r.code != 0 || strings.Contains(strings.ToLower(r.stderr), "fallback") {
						t.Errorf("%s: exit %d, stderr:\n%s", c.name, r.code, r.stderr)
					}
				}
			})
		})
	}
}

// TestStreamingServerWebSocket drives the runtime's streaming server over
// WebSocket, straight from a CRI Exec URL: client-go's v5 executor, and a raw
// WebSocket client for the older channel protocols.
func TestStreamingServerWebSocket(t *testing.T) {
	rs := criClient(t)
	id := demoContainerID(t, rs)
	execURL := func(t *testing.T, stdin bool, cmd ...string) *url.URL {
		resp, err := rs.Exec(context.Background(), &runtimeapi.ExecRequest{ContainerId: id, Cmd: cmd, Stdin: stdin, Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(resp.Url)
		return u
	}

	server := streamingServers[runtimeName]
	t.Run("v5 client-go", func(t *testing.T) {
		exec, err := remotecommand.NewWebSocketExecutor(&rest.Config{}, "GET", execURL(t, true, "sh", "-c", "wc -c; echo err >&2; exit 3").String())
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("12345"), Stdout: &stdout, Stderr: &stderr})
		if !server.v5 {
			if err == nil || !strings.Contains(err.Error(), "bad handshake (403 Forbidden)") {
				t.Errorf("error %v, want v5 refused with 403", err)
			}
			return
		}
		var exitErr exitStatuser
		if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
			t.Errorf("error %v, want exit code 3", err)
		}
		if strings.TrimSpace(stdout.String()) != "5" || stderr.String() != "err\n" {
			t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
		}
	})

	cmd := []string{"sh", "-c", "head -c 5; echo; echo err >&2; exit 3"}
	// The error channel for exit code 3: text before v4, a Status from v4.
	exitText := "command terminated with non-zero exit code: " + server.exitReason(cmd)
	for _, tc := range []struct {
		protocol    string
		base64      bool
		errorStream string
	}{
		{"", false, exitText},
		{"channel.k8s.io", false, exitText},
		{"base64.channel.k8s.io", true, exitText},
		{"v4.channel.k8s.io", false, server.v4Status(exitText)},
		{"v4.base64.channel.k8s.io", true, server.v4Status(exitText)},
	} {
		name := tc.protocol
		if name == "" {
			name = "no subprotocol"
		}
		t.Run(name, func(t *testing.T) {
			u := execURL(t, true, cmd...)
			u.Scheme = "ws"
			dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
			if tc.protocol != "" {
				dialer.Subprotocols = []string{tc.protocol}
			}
			conn, resp, err := dialer.Dial(u.String(), http.Header{})
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			defer conn.Close()
			if got := conn.Subprotocol(); got != tc.protocol {
				t.Errorf("negotiated %q, want %q", got, tc.protocol)
			}
			stdin := append([]byte{0}, "abcde"...)
			if tc.base64 {
				stdin = append([]byte{'0'}, base64.StdEncoding.EncodeToString([]byte("abcde"))...)
			}
			if err := conn.WriteMessage(websocket.BinaryMessage, stdin); err != nil {
				t.Fatal(err)
			}
			channels := readChannels(t, conn, tc.base64)
			if got := channels[1]; got != "abcde\n" {
				t.Errorf("stdout %q", got)
			}
			if got := channels[2]; got != "err\n" {
				t.Errorf("stderr %q", got)
			}
			if got := channels[3]; got != tc.errorStream {
				t.Errorf("error channel %q, want %q", got, tc.errorStream)
			}
		})
	}
}

// readChannels reads messages until the server closes the connection and
// joins each channel's payloads.
func readChannels(t *testing.T, conn *websocket.Conn, b64 bool) map[int]string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	channels := map[int]string{}
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			var closeErr *websocket.CloseError
			if !errors.As(err, &closeErr) && !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("read: %v", err)
			}
			return channels
		}
		if len(msg) == 0 {
			continue
		}
		ch, payload := int(msg[0]), msg[1:]
		if b64 {
			n, err := strconv.Atoi(string(msg[0]))
			if err != nil {
				t.Fatalf("base64 channel byte %q", msg[0])
			}
			ch = n
			if payload, err = base64.StdEncoding.DecodeString(string(payload)); err != nil {
				t.Fatalf("channel %d: %v", ch, err)
			}
		}
		channels[ch] += string(payload)
	}
}
