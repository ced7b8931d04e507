package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestResourceMatches(t *testing.T) {
	for _, tc := range []struct {
		rules         []string
		resource, sub string
		want          bool
	}{
		{[]string{"*"}, "pods", "exec", true},
		{[]string{"pods"}, "pods", "", true},
		{[]string{"pods"}, "pods", "exec", false},
		{[]string{"pods/exec"}, "pods", "exec", true},
		{[]string{"pods/exec"}, "pods", "attach", false},
		{[]string{"*/exec"}, "pods", "exec", true},
		{[]string{"*/exec"}, "pods", "", false},
	} {
		if got := resourceMatches(tc.rules, tc.resource, tc.sub); got != tc.want {
			t.Errorf("resourceMatches(%q, %q, %q) = %v", tc.rules, tc.resource, tc.sub, got)
		}
	}
}

func TestLoadPolicyRejectsRulesWithoutSubjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(path, []byte("rules:\n- verbs: [get]\n  resources: [pods]\n"), 0o600)
	if _, err := LoadPolicy(path); err == nil {
		t.Error("a rule naming no users or groups was accepted")
	}
	os.WriteFile(path, []byte("rules:\n- users: [a]\n  verb: [get]\n"), 0o600)
	if _, err := LoadPolicy(path); err == nil {
		t.Error("an unknown field was accepted")
	}
}

// TestTokensAndPolicy: upstream's 401 and 403 answers, and what
// SelfSubjectAccessReview says for the same user.
func TestTokensAndPolicy(t *testing.T) {
	dir := t.TempDir()
	tokens, policy := filepath.Join(dir, "tokens.csv"), filepath.Join(dir, "policy.yaml")
	os.WriteFile(tokens, []byte("admin-token,admin,1,\"system:masters\"\nviewer-token,viewer,2\n"), 0o600)
	os.WriteFile(policy, []byte("rules:\n- users: [viewer]\n  verbs: [get, list]\n  resources: [pods]\n  namespaces: [default]\n"), 0o600)
	ts := startServer(t, Options{TokenAuthFile: tokens, AuthorizationPolicyFile: policy})
	for _, tc := range []struct {
		token, path string
		code        int
		body        string
	}{
		{"", "/api/v1/namespaces/default/pods", 401, `"message":"Unauthorized","reason":"Unauthorized","code":401`},
		{"bogus", "/api/v1/namespaces/default/pods", 401, `"message":"Unauthorized","reason":"Unauthorized","code":401`},
		{"viewer-token", "/api/v1/namespaces/default/pods", 200, `"kind":"PodList"`},
		{"viewer-token", "/api/v1/namespaces/kube-system/pods", 403, `"message":"pods is forbidden: User \"viewer\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"","reason":"Forbidden","details":{"kind":"pods"},"code":403`},
		{"viewer-token", "/api/v1/nodes", 403, `"message":"nodes is forbidden: User \"viewer\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"`},
		{"admin-token", "/api/v1/nodes", 200, `"kind":"NodeList"`},
	} {
		header := http.Header{"Accept": {"application/json"}}
		if tc.token != "" {
			header.Set("Authorization", "Bearer "+tc.token)
		}
		code, _, body := ts.do(t, "GET", tc.path, header, "")
		if code != tc.code || !strings.Contains(compact(body), tc.body) {
			t.Errorf("%s as %q: %d %s; want %d with %s", tc.path, tc.token, code, body, tc.code, tc.body)
		}
	}

	config := rest.CopyConfig(ts.config)
	config.BearerToken = "viewer-token"
	client := kubernetes.NewForConfigOrDie(config)
	for _, tc := range []struct {
		attrs   authorizationv1.ResourceAttributes
		allowed bool
	}{
		{authorizationv1.ResourceAttributes{Namespace: "default", Verb: "list", Resource: "pods"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "default", Verb: "create", Resource: "pods", Subresource: "exec"}, false},
	} {
		review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(),
			&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &tc.attrs}}, metav1.CreateOptions{})
		if err != nil || review.Status.Allowed != tc.allowed {
			t.Errorf("can viewer %+v: %+v, %v; want allowed %v", tc.attrs, review, err, tc.allowed)
		}
	}
}

// TestReviewsForAKubelet: what a kubelet in Webhook mode asks. A node may
// create TokenReviews and SubjectAccessReviews, which answer for the token
// and the user under review; anyone may ask who they are; a viewer may
// review neither. Bad reviews get upstream's 400 and 422.
func TestReviewsForAKubelet(t *testing.T) {
	dir := t.TempDir()
	tokens, policy := filepath.Join(dir, "tokens.csv"), filepath.Join(dir, "policy.yaml")
	os.WriteFile(tokens, []byte("node-token,system:node:n,3,\"system:nodes\"\nviewer-token,viewer,2\n"), 0o600)
	os.WriteFile(policy, []byte("rules:\n- users: [viewer]\n  verbs: [get]\n  resources: [nodes/proxy]\n"), 0o600)
	ts := startServer(t, Options{TokenAuthFile: tokens, AuthorizationPolicyFile: policy})
	as := func(token string) kubernetes.Interface {
		config := rest.CopyConfig(ts.config)
		config.BearerToken = token
		return kubernetes.NewForConfigOrDie(config)
	}
	node, viewer := as("node-token"), as("viewer-token")
	ctx := context.Background()

	tr, err := node.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "viewer-token"}}, metav1.CreateOptions{})
	if err != nil || !tr.Status.Authenticated || tr.Status.User.Username != "viewer" || tr.Status.User.UID != "2" ||
		strings.Join(tr.Status.User.Groups, ",") != "system:authenticated" {
		t.Errorf("TokenReview of viewer-token: %+v, %v", tr, err)
	}
	tr, err = node.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "bogus"}}, metav1.CreateOptions{})
	if err != nil || tr.Status.Authenticated || tr.Status.User.Username != "" {
		t.Errorf("TokenReview of a bogus token: %+v, %v", tr, err)
	}
	for attrs, allowed := range map[authorizationv1.ResourceAttributes]bool{
		{Verb: "get", Resource: "nodes", Subresource: "proxy", Name: "n", Version: "v1"}:    true,
		{Verb: "create", Resource: "nodes", Subresource: "proxy", Name: "n", Version: "v1"}: false,
	} {
		sar, err := node.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "viewer", Groups: []string{"system:authenticated"}, ResourceAttributes: &attrs}}, metav1.CreateOptions{})
		if err != nil || sar.Status.Allowed != allowed {
			t.Errorf("SubjectAccessReview of viewer %+v: %+v, %v; want allowed %v", attrs, sar, err, allowed)
		}
	}
	whoami, err := viewer.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || whoami.Status.UserInfo.Username != "viewer" {
		t.Errorf("SelfSubjectReview of viewer: %+v, %v", whoami, err)
	}

	header := http.Header{"Authorization": {"Bearer viewer-token"}, "Content-Type": {"application/json"}}
	nodeHeader := http.Header{"Authorization": {"Bearer node-token"}, "Content-Type": {"application/json"}}
	for _, tc := range []struct {
		header     http.Header
		path, body string
		code       int
		want       string
	}{
		{header, "/apis/authentication.k8s.io/v1/tokenreviews", `{"spec":{"token":"node-token"}}`, 403,
			`"message":"tokenreviews.authentication.k8s.io is forbidden: User \"viewer\" cannot create resource \"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope"`},
		{nodeHeader, "/apis/authentication.k8s.io/v1/tokenreviews", `{"spec":{}}`, 400, `"message":"token is required for TokenReview in authentication","reason":"BadRequest"`},
		{nodeHeader, "/apis/authorization.k8s.io/v1/subjectaccessreviews", `{"spec":{"resourceAttributes":{"verb":"get"}}}`, 422,
			`"message":"SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified"`},
		{nodeHeader, "/apis/authorization.k8s.io/v1/subjectaccessreviews", `{"spec":{"user":"u"}}`, 422,
			`spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`},
	} {
		code, _, body := ts.do(t, "POST", tc.path, tc.header, tc.body)
		if code != tc.code || !strings.Contains(compact(body), tc.want) {
			t.Errorf("POST %s %s: %d %s; want %d with %s", tc.path, tc.body, code, body, tc.code, tc.want)
		}
	}
}

// compact is a JSON body on one line, for matching a part of it.
func compact(body string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(body)); err != nil {
		return body
	}
	return b.String()
}
