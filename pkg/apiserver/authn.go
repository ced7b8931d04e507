package apiserver

import (
	"crypto/x509"
	"fmt"
	"net/http"

	apiserverconfig "k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/anonymous"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/endpoints/filters"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// DefaultAnonymousPaths are the paths a request without credentials may
// reach: health and version, what kube-apiserver's
// system:public-info-viewer role lets system:anonymous read. Elsewhere no
// credentials is a 401, as with an AuthenticationConfiguration whose
// anonymous.conditions list these paths (KEP-4633, kube-apiserver 1.32+).
var DefaultAnonymousPaths = []string{"/healthz", "/livez", "/readyz", "/version"}

// newAuthenticator builds kube-apiserver's request authenticator from the
// same pieces (pkg/kubeapiserver/authenticator/config.go): client
// certificates signed by the cluster CA (CN the user, O the groups), then
// bearer tokens of a --token-auth-file. A request that presents
// credentials that do not check out is refused; one that presents none is
// system:anonymous when anonymous requests are allowed, on anonymousPaths
// only when that is not empty.
func newAuthenticator(clientCAs *x509.CertPool, tokenFile string, anonymousAuth bool, anonymousPaths []string) (authenticator.Request, error) {
	var authenticators []authenticator.Request
	if clientCAs != nil {
		opts := x509request.DefaultVerifyOptions()
		opts.Roots = clientCAs
		authenticators = append(authenticators, x509request.New(opts, x509request.CommonNameUserConversion))
	}
	if tokenFile != "" {
		tokens, err := tokenfile.NewCSV(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("token auth file: %w", err)
		}
		authenticators = append(authenticators, bearertoken.New(tokens))
	}
	// Every authenticated user is also in system:authenticated, as
	// upstream's AuthenticatedGroupAdder adds.
	auth := group.NewAuthenticatedGroupAdder(union.New(authenticators...))
	if anonymousAuth {
		var conditions []apiserverconfig.AnonymousAuthCondition
		for _, p := range anonymousPaths {
			conditions = append(conditions, apiserverconfig.AnonymousAuthCondition{Path: p})
		}
		auth = union.NewFailOnError(auth, anonymous.NewAuthenticator(conditions))
	}
	return auth, nil
}

// withAuthentication puts the request's user into its context, or answers
// 401, with upstream's filter (k8s.io/apiserver/pkg/endpoints/filters).
func (s *Server) withAuthentication(h http.Handler) http.Handler {
	if s.authn == nil {
		return h
	}
	return filters.WithAuthentication(h, s.authn, filters.Unauthorized(registry.Codecs), nil, nil)
}
