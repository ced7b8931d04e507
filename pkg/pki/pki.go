// Package pki makes the certificates of a stack, as kubeadm's "certs" phase
// does for a cluster: one CA, and the serving and client certificates it
// signs for the apiserver and the kubelets. Files that exist are kept, so a
// restarted stack keeps its identity and its kubeconfigs stay valid.
//
//	pki.go  Ensure makes what is missing (kubeadm's cmd/kubeadm/app/phases/certs/certs.go,
//	        with the helpers of cmd/kubeadm/app/util/pkiutil/pki_helpers.go);
//	        CertFile, KeyFile, CertPool and KeyPair find and load the result
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The files in a PKI directory, named as kubeadm names them in
// /etc/kubernetes/pki where there is an equivalent.
const (
	CA = "ca"
	// APIServer serves the API (kube-apiserver --tls-cert-file).
	APIServer = "apiserver"
	// APIServerKubeletClient is what the apiserver shows the kubelets
	// (kube-apiserver --kubelet-client-certificate).
	APIServerKubeletClient = "apiserver-kubelet-client"
	// Kubelet serves the kubelet API (kubelet --tls-cert-file). Every
	// kubelet of a stack listens on loopback, so one certificate serves all.
	Kubelet = "kubelet"
	// KubeletClient is the kubelets' identity towards the apiserver. Upstream
	// each node gets its own through a CertificateSigningRequest; here all
	// nodes share one in the group system:nodes.
	KubeletClient = "kubelet-client"
)

// KubeletClientUser is the user name in KubeletClient.
const KubeletClientUser = "system:node:execlab"

// validity is how long generated certificates last: long enough that a lab
// machine never meets an expired one.
const validity = 10 * 365 * 24 * time.Hour

// leaf describes one certificate the CA signs.
type leaf struct {
	name   string
	cn     string
	orgs   []string
	usage  x509.ExtKeyUsage
	server bool
}

var leaves = []leaf{
	{name: APIServer, cn: "kube-apiserver", usage: x509.ExtKeyUsageServerAuth, server: true},
	{name: APIServerKubeletClient, cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, usage: x509.ExtKeyUsageClientAuth},
	{name: Kubelet, cn: "kubelet", usage: x509.ExtKeyUsageServerAuth, server: true},
	{name: KubeletClient, cn: KubeletClientUser, orgs: []string{"system:nodes"}, usage: x509.ExtKeyUsageClientAuth},
}

// CertFile and KeyFile are the paths of a certificate and its key in dir.
func CertFile(dir, name string) string { return filepath.Join(dir, name+".crt") }
func KeyFile(dir, name string) string  { return filepath.Join(dir, name+".key") }

// Ensure creates in dir whatever of the CA and the certificates it signs
// does not exist yet.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	ca, caKey, err := ensureCA(dir)
	if err != nil {
		return err
	}
	for _, l := range leaves {
		if exists(CertFile(dir, l.name)) && exists(KeyFile(dir, l.name)) {
			continue
		}
		if err := l.issue(dir, ca, caKey); err != nil {
			return fmt.Errorf("pki: issue %s: %w", l.name, err)
		}
	}
	return nil
}

// CertPool reads the CA certificate of dir.
func CertPool(dir string) (*x509.CertPool, error) {
	b, err := os.ReadFile(CertFile(dir, CA))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("pki: no certificate in %s", CertFile(dir, CA))
	}
	return pool, nil
}

// KeyPair loads the certificate name of dir with its key.
func KeyPair(dir, name string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(CertFile(dir, name), KeyFile(dir, name))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: %w", err)
	}
	return c, nil
}

func ensureCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPath, keyPath := CertFile(dir, CA), KeyFile(dir, CA)
	if exists(certPath) && exists(keyPath) {
		pair, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return nil, nil, fmt.Errorf("pki: load CA: %w", err)
		}
		cert, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, nil, fmt.Errorf("pki: parse CA: %w", err)
		}
		return cert, pair.PrivateKey.(crypto.Signer), nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "execlab-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create CA: %w", err)
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func (l leaf) issue(dir string, ca *x509.Certificate, caKey crypto.Signer) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.cn, Organization: l.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{l.usage},
	}
	if l.server {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	return writePair(CertFile(dir, l.name), KeyFile(dir, l.name), der, key)
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
