package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
)

// reviewer is the apiserver as a kubelet in Webhook mode sees it: tokens it
// knows, and the node subresources each user may use. It notes each
// review asked of it.
type reviewer struct {
	tokens  map[string]string   // token → user
	allowed map[string][]string // user → "verb nodes/subresource" allowed
	mu      sync.Mutex
	asked   []string // "user verb nodes/subresource name"
}

// client is a kubelet's client of the reviewer, served over HTTP: the
// delegating authenticator and authorizer post with the REST client
// itself, which client-go's fake clientset lacks.
func (rv *reviewer) client(t *testing.T) kubernetes.Interface {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out any
		switch r.URL.Path {
		case "/apis/authentication.k8s.io/v1/tokenreviews":
			var tr authenticationv1.TokenReview
			if err := json.NewDecoder(r.Body).Decode(&tr); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if u, ok := rv.tokens[tr.Spec.Token]; ok {
				tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: u, Groups: []string{"system:authenticated"}}}
			}
			out = &tr
		case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
			var sar authorizationv1.SubjectAccessReview
			if err := json.NewDecoder(r.Body).Decode(&sar); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			ra := sar.Spec.ResourceAttributes
			what := ra.Verb + " " + ra.Resource + "/" + ra.Subresource
			rv.mu.Lock()
			rv.asked = append(rv.asked, sar.Spec.User+" "+what+" "+ra.Name)
			rv.mu.Unlock()
			sar.Status.Allowed = slices.Contains(rv.allowed[sar.Spec.User], what)
			out = &sar
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL, Transport: &http.Transport{DisableKeepAlives: true}})
}

func (rv *reviewer) reviews() []string {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return slices.Clone(rv.asked)
}

// TestAuthWebhook: with the KubeletConfiguration's defaults, a bearer
// token is reviewed by the apiserver, then each request is asked of it
// with upstream's fine-grained attributes, the answers cached; refusals
// are upstream's words. Anonymous requests are refused unless allowed.
func TestAuthWebhook(t *testing.T) {
	rv := &reviewer{
		tokens: map[string]string{"alice-token": "alice", "bob-token": "bob"},
		allowed: map[string][]string{
			"alice": {"get nodes/pods", "get nodes/log"},
			"bob":   {"get nodes/proxy"},
		},
	}
	authn := kubeletconfig.KubeletAuthentication{Webhook: kubeletconfig.KubeletWebhookAuthentication{Enabled: ptr.To(true)}, Anonymous: kubeletconfig.KubeletAnonymousAuthentication{Enabled: ptr.To(false)}}
	authz := kubeletconfig.KubeletAuthorization{Mode: kubeletconfig.KubeletAuthorizationModeWebhook, Webhook: kubeletconfig.KubeletWebhookAuthorization{
		CacheAuthorizedTTL: metav1.Duration{Duration: 5 * time.Minute}, CacheUnauthorizedTTL: metav1.Duration{Duration: 30 * time.Second}}}
	auth, err := NewAuth(rv.client(t), "node-1", authn, authz)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{Auth: auth}, newTestPod("p"))
	do := func(method, path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		method, path, token string
		code                int
		body                string
	}{
		{"GET", "/pods", "", 401, "Unauthorized"},
		{"GET", "/pods", "mallory-token", 401, "Unauthorized"},
		// nodes/pods is enough for /pods; bob gets in through nodes/proxy.
		{"GET", "/pods", "alice-token", 200, `"kind":"PodList"`},
		{"GET", "/pods", "bob-token", 200, `"kind":"PodList"`},
		{"POST", "/exec/default/p/c?command=true&output=1", "alice-token", 403, "Forbidden (user=alice, verb=create, resource=nodes, subresource(s)=[proxy])\n"},
		{"GET", "/containerLogs/default/p/c", "alice-token", 403, "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[proxy])\n"},
		{"GET", "/healthz", "alice-token", 403, "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[healthz proxy])\n"},
	} {
		code, body := do(tc.method, tc.path, tc.token)
		if code != tc.code || (tc.code == 200 && !strings.Contains(body, tc.body)) || (tc.code != 200 && body != tc.body) {
			t.Errorf("%s %s as %q: %d %q; want %d %q", tc.method, tc.path, tc.token, code, body, tc.code, tc.body)
		}
	}
	// Asked again, the answers come from the cache.
	before := len(rv.reviews())
	do("GET", "/pods", "alice-token")
	do("POST", "/exec/default/p/c?command=true&output=1", "alice-token")
	if after := rv.reviews(); len(after) != before {
		t.Errorf("reviews after asking again: %v, want the %d before", after[before:], before)
	}
	want := []string{"alice get nodes/pods node-1", "bob get nodes/pods node-1", "bob get nodes/proxy node-1",
		"alice create nodes/proxy node-1", "alice get nodes/proxy node-1", "alice get nodes/healthz node-1"}
	if got := rv.reviews(); !slices.Equal(got, want) {
		t.Errorf("reviews %q, want %q", got, want)
	}

	// Anonymous on: system:anonymous is authorized like anyone.
	authn.Anonymous.Enabled = ptr.To(true)
	rv.allowed["system:anonymous"] = []string{"get nodes/healthz"}
	auth, err = NewAuth(rv.client(t), "node-1", authn, authz)
	if err != nil {
		t.Fatal(err)
	}
	e = newEnv(t, Options{Auth: auth}, newTestPod("p"))
	if code, body := do("GET", "/healthz", ""); code != 200 || body != "ok" {
		t.Errorf("anonymous /healthz: %d %q", code, body)
	}
	if code, body := do("GET", "/pods", ""); code != 403 || body != "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource(s)=[pods proxy])\n" {
		t.Errorf("anonymous /pods: %d %q", code, body)
	}
}

// TestAuthModes: AlwaysAllow lets any authenticated caller in without
// asking; an unknown mode is an error.
func TestAuthModes(t *testing.T) {
	rv := &reviewer{tokens: map[string]string{"t": "u"}}
	authn := kubeletconfig.KubeletAuthentication{Webhook: kubeletconfig.KubeletWebhookAuthentication{Enabled: ptr.To(true)}}
	auth, err := NewAuth(rv.client(t), "node-1", authn, kubeletconfig.KubeletAuthorization{Mode: kubeletconfig.KubeletAuthorizationModeAlwaysAllow})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{Auth: auth}, newTestPod("p"))
	req, _ := http.NewRequest("GET", e.base+"/pods", nil)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(rv.reviews()) != 0 {
		t.Errorf("AlwaysAllow: %d, reviews %v; want 200 and none", resp.StatusCode, rv.reviews())
	}
	if _, err := NewAuth(rv.client(t), "node-1", authn, kubeletconfig.KubeletAuthorization{Mode: "RBAC"}); err == nil ||
		err.Error() != `kubelet auth: unknown authorization mode "RBAC": want AlwaysAllow or Webhook` {
		t.Errorf("mode RBAC: %v", err)
	}
}
