package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/execlab/execlab/pkg/pki"
)

// serverTLS is what the apiserver serves with: the CA-signed serving
// certificate, and client certificates asked for but verified by the
// x509 authenticator, so that a request without one can still use a token
// (kube-apiserver's tls.RequestClientCert with --client-ca-file).
func serverTLS(certDir string) (*tls.Config, *x509.CertPool, error) {
	cert, err := pki.KeyPair(certDir, pki.APIServer)
	if err != nil {
		return nil, nil, err
	}
	cas, err := pki.CertPool(certDir)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
	}, cas, nil
}

// kubeletSessionCacheSize is how many kubelets' TLS sessions the apiserver
// keeps for resumption.
const kubeletSessionCacheSize = 256

// kubeletTLS is the apiserver's side of its connections to the kubelets:
// its --kubelet-client-certificate, and the cluster CA as
// --kubelet-certificate-authority to verify the kubelets' serving
// certificates. HTTP/1.1 only, as upgrades need it. Every exec is a
// connection of its own (an upgrade cannot share one), so connections
// resume the TLS session of an earlier one: no certificate is sent,
// signed for or verified again (kube-apiserver's kubelet client does not).
func kubeletTLS(certDir string) (*tls.Config, error) {
	cert, err := pki.KeyPair(certDir, pki.APIServerKubeletClient)
	if err != nil {
		return nil, err
	}
	cas, err := pki.CertPool(certDir)
	if err != nil {
		return nil, fmt.Errorf("kubelet certificate authority: %w", err)
	}
	return &tls.Config{
		Certificates:       []tls.Certificate{cert},
		RootCAs:            cas,
		NextProtos:         []string{"http/1.1"},
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(kubeletSessionCacheSize),
	}, nil
}
