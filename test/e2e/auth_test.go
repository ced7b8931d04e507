package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/execlab/execlab/pkg/pki"
	"github.com/execlab/execlab/pkg/stack"
)

// The users of TestAuthorization: viewer may read pods only; getter may
// also "get" pods/exec, which is what a WebSocket upgrade (a GET) asks
// for, but not "create" it.
var authUsers = []stack.User{
	{Name: "viewer", Token: "viewer-token"},
	{Name: "getter", Token: "getter-token"},
}

const authPolicy = `rules:
- users: ["viewer", "getter"]
  verbs: ["get", "list", "watch"]
  resources: ["pods"]
- users: ["getter"]
  verbs: ["get"]
  resources: ["pods/exec"]
`

// TestAuthentication: no credentials, a bad token, and a user without
// pods/exec all get upstream's answers from real clients, and the command
// never runs.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	s := newStack(t, stack.Options{Users: authUsers, Policy: authPolicy})
	marker := "/tmp/execlab-auth-" + strings.ReplaceAll(t.Name(), "/", "-")
	touch := []string{"exec", "demo", "--", "touch", marker}
	cases := []struct {
		name   string
		client client
		token  string // "" writes a kubeconfig without credentials
		stderr string
	}{
		// Discovery comes first and is refused first; client-go words a
		// 401 to its discovery client this way, as against kube-apiserver.
		{"bad token", kubectlLatest, "wrong", "error: You must be logged in to the server (the server has asked for the client to provide credentials)\n"},
		{"bad token spdy", kubectl128, "wrong", "error: You must be logged in to the server (the server has asked for the client to provide credentials)\n"},
		{"bad token mini-kubectl", miniSPDY, "wrong", "error: You must be logged in to the server (Unauthorized)\n"},
		{"anonymous", miniWS, "", `Error from server (Forbidden): pods "demo" is forbidden: User "system:anonymous" cannot get resource "pods" in API group "" in the namespace "default"` + "\n"},
		// kubectl tries WebSocket (get), is refused, falls back to SPDY
		// (create) and reports that refusal.
		{"viewer", kubectlLatest, "viewer-token", `Error from server (Forbidden): pods "demo" is forbidden: User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "default"` + "\n"},
		{"getter", kubectlLatest, "getter-token", `Error from server (Forbidden): pods "demo" is forbidden: User "getter" cannot create resource "pods/exec" in API group "" in the namespace "default"` + "\n"},
		{"getter spdy", kubectlNoWS, "getter-token", `Error from server (Forbidden): pods "demo" is forbidden: User "getter" cannot create resource "pods/exec" in API group "" in the namespace "default"` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user := *s
			user.Kubeconfig = userKubeconfig(t, s, tc.token)
			r := tc.client.run(t, &user, nil, touch...)
			if r.code != 1 || r.stdout != "" || lastLine(r.stderr) != tc.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, stderr ending %q", r.code, r.stdout, r.stderr, tc.stderr)
			}
		})
	}
	if r := kubectlLatest.run(t, s, nil, "exec", "demo", "--", "ls", marker); r.code == 0 {
		t.Errorf("a refused exec ran: %s exists", marker)
	}
}

// TestWebSocketNeedsCreate: with only "get" on pods/exec, client-go's
// WebSocket executor, which cannot fall back, is refused before the pod is
// looked at, as kube-apiserver 1.35 refuses it.
func TestWebSocketNeedsCreate(t *testing.T) {
	t.Parallel()
	s := newStack(t, stack.Options{Users: authUsers, Policy: authPolicy})
	config := s.RESTConfig()
	config.BearerToken = "getter-token"
	u, err := url.Parse(config.Host + "/api/v1/namespaces/default/pods/demo/exec?command=true&stdout=true")
	if err != nil {
		t.Fatal(err)
	}
	exec, err := remotecommand.NewWebSocketExecutor(config, http.MethodGet, u.String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), `pods "demo" is forbidden`) {
		t.Errorf("WebSocket exec with get only: %v; want pods \"demo\" is forbidden", err)
	}
}

// TestKubeletRefusesStrangers: the kubelet API answers only the
// apiserver's client certificate.
func TestKubeletRefusesStrangers(t *testing.T) {
	cas, err := pki.CertPool(shared.CertDir)
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, err := pki.KeyPair(shared.CertDir, pki.KubeletClient)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		certs  []tls.Certificate
		status int
		body   string
	}{
		{"no client certificate", nil, http.StatusUnauthorized, "Unauthorized"},
		{"a node's certificate", []tls.Certificate{nodeCert}, http.StatusForbidden,
			"Forbidden (user=" + pki.KubeletClientUser + ", verb=create, resource=nodes, subresource=proxy)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cas, Certificates: tc.certs}}}
			defer client.CloseIdleConnections()
			resp, err := client.Post(shared.Nodes[0].Kubelet.URL+"/exec/default/demo/main?command=true&output=1", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || strings.TrimSpace(string(body)) != tc.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
		})
	}
}

// userKubeconfig writes a kubeconfig for s with token ("" for none).
func userKubeconfig(t *testing.T, s *stack.Stack, token string) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := stack.WriteKubeconfig(path, s.APIServer.URL, pki.CertFile(s.CertDir, pki.CA), stack.Credentials{Token: token}); err != nil {
		t.Fatal(err)
	}
	return path
}

// lastLine is the last line of s with its newline: kubectl may print
// discovery warnings first.
func lastLine(s string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1] + "\n"
}
