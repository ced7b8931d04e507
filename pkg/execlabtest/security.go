package execlabtest

import (
	"bufio"
	"cmp"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/execlab/execlab/pkg/pki"
)

// defaultPolicy is the policy file a stack writes when it is given none
// and finds none: the built-in roles alone.
const defaultPolicy = "# Rules added to the built-in roles; see docs/security.md.\nrules: []\n"

// Credentials are how a kubeconfig's user proves who it is: a bearer token,
// or a client certificate and key (files).
type Credentials struct {
	Token             string
	ClientCertificate string
	ClientKey         string
}

// writeSecurityFiles makes what the apiserver authenticates and authorizes
// with — the cluster PKI, its --token-auth-file and its policy file — and
// returns the admin token.
func (s *Stack) writeSecurityFiles() (string, error) {
	if err := pki.Ensure(s.CertDir); err != nil {
		return "", err
	}
	kept, err := keptTokens(s.path(tokensFile))
	if err != nil {
		return "", err
	}
	token := cmp.Or(s.opts.AdminToken, kept["admin"], randomToken())
	var tokens strings.Builder
	fmt.Fprintf(&tokens, "%s,admin,admin,%q\n", token, "system:masters")
	for _, u := range s.opts.Users {
		fmt.Fprintf(&tokens, "%s,%s,%s,%q\n", cmp.Or(u.Token, kept[u.Name], randomToken()), u.Name, u.Name, strings.Join(u.Groups, ","))
	}
	if err := os.WriteFile(s.path(tokensFile), []byte(tokens.String()), 0o600); err != nil {
		return "", err
	}
	policy := s.opts.Policy
	if policy == "" {
		// A policy a person edited stays, as it does across restarts.
		if _, err := os.Stat(s.path(policyFile)); err == nil {
			return token, nil
		}
		policy = defaultPolicy
	}
	return token, os.WriteFile(s.path(policyFile), []byte(policy), 0o600)
}

// keptTokens are the tokens, by user, of the token file a previous start
// wrote, so that kubeconfigs and tokens handed out stay valid.
func keptTokens(tokenFile string) (map[string]string, error) {
	kept := map[string]string{}
	f, err := os.Open(tokenFile)
	if errors.Is(err, fs.ErrNotExist) {
		return kept, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// token,user,uid,"groups"
		fields := strings.SplitN(sc.Text(), ",", 3)
		if len(fields) == 3 && fields[0] != "" {
			kept[fields[1]] = fields[0]
		}
	}
	return kept, sc.Err()
}

// randomToken is a new bearer token: 24 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// WriteKubeconfig writes a kubeconfig for the stack's apiserver whose user
// has creds, with one context "execlab" in namespace default; every file
// it names is embedded, so that it stands alone.
func (s *Stack) WriteKubeconfig(path string, creds Credentials) error {
	cfg := clientcmdapi.NewConfig()
	cluster := &clientcmdapi.Cluster{Server: s.APIServer.URL}
	if !s.opts.Insecure {
		cluster.CertificateAuthority = pki.CertFile(s.CertDir, pki.CA)
	}
	cfg.Clusters["execlab"] = cluster
	cfg.AuthInfos["execlab-user"] = &clientcmdapi.AuthInfo{
		Token:             creds.Token,
		ClientCertificate: creds.ClientCertificate,
		ClientKey:         creds.ClientKey,
	}
	cfg.Contexts["execlab"] = &clientcmdapi.Context{Cluster: "execlab", AuthInfo: "execlab-user", Namespace: "default"}
	cfg.CurrentContext = "execlab"
	if err := clientcmdapi.FlattenConfig(cfg); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// newHTTPClient is the stack's own client for health and profiling
// endpoints: it trusts the cluster CA and shows the apiserver's kubelet
// client certificate, which the apiserver and the kubelets both accept.
func newHTTPClient(certDir string) (*http.Client, error) {
	transport := &http.Transport{DisableKeepAlives: true}
	if certDir != "" {
		cas, err := pki.CertPool(certDir)
		if err != nil {
			return nil, err
		}
		cert, err := pki.KeyPair(certDir, pki.APIServerKubeletClient)
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: cas, Certificates: []tls.Certificate{cert}}
	}
	return &http.Client{Transport: transport}, nil
}
