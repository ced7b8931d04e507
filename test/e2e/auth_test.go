package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/pki"
)

// The users of TestAuthorization: viewer may read pods only; getter may
// also "get" pods/exec, which is what a WebSocket upgrade (a GET) asks
// for, but not "create" it.
var authUsers = []execlabtest.User{
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
	s := newStack(t, execlabtest.Options{Users: authUsers, Policy: authPolicy})
	marker := "/tmp/execlab-auth-" + strings.ReplaceAll(t.Name(), "/", "-")
	touch := []string{"exec", "demo", "--", "touch", marker}
	// Discovery comes first and is refused first; client-go words a 401
	// to its discovery client this way, as against kube-apiserver.
	const loggedOut = "error: You must be logged in to the server (the server has asked for the client to provide credentials)\n"
	cases := []struct {
		name   string
		client client
		token  string // "" writes a kubeconfig without credentials
		stderr string
	}{
		{"bad token", kubectlLatest, "wrong", loggedOut},
		{"bad token spdy", kubectl128, "wrong", loggedOut},
		{"bad token mini-kubectl", miniSPDY, "wrong", "error: You must be logged in to the server (Unauthorized)\n"},
		// Without credentials only health and version answer.
		{"no token mini-kubectl", miniWS, "", "error: You must be logged in to the server (Unauthorized)\n"},
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
	// kubectl, given a kubeconfig without credentials for an HTTPS server,
	// asks on the terminal for a user name and password, as against any
	// cluster, and sends them as basic authentication, which
	// kube-apiserver ignores since 1.19 and so does this one.
	for _, c := range []client{kubectlLatest, kubectl128} {
		t.Run("no token "+c.name, func(t *testing.T) {
			user := *s
			user.Kubeconfig = userKubeconfig(t, s, "")
			term := c.runTerminal(t, &user, 24, 80, touch...)
			term.until("", "Please enter Username: ")
			term.write("nobody\n")
			term.until("", "Please enter Password: ")
			term.write("secret\n")
			code := term.wait()
			if out := strings.ReplaceAll(term.output(), "\r\n", "\n"); code != 1 || lastLine(out) != loggedOut {
				t.Errorf("exit %d, output %q; want exit 1, output ending %q", code, out, loggedOut)
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
	s := newStack(t, execlabtest.Options{Users: authUsers, Policy: authPolicy})
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

// TestAuthCanI: kubectl auth can-i asks the apiserver with a
// SelfSubjectAccessReview and answers from the policy.
func TestAuthCanI(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{Users: authUsers, Policy: authPolicy})
	for _, tc := range []struct {
		token string
		args  []string
		want  string
	}{
		{adminToken, []string{"create", "pods/exec"}, "yes"},
		{"viewer-token", []string{"list", "pods"}, "yes"},
		{"viewer-token", []string{"list", "pods", "-n", "kube-system"}, "yes"},
		{"viewer-token", []string{"create", "pods/exec"}, "no"},
		{"getter-token", []string{"get", "pods", "--subresource", "exec"}, "yes"},
		{"getter-token", []string{"create", "pods", "--subresource", "exec"}, "no"},
		{"getter-token", []string{"delete", "pods"}, "no"},
		{"getter-token", []string{"get", "/healthz"}, "yes"},
	} {
		t.Run(strings.Join(append([]string{tc.token}, tc.args...), " "), func(t *testing.T) {
			user := *s
			user.Kubeconfig = userKubeconfig(t, s, tc.token)
			r := kubectlLatest.run(t, &user, nil, append([]string{"auth", "can-i"}, tc.args...)...)
			wantCode := 0
			if tc.want == "no" {
				wantCode = 1
			}
			if r.code != wantCode || r.stdout != tc.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, %q", r.code, r.stdout, r.stderr, wantCode, tc.want)
			}
		})
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
	foreignDir := filepath.Join(t.TempDir(), "pki")
	if err := pki.Ensure(foreignDir); err != nil {
		t.Fatal(err)
	}
	foreignCert, err := pki.KeyPair(foreignDir, pki.APIServerKubeletClient)
	if err != nil {
		t.Fatal(err)
	}
	execPath := "/exec/default/demo/main?command=true&output=1"
	cases := []struct {
		name   string
		url    string
		certs  []tls.Certificate
		status int
		body   string
		err    string // the TLS handshake fails with this
	}{
		{"no client certificate", shared.Nodes[0].Kubelet.URL, nil, http.StatusUnauthorized, "Unauthorized", ""},
		{"a node's certificate", shared.Nodes[0].Kubelet.URL, []tls.Certificate{nodeCert}, http.StatusForbidden,
			"Forbidden (user=" + pki.KubeletClientUser + ", verb=create, resource=nodes, subresource(s)=[proxy])", ""},
		// The same subject as the apiserver's, from another CA.
		{"a certificate of another CA", shared.Nodes[0].Kubelet.URL, []tls.Certificate{foreignCert}, 0, "", "tls: "},
		{"plain HTTP", strings.Replace(shared.Nodes[0].Kubelet.URL, "https:", "http:", 1), nil, http.StatusBadRequest,
			"Client sent an HTTP request to an HTTPS server.", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cas, Certificates: tc.certs}}}
			defer client.CloseIdleConnections()
			resp, err := client.Post(tc.url+execPath, "", nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want the handshake refused (%q)", err, tc.err)
				}
				return
			}
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

// TestStreamingURLOutsideTheChain: the URL a runtime answers a CRI Exec
// with is on loopback, so only this machine reaches it, and its token
// opens one session only.
func TestStreamingURLOutsideTheChain(t *testing.T) {
	rs := criClient(t)
	resp, err := rs.Exec(context.Background(), &runtimeapi.ExecRequest{ContainerId: demoContainerID(t, rs), Cmd: []string{"true"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(resp.Url)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		t.Errorf("streaming URL %s is not on a loopback address", resp.Url)
	}
	for i, want := range []int{http.StatusSwitchingProtocols, http.StatusNotFound} {
		req, err := http.NewRequest(http.MethodPost, resp.Url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "SPDY/3.1")
		req.Header.Set("X-Stream-Protocol-Version", "v4.channel.k8s.io")
		got, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		got.Body.Close()
		if got.StatusCode != want {
			t.Errorf("use %d of the token: %s, want %d", i+1, got.Status, want)
		}
	}
}

// userKubeconfig writes a kubeconfig for s with token ("" for none).
func userKubeconfig(t *testing.T, s *execlabtest.Stack, token string) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := s.WriteKubeconfig(path, execlabtest.Credentials{Token: token}); err != nil {
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

// TestKubeletWebhookAuth: the kubelet authenticates and authorizes as
// upstream's in Webhook mode, asking the apiserver: a kubeadm-style
// apiserver client certificate (CN=kube-apiserver-kubelet-client, in no
// group) gets in once a rule allows it nodes/proxy; a bearer token is
// reviewed by the apiserver, and its user refused without such a rule.
func TestKubeletWebhookAuth(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{
		Users:  []execlabtest.User{{Name: "viewer", Token: "viewer-token"}},
		Policy: "rules:\n- users: [kube-apiserver-kubelet-client]\n  verbs: [get, create]\n  resources: [nodes/proxy]\n",
	})
	cas, err := pki.CertPool(s.CertDir)
	if err != nil {
		t.Fatal(err)
	}
	kubeadmCert := signClientCert(t, s.CertDir, "kube-apiserver-kubelet-client")
	kubelet := s.Nodes[0].Kubelet.URL
	for _, tc := range []struct {
		name, method, path, token string
		certs                     []tls.Certificate
		status                    int
		body                      string
	}{
		{"kubeadm-style certificate, /pods", "GET", "/pods", "", []tls.Certificate{kubeadmCert}, 200, `"kind":"PodList"`},
		{"kubeadm-style certificate, exec", "POST", "/exec/default/demo/main?command=true&output=1", "", []tls.Certificate{kubeadmCert}, 400, "Upgrade request required"},
		{"viewer's token", "GET", "/pods", "viewer-token", nil, 403, "Forbidden (user=viewer, verb=get, resource=nodes, subresource(s)=[pods proxy])"},
		{"unknown token", "GET", "/pods", "no-such-token", nil, 401, "Unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cas, Certificates: tc.certs}}}
			defer client.CloseIdleConnections()
			req, err := http.NewRequest(tc.method, kubelet+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
				t.Errorf("got %d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.body)
			}
		})
	}
}

// signClientCert issues a client certificate for cn, in no group, from
// the stack's CA.
func signClientCert(t *testing.T, certDir, cn string) tls.Certificate {
	t.Helper()
	ca, err := pki.KeyPair(certDir, pki.CA)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
