package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/emicklei/go-restful/v3"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"

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
// Auth decides.
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

// Auth authenticates and authorizes the kubelet API's requests, as
// upstream's KubeletAuth (pkg/kubelet/server/auth.go) built by BuildAuth
// (cmd/kubelet/app/auth.go) from the KubeletConfiguration.
type Auth struct {
	authn    authenticator.Request
	authz    authorizer.Authorizer
	nodeName string
}

// authWebhookRetryBackoff is upstream's DefaultAuthWebhookRetryBackoff
// (k8s.io/apiserver/pkg/server/options), written out here rather than
// importing that package's whole option machinery.
var authWebhookRetryBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// NewAuth builds the authentication and authorization of node nodeName's
// kubelet API with upstream's delegating pieces: client certificates of
// authn.X509.ClientCAFile, bearer tokens reviewed by the apiserver
// (TokenReview) when the token webhook is enabled, system:anonymous when
// anonymous requests are; then every request allowed (AlwaysAllow) or
// asked of the apiserver (Webhook: a SubjectAccessReview), the answers
// cached for the TTLs given. client is the kubelet's, and reviews as it.
func NewAuth(client kubernetes.Interface, nodeName string, authn kubeletconfig.KubeletAuthentication, authz kubeletconfig.KubeletAuthorization) (*Auth, error) {
	backoff := authWebhookRetryBackoff
	authnConfig := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:           &apiserver.AnonymousAuthConfig{Enabled: authn.Anonymous.Enabled != nil && *authn.Anonymous.Enabled},
		CacheTTL:            authn.Webhook.CacheTTL.Duration,
		WebhookRetryBackoff: &backoff,
	}
	if f := authn.X509.ClientCAFile; f != "" {
		// Read once: upstream's file provider also reloads the file, with a
		// work queue whose goroutines would outlive a kubelet in a test.
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("kubelet auth: client CA: %w", err)
		}
		cas, err := dynamiccertificates.NewStaticCAContent("client-ca-bundle", pem)
		if err != nil {
			return nil, fmt.Errorf("kubelet auth: client CA %s: %w", f, err)
		}
		authnConfig.ClientCertificateCAContentProvider = cas
	}
	if authn.Webhook.Enabled != nil && *authn.Webhook.Enabled {
		authnConfig.TokenAccessReviewClient = client.AuthenticationV1()
	}
	a := &Auth{nodeName: nodeName}
	var err error
	if a.authn, _, err = authnConfig.New(); err != nil {
		return nil, fmt.Errorf("kubelet auth: %w", err)
	}
	switch authz.Mode {
	case kubeletconfig.KubeletAuthorizationModeAlwaysAllow:
		a.authz = authorizerfactory.NewAlwaysAllowAuthorizer()
	case kubeletconfig.KubeletAuthorizationModeWebhook:
		authzConfig := authorizerfactory.DelegatingAuthorizerConfig{
			SubjectAccessReviewClient: client.AuthorizationV1(),
			AllowCacheTTL:             authz.Webhook.CacheAuthorizedTTL.Duration,
			DenyCacheTTL:              authz.Webhook.CacheUnauthorizedTTL.Duration,
			WebhookRetryBackoff:       &backoff,
		}
		if a.authz, err = authzConfig.New(); err != nil {
			return nil, fmt.Errorf("kubelet auth: %w", err)
		}
	default:
		return nil, fmt.Errorf("kubelet auth: unknown authorization mode %q: want %s or %s", authz.Mode,
			kubeletconfig.KubeletAuthorizationModeAlwaysAllow, kubeletconfig.KubeletAuthorizationModeWebhook)
	}
	return a, nil
}

// filter authenticates the request, then tries its attributes in turn
// until one is allowed, as upstream's InstallAuthFilter; its answers are
// upstream's, word for word.
func (a *Auth) filter(log *slog.Logger) restful.FilterFunction {
	return func(req *restful.Request, resp *restful.Response, chain *restful.FilterChain) {
		r := req.Request
		info, ok, err := a.authn.AuthenticateRequest(r)
		if err != nil {
			log.Error("unable to authenticate the request due to an error", "err", err)
		}
		if err != nil || !ok {
			_ = resp.WriteErrorString(http.StatusUnauthorized, "Unauthorized")
			return
		}
		span := trace.SpanFromContext(r.Context())
		span.AddEvent(tracing.PhaseAuthenticated, trace.WithAttributes(tracing.AttrUser.String(info.User.GetName())))
		attrs := a.requestAttributes(info.User, r)
		var subresources []string
		allowed := false
		for _, attr := range attrs {
			subresources = append(subresources, attr.Subresource)
			decision, _, err := a.authz.Authorize(r.Context(), attr)
			if err != nil {
				log.Error("authorization error", "user", info.User.GetName(), "verb", attr.Verb, "resource", attr.Resource, "subresource", attr.Subresource, "err", err)
				_ = resp.WriteErrorString(http.StatusInternalServerError, fmt.Sprintf("Authorization error (user=%s, verb=%s, resource=%s, subresource=%s)", info.User.GetName(), attr.Verb, attr.Resource, attr.Subresource))
				return
			}
			if decision == authorizer.DecisionAllow {
				allowed = true
				break
			}
		}
		if !allowed {
			span.AddEvent(tracing.PhaseAuthorized, trace.WithAttributes(tracing.AttrDecision.String("deny")))
			_ = resp.WriteErrorString(http.StatusForbidden, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource(s)=%v)\n", info.User.GetName(), attrs[0].Verb, attrs[0].Resource, subresources))
			return
		}
		span.AddEvent(tracing.PhaseAuthorized, trace.WithAttributes(tracing.AttrDecision.String("allow")))
		chain.ProcessFilter(req, resp)
	}
}

// requestAttributes names a request as upstream's kubelet does with
// fine-grained authorization (KEP-2862, KubeletFineGrainedAuthz, GA in
// 1.36): verb from the method, resource nodes named for this node, and a
// subresource from the path; /pods, /runningpods, /healthz and /configz
// may also pass as nodes/proxy, which anything else is.
func (a *Auth) requestAttributes(u user.Info, r *http.Request) []authorizer.AttributesRecord {
	verb := ""
	switch r.Method {
	case http.MethodPost:
		verb = "create"
	case http.MethodGet:
		verb = "get"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	}
	var subresources []string
	switch path := r.URL.Path; {
	case isSubpath(path, "/stats"):
		subresources = []string{"stats"}
	case isSubpath(path, "/metrics"):
		subresources = []string{"metrics"}
	case isSubpath(path, "/logs"):
		subresources = []string{"log"} // as pods/log
	case isSubpath(path, "/spec"):
		subresources = []string{"spec"}
	case isSubpath(path, "/checkpoint"):
		subresources = []string{"checkpoint"}
	case isSubpath(path, podsPath), isSubpath(path, "/runningpods"):
		subresources = []string{"pods", "proxy"}
	case isSubpath(path, "/healthz"):
		subresources = []string{"healthz", "proxy"}
	case isSubpath(path, "/configz"):
		subresources = []string{"configz", "proxy"}
	default:
		subresources = []string{"proxy"}
	}
	attrs := make([]authorizer.AttributesRecord, len(subresources))
	for i, sub := range subresources {
		attrs[i] = authorizer.AttributesRecord{User: u, Verb: verb, APIVersion: "v1", Resource: "nodes", Subresource: sub,
			Name: a.nodeName, ResourceRequest: true, Path: r.URL.Path}
	}
	return attrs
}

// isSubpath says whether subpath is path or under it (upstream's).
func isSubpath(subpath, path string) bool {
	path = strings.TrimSuffix(path, "/")
	return subpath == path || (strings.HasPrefix(subpath, path) && subpath[len(path)] == '/')
}
