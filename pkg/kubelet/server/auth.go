package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/emicklei/go-restful/v3"
	"k8s.io/apiserver/pkg/authentication/user"

	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/pkg/tracing"
)

// LoadServingTLS reads the kubelet's --tls-cert-file, --tls-private-key-file
// and --client-ca-file into the TLS of Options; none given is plain HTTP
// (nil), and all three go together.
func LoadServingTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" && clientCAFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" || clientCAFile == "" {
		return nil, errors.New("--tls-cert-file, --tls-private-key-file and --client-ca-file go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	cas := x509.NewCertPool()
	if !cas.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("client CA: no certificate in %s", clientCAFile)
	}
	return servingTLS(cert, cas), nil
}

// servingTLS verifies client certificates against clientCAs when given;
// the auth filter decides.
func servingTLS(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    clientCAs,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		// Exec, attach and port-forward upgrade the connection: HTTP/1.1.
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
	}
}

// authFilter is the kubelet's authentication and authorization
// (pkg/kubelet/server/server.go InstallAuthFilter) with anonymous requests
// off and, instead of asking the apiserver with a SubjectAccessReview, a
// fixed rule: only members of system:masters, which the apiserver's
// kubelet client certificate is, may use the kubelet API.
func authFilter(req *restful.Request, resp *restful.Response, chain *restful.FilterChain) {
	r := req.Request
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		_ = resp.WriteErrorString(http.StatusUnauthorized, "Unauthorized")
		return
	}
	subject := r.TLS.VerifiedChains[0][0].Subject
	if !slices.Contains(subject.Organization, user.SystemPrivilegedGroup) {
		verb, resource, sub := kubeletAttributes(r)
		msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource=%s)", subject.CommonName, verb, resource, sub)
		_ = resp.WriteErrorString(http.StatusForbidden, msg)
		return
	}
	span := trace.SpanFromContext(r.Context())
	span.AddEvent(tracing.PhaseAuthenticated, trace.WithAttributes(tracing.AttrUser.String(subject.CommonName)))
	span.AddEvent(tracing.PhaseAuthorized, trace.WithAttributes(tracing.AttrDecision.String("allow")))
	chain.ProcessFilter(req, resp)
}

// kubeletAttributes names a request as the kubelet's authorizer does
// (pkg/kubelet/server/auth.go): the verb from the method, resource nodes,
// and the subresource from the path.
func kubeletAttributes(r *http.Request) (verb, resource, subresource string) {
	verb = "get"
	switch r.Method {
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	}
	subresource = "proxy"
	switch first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); first {
	case "stats", "metrics", "logs", "checkpoint", "configz", "healthz", "pods":
		subresource = first
	}
	return verb, "nodes", subresource
}
