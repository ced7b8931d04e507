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

// compact is a JSON body on one line, for matching a part of it.
func compact(body string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(body)); err != nil {
		return body
	}
	return b.String()
}
