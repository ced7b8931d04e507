package apiserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/execlab/execlab/pkg/pki"
)

// tlsServer is a Server with a CertDir, serving HTTPS on loopback.
type tlsServer struct {
	url     string
	certDir string
	cas     *x509.CertPool
}

// startTLSServer starts a server with opts, whose CertDir is set to a new
// directory unless given, and stops it when the test ends.
func startTLSServer(t *testing.T, opts Options) *tlsServer {
	t.Helper()
	if opts.CertDir == "" {
		opts.CertDir = filepath.Join(t.TempDir(), "pki")
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	cas, err := pki.CertPool(opts.CertDir)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsServer{url: "https://" + addr, certDir: opts.CertDir, cas: cas}
}

// get GETs path trusting only the cluster CA, with token ("" for none)
// and the client certificates certs.
func (ts *tlsServer) get(t *testing.T, path, token string, certs ...tls.Certificate) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ts.cas, Certificates: certs},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequest(http.MethodGet, ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// adminClient is a clientset with the admin token of writeTokens.
func (ts *tlsServer) adminClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	config := &rest.Config{Host: ts.url, BearerToken: "admin-token", QPS: -1,
		TLSClientConfig: rest.TLSClientConfig{CAFile: pki.CertFile(ts.certDir, pki.CA)}}
	return kubernetes.NewForConfigOrDie(config)
}

// writeTokens writes a token file: admin-token (system:masters) and
// bob-token (no groups), and lines.
func writeTokens(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.csv")
	content := "admin-token,admin,1,\"system:masters\"\nbob-token,bob,2\n" + strings.Join(lines, "")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// keyPair loads one of the certificates of dir.
func keyPair(t *testing.T, dir, name string) tls.Certificate {
	t.Helper()
	c, err := pki.KeyPair(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertificatesKeptAcrossRestarts: the first start makes the PKI, a
// second start on the same directory keeps every file, and the serving
// certificate is good for the loopback names.
func TestCertificatesKeptAcrossRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	files := []string{pki.CA, pki.APIServer, pki.APIServerKubeletClient, pki.Kubelet, pki.KubeletClient}
	read := func() map[string][]byte {
		m := map[string][]byte{}
		for _, name := range files {
			for _, path := range []string{pki.CertFile(dir, name), pki.KeyFile(dir, name)} {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				m[path] = b
			}
		}
		return m
	}
	if _, err := New(Options{CertDir: dir}); err != nil {
		t.Fatal(err)
	}
	first := read()
	if _, err := New(Options{CertDir: dir}); err != nil {
		t.Fatal(err)
	}
	for path, b := range read() {
		if !bytes.Equal(b, first[path]) {
			t.Errorf("%s changed on restart", path)
		}
	}
	cas, err := pki.CertPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{pki.APIServer, pki.Kubelet} {
		leaf, err := x509.ParseCertificate(keyPair(t, dir, name).Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"127.0.0.1", "localhost"} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: cas}); err != nil {
				t.Errorf("%s for %s: %v", name, host, err)
			}
		}
	}
}

// TestAuthentication: tokens and client certificates of the cluster CA
// authenticate; no credentials reach only health and version; bad
// credentials are a 401 everywhere, as with kube-apiserver.
func TestAuthentication(t *testing.T) {
	ts := startTLSServer(t, Options{TokenAuthFile: writeTokens(t), AnonymousAuth: true, AnonymousPaths: DefaultAnonymousPaths})
	foreign := filepath.Join(t.TempDir(), "other-pki")
	if err := pki.Ensure(foreign); err != nil {
		t.Fatal(err)
	}
	masters := keyPair(t, ts.certDir, pki.APIServerKubeletClient)
	node := keyPair(t, ts.certDir, pki.KubeletClient)
	stranger := keyPair(t, foreign, pki.APIServerKubeletClient)
	const unauthorized = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`
	for _, tc := range []struct {
		name, path, token string
		certs             []tls.Certificate
		code              int
		body              string
	}{
		{"anonymous readyz", "/readyz", "", nil, 200, "ok"},
		{"anonymous livez", "/livez", "", nil, 200, "ok"},
		{"anonymous healthz", "/healthz", "", nil, 200, "ok"},
		{"anonymous version", "/version", "", nil, 200, `"gitVersion"`},
		{"anonymous discovery", "/api", "", nil, 401, unauthorized},
		{"anonymous pods", "/api/v1/namespaces/default/pods", "", nil, 401, unauthorized},
		{"bad token", "/api/v1/namespaces/default/pods", "wrong", nil, 401, unauthorized},
		{"bad token on health", "/readyz", "wrong", nil, 401, unauthorized},
		{"admin token", "/api/v1/nodes", "admin-token", nil, 200, `"kind":"NodeList"`},
		{"system:masters certificate", "/api/v1/nodes", "", []tls.Certificate{masters}, 200, `"kind":"NodeList"`},
		{"system:nodes certificate", "/api/v1/namespaces/default/pods", "", []tls.Certificate{node}, 200, `"kind":"PodList"`},
		{"system:nodes certificate, namespaces", "/api/v1/namespaces", "", []tls.Certificate{node}, 403,
			`namespaces is forbidden: User \"system:node:execlab\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope`},
		{"certificate of another CA", "/api/v1/nodes", "", []tls.Certificate{stranger}, 401, unauthorized},
		{"user without rules", "/api/v1/namespaces/default/pods", "bob-token", nil, 403,
			`pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"`},
		{"user without rules, discovery", "/api/v1", "bob-token", nil, 200, `"kind":"APIResourceList"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := ts.get(t, tc.path, tc.token, tc.certs...)
			if code != tc.code || !strings.Contains(compact(body), tc.body) {
				t.Errorf("%d %s; want %d with %s", code, body, tc.code, tc.body)
			}
		})
	}
}

// TestAnonymousEverywhere: with no AnonymousPaths, as kube-apiserver's
// plain --anonymous-auth, a request without credentials is
// system:anonymous everywhere and the policy refuses it.
func TestAnonymousEverywhere(t *testing.T) {
	ts := startServer(t, Options{TokenAuthFile: writeTokens(t), AnonymousAuth: true})
	code, _, body := ts.do(t, "GET", "/api", http.Header{"Accept": {"application/json"}}, "")
	want := `"message":"forbidden: User \"system:anonymous\" cannot get path \"/api\"","reason":"Forbidden","details":{},"code":403`
	if code != http.StatusForbidden || !strings.Contains(compact(body), want) {
		t.Errorf("%d %s; want 403 with %s", code, body, want)
	}
}

// TestWebSocketUpgradeNeedsCreate: a WebSocket upgrade is a GET, and
// "get" on the subresource is not enough: it needs "create" too, checked
// before the pod is looked up, as kube-apiserver 1.35 does.
func TestWebSocketUpgradeNeedsCreate(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	rules := `rules:
- users: [getter]
  verbs: [get]
  resources: [pods/exec, pods/attach, pods/portforward]
- users: [creator]
  verbs: [get, create]
  resources: [pods/exec, pods/attach, pods/portforward]
`
	if err := os.WriteFile(policy, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Options{TokenAuthFile: writeTokens(t, "getter-token,getter,3\n", "creator-token,creator,4\n"), AuthorizationPolicyFile: policy})
	websocket := http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"v5.channel.k8s.io"},
	}
	spdy := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}, "X-Stream-Protocol-Version": {"v5.channel.k8s.io"}}
	for _, sub := range []string{"exec", "attach", "portforward"} {
		path := "/api/v1/namespaces/default/pods/demo/" + sub
		if sub == "exec" {
			path += "?command=true&stdout=true"
		}
		for _, tc := range []struct {
			user, method string
			header       http.Header
			code         int
			body         string
		}{
			// Upstream's ensureAuthorizedForVerb: the reason RBAC gives
			// is empty, hence the message's end.
			{"getter", "GET", websocket, 403, `"message":"pods \"demo\" is forbidden: ","reason":"Forbidden","details":{"name":"demo","kind":"pods"},"code":403`},
			{"getter", "POST", spdy, 403, `"message":"pods \"demo\" is forbidden: User \"getter\" cannot create resource \"pods/` + sub + `\" in API group \"\" in the namespace \"default\""`},
			{"creator", "GET", websocket, 404, `"message":"pods \"demo\" not found"`},
			{"creator", "POST", spdy, 404, `"message":"pods \"demo\" not found"`},
		} {
			header := http.Header{"Accept": {"application/json"}, "Authorization": {"Bearer " + tc.user + "-token"}}
			for k, v := range tc.header {
				header[k] = v
			}
			code, _, body := ts.do(t, tc.method, path, header, "")
			if code != tc.code || !strings.Contains(compact(body), tc.body) {
				t.Errorf("%s %s as %s: %d %s; want %d with %s", tc.method, sub, tc.user, code, body, tc.code, tc.body)
			}
		}
	}
}

// TestKubeletMutualTLS: the apiserver shows its kubelet client
// certificate to the kubelets and trusts only kubelet serving
// certificates of the cluster CA.
func TestKubeletMutualTLS(t *testing.T) {
	ts := startTLSServer(t, Options{TokenAuthFile: writeTokens(t)})
	foreign := filepath.Join(t.TempDir(), "other-pki")
	if err := pki.Ensure(foreign); err != nil {
		t.Fatal(err)
	}
	client := ts.adminClient(t)
	for _, tc := range []struct {
		name, certDir string
		code          int
		body          string
		reached       bool
	}{
		{"kubelet of the cluster", ts.certDir, 200, "line 1\n", true},
		{"kubelet of another ca", foreign, 500, "x509: certificate signed by unknown authority", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := startTLSKubelet(t, keyPair(t, tc.certDir, pki.Kubelet), ts.cas)
			nodeName := strings.ReplaceAll(tc.name, " ", "-")
			createNodeAt(t, client, nodeName, k.srv.Listener.Addr().(*net.TCPAddr))
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: nodeName, Namespace: "default"},
				Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}
			if _, err := client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			code, body := ts.get(t, "/api/v1/namespaces/default/pods/"+nodeName+"/log", "admin-token")
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("log: %d %s; want %d with %s", code, body, tc.code, tc.body)
			}
			if got := k.clientCN(); (got != "") != tc.reached || (tc.reached && got != "kube-apiserver-kubelet-client") {
				t.Errorf("the kubelet saw client %q; want it reached %v by kube-apiserver-kubelet-client", got, tc.reached)
			}
		})
	}
}

// tlsKubelet serves container logs over TLS to verified clients only, and
// notes who the client was.
type tlsKubelet struct {
	srv *httptest.Server
	mu  sync.Mutex
	cn  string
}

func startTLSKubelet(t *testing.T, cert tls.Certificate, clientCAs *x509.CertPool) *tlsKubelet {
	k := &tlsKubelet{}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.cn = r.TLS.PeerCertificates[0].Subject.CommonName
		k.mu.Unlock()
		io.WriteString(w, "line 1\n")
	}))
	k.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: clientCAs, ClientAuth: tls.RequireAndVerifyClientCert}
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

func (k *tlsKubelet) clientCN() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cn
}

// createNodeAt registers a node whose kubelet listens at addr.
func createNodeAt(t *testing.T, client kubernetes.Interface, name string, addr *net.TCPAddr) {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: addr.IP.String()}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(addr.Port)
	if _, err := client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
}
