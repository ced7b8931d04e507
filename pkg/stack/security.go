package stack

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/execlab/execlab/pkg/pki"
)

// User is a token user the stack's apiserver knows, besides admin.
type User struct {
	Name   string
	Token  string
	Groups []string
}

// AdminToken is the token of the stack's admin user, in system:masters.
const AdminToken = "execlab-admin-token"

// securityFiles writes what the apiserver authenticates and authorizes
// with — the cluster PKI, a --token-auth-file and a policy file — and
// returns their paths.
func (s *Stack) securityFiles() (certDir, tokenFile, policyFile string, err error) {
	certDir = filepath.Join(s.dir("apiserver"), "pki")
	if err := pki.Ensure(certDir); err != nil {
		return "", "", "", err
	}
	var tokens strings.Builder
	fmt.Fprintf(&tokens, "%s,admin,admin,%q\n", AdminToken, "system:masters")
	for _, u := range s.opts.Users {
		fmt.Fprintf(&tokens, "%s,%s,%s,%q\n", u.Token, u.Name, u.Name, strings.Join(u.Groups, ","))
	}
	tokenFile = s.dir("tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(tokens.String()), 0o600); err != nil {
		return "", "", "", err
	}
	policyFile = s.dir("policy.yaml")
	policy := s.opts.Policy
	if policy == "" {
		policy = "rules: []\n"
	}
	if err := os.WriteFile(policyFile, []byte(policy), 0o600); err != nil {
		return "", "", "", err
	}
	return certDir, tokenFile, policyFile, nil
}

// newHTTPClient is the stack's own client for health and profiling
// endpoints: it trusts the cluster CA and shows the apiserver's kubelet
// client certificate, which the apiserver and the kubelets both accept.
func newHTTPClient(certDir string) (*http.Client, error) {
	cas, err := pki.CertPool(certDir)
	if err != nil {
		return nil, err
	}
	cert, err := pki.KeyPair(certDir, pki.APIServerKubeletClient)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: cas, Certificates: []tls.Certificate{cert}},
		DisableKeepAlives: true,
	}}, nil
}
