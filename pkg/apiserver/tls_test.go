package apiserver

import (
	"crypto/tls"
	"path/filepath"
	"testing"

	"github.com/execlab/execlab/pkg/pki"
)

// The apiserver's second connection to a kubelet resumes the TLS session
// of the first, and the kubelet still sees the apiserver's certificate.
func TestKubeletTLSResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := pki.Ensure(dir); err != nil {
		t.Fatal(err)
	}
	cert, err := pki.KeyPair(dir, pki.Kubelet)
	if err != nil {
		t.Fatal(err)
	}
	cas, err := pki.CertPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	// As the kubelet serves (pkg/kubelet/server/auth.go).
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: cas,
		ClientAuth: tls.VerifyClientCertIfGiven, NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type seen struct {
		resumed bool
		cn      string
	}
	seenc := make(chan seen)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			var s seen
			if tc.Handshake() == nil {
				st := tc.ConnectionState()
				s.resumed = st.DidResume
				if len(st.PeerCertificates) > 0 {
					s.cn = st.PeerCertificates[0].Subject.CommonName
				}
			}
			// A byte, so that the client reads the session ticket.
			tc.Write([]byte{1})
			tc.Close()
			seenc <- s
		}
	}()
	cfg, err := kubeletTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, wantResumed := range []bool{false, true} {
		c := cfg.Clone() // as every dial clones it
		c.ServerName = "127.0.0.1"
		conn, err := tls.Dial("tcp", ln.Addr().String(), c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		resumed := conn.ConnectionState().DidResume
		conn.Close()
		s := <-seenc
		if resumed != wantResumed || s.resumed != wantResumed || s.cn != "kube-apiserver-kubelet-client" {
			t.Errorf("connection %d: resumed %v (the server says %v), client certificate %q; want resumed %v, kube-apiserver-kubelet-client", i, resumed, s.resumed, s.cn, wantResumed)
		}
	}
}
