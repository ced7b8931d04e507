package apiserver

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"sigs.k8s.io/yaml"
)

// Policy is a static authorization policy: rules in the shape of RBAC's
// PolicyRule, each naming the subjects it applies to. A request is allowed
// when a rule matches it, as RBAC allows when any binding's rule does;
// nothing denies.
type Policy struct {
	Rules []Rule `json:"rules"`
}

// Rule grants Verbs on Resources (or NonResourceURLs) to Users and Groups.
type Rule struct {
	Users  []string `json:"users,omitempty"`
	Groups []string `json:"groups,omitempty"`
	Verbs  []string `json:"verbs"`
	// APIGroups empty matches every group; "" is the core group.
	APIGroups []string `json:"apiGroups,omitempty"`
	// Resources are "pods", "pods/exec", "*" (every resource and
	// subresource) or "*/exec", matched as RBAC's ResourceMatches does.
	Resources []string `json:"resources,omitempty"`
	// Namespaces empty matches every namespace and cluster-scoped requests.
	Namespaces []string `json:"namespaces,omitempty"`
	// NonResourceURLs are paths such as "/healthz" or prefixes "/apis/*".
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// bootstrapRules are what kube-apiserver's bootstrap cluster roles and
// bindings give (plugin/pkg/auth/authorizer/rbac/bootstrappolicy): the
// system:masters group may do anything; system:public-info-viewer lets
// anyone read health and version; system:discovery and system:basic-user
// let any authenticated user read discovery and review its own access and
// identity.
// Nodes get what the kubelet does instead of the Node authorizer's
// per-node checks.
var bootstrapRules = []Rule{
	{Groups: []string{user.SystemPrivilegedGroup}, Verbs: []string{"*"}, Resources: []string{"*"}, NonResourceURLs: []string{"*"}},
	{Groups: []string{user.AllAuthenticated, user.AllUnauthenticated}, Verbs: []string{"get"},
		NonResourceURLs: []string{"/healthz", "/livez", "/readyz", "/version", "/version/"}},
	{Groups: []string{user.AllAuthenticated}, Verbs: []string{"get"},
		NonResourceURLs: []string{"/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"}},
	{Groups: []string{user.AllAuthenticated}, Verbs: []string{"create"},
		APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews"}},
	{Groups: []string{user.AllAuthenticated}, Verbs: []string{"create"},
		APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}},
	{Groups: []string{user.NodesGroup}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		APIGroups: []string{""}, Resources: []string{"nodes", "nodes/status", "pods", "pods/status", "events"}},
	{Groups: []string{user.NodesGroup}, Verbs: []string{"get", "create", "update", "patch", "delete"},
		APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}},
	// A kubelet in Webhook mode asks the apiserver who its callers are and
	// what they may do, as upstream's system:node role lets it.
	{Groups: []string{user.NodesGroup}, Verbs: []string{"create"},
		APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}},
	{Groups: []string{user.NodesGroup}, Verbs: []string{"create"},
		APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}},
}

// LoadPolicy reads a policy file (YAML or JSON).
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorization policy: %w", err)
	}
	var p Policy
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return nil, fmt.Errorf("authorization policy %s: %w", path, err)
	}
	for i, r := range p.Rules {
		if len(r.Users) == 0 && len(r.Groups) == 0 {
			return nil, fmt.Errorf("authorization policy %s: rule %d names no users or groups", path, i)
		}
		if len(r.Verbs) == 0 || (len(r.Resources) == 0 && len(r.NonResourceURLs) == 0) {
			return nil, fmt.Errorf("authorization policy %s: rule %d needs verbs and resources or nonResourceURLs", path, i)
		}
	}
	return &p, nil
}

// policyAuthorizer decides with the bootstrap rules and a policy's.
type policyAuthorizer struct {
	rules []Rule
}

func newPolicyAuthorizer(p *Policy) *policyAuthorizer {
	return &policyAuthorizer{rules: append(slices.Clone(bootstrapRules), p.Rules...)}
}

// Authorize implements authorizer.UnconditionalAuthorizer. Like RBAC it
// answers NoOpinion rather than Deny, and the reason is empty, so the
// Forbidden message is upstream's plain one.
func (a *policyAuthorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	for _, r := range a.rules {
		if r.appliesTo(attrs.GetUser()) && r.allows(attrs) {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func (r Rule) appliesTo(u user.Info) bool {
	if u == nil {
		return false
	}
	if slices.Contains(r.Users, u.GetName()) {
		return true
	}
	for _, g := range u.GetGroups() {
		if slices.Contains(r.Groups, g) {
			return true
		}
	}
	return false
}

// allows mirrors RBAC's RuleAllows (pkg/apis/rbac/v1/evaluation_helpers.go).
func (r Rule) allows(attrs authorizer.Attributes) bool {
	if !matchesAny(r.Verbs, attrs.GetVerb()) {
		return false
	}
	if !attrs.IsResourceRequest() {
		return nonResourceURLMatches(r.NonResourceURLs, attrs.GetPath())
	}
	if len(r.Resources) == 0 {
		return false
	}
	if len(r.APIGroups) > 0 && !matchesAny(r.APIGroups, attrs.GetAPIGroup()) {
		return false
	}
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, attrs.GetNamespace()) {
		return false
	}
	return resourceMatches(r.Resources, attrs.GetResource(), attrs.GetSubresource())
}

func matchesAny(values []string, v string) bool {
	return slices.Contains(values, "*") || slices.Contains(values, v)
}

// resourceMatches is RBAC's ResourceMatches: "*" matches everything,
// "pods" only pods itself, "pods/exec" and "*/exec" the subresource.
func resourceMatches(resources []string, resource, subresource string) bool {
	combined := resource
	if subresource != "" {
		combined += "/" + subresource
	}
	for _, r := range resources {
		switch {
		case r == "*", r == combined:
			return true
		case subresource != "" && strings.HasPrefix(r, "*/") && r[2:] == subresource:
			return true
		}
	}
	return false
}

// nonResourceURLMatches is RBAC's NonResourceURLMatches: exact paths, or
// prefixes ending in "*".
func nonResourceURLMatches(urls []string, path string) bool {
	for _, u := range urls {
		if u == "*" || u == path || (strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimSuffix(u, "*"))) {
			return true
		}
	}
	return false
}
