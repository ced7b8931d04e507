package apiserver

import (
	"crypto/x509"
	"net/http"

	"github.com/execlab/execlab/pkg/pki"
)

// maxHeaderBytes bounds request headers as kube-apiserver does
// (http.DefaultMaxHeaderBytes); past it the client gets 431.
const maxHeaderBytes = http.DefaultMaxHeaderBytes

// setUpSecurity loads or makes the certificates and builds the
// authenticator, the authorizer and the kubelet transport from s.opts.
func (s *Server) setUpSecurity() error {
	var clientCAs *x509.CertPool
	s.kubelet = newKubeletClient(nil)
	if s.opts.CertDir != "" {
		if err := pki.Ensure(s.opts.CertDir); err != nil {
			return err
		}
		var err error
		if s.tlsConfig, clientCAs, err = serverTLS(s.opts.CertDir); err != nil {
			return err
		}
		kubeletConfig, err := kubeletTLS(s.opts.CertDir)
		if err != nil {
			return err
		}
		s.kubelet = newKubeletClient(kubeletConfig)
	}
	if clientCAs == nil && s.opts.TokenAuthFile == "" {
		return nil
	}
	authn, err := newAuthenticator(clientCAs, s.opts.TokenAuthFile, s.opts.AnonymousAuth, s.opts.AnonymousPaths)
	if err != nil {
		return err
	}
	s.authn = authn
	policy := &Policy{}
	if s.opts.AuthorizationPolicyFile != "" {
		if policy, err = LoadPolicy(s.opts.AuthorizationPolicyFile); err != nil {
			return err
		}
	}
	s.authorizer = newPolicyAuthorizer(policy)
	return nil
}
