package minikubectl

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// loaded reports which server and namespace the flags lead to.
func loaded(t *testing.T, g *globalFlags) string {
	t.Helper()
	cc := g.clientConfig()
	config, err := cc.ClientConfig()
	if err != nil {
		return "error: " + err.Error()
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return "error: " + err.Error()
	}
	return config.Host + " " + ns
}

// TestKubeconfigOrder checks kubectl's loading rules: --kubeconfig alone,
// else $KUBECONFIG's files merged (the first to set a value wins), else
// ~/.kube/config; then --context and -n.
func TestKubeconfigOrder(t *testing.T) {
	dir := t.TempDir()
	explicit := filepath.Join(dir, "explicit")
	env1 := filepath.Join(dir, "env1")
	env2 := filepath.Join(dir, "env2")
	writeKubeconfig(t, explicit, map[string]string{"explicit": "http://explicit.test"}, "explicit", "")
	writeKubeconfig(t, env1, map[string]string{"one": "http://one.test"}, "one", "")
	writeKubeconfig(t, env2, map[string]string{"two": "http://two.test", "one": "http://shadowed.test"}, "two", "")
	t.Setenv("KUBECONFIG", env1+string(os.PathListSeparator)+env2)

	for _, tc := range []struct {
		name string
		g    globalFlags
		want string
	}{
		{"--kubeconfig over $KUBECONFIG", globalFlags{kubeconfig: explicit}, "http://explicit.test ns-explicit"},
		{"$KUBECONFIG merged, first current-context", globalFlags{}, "http://one.test ns-one"},
		{"--context from the second file", globalFlags{context: "two"}, "http://two.test ns-two"},
		{"-n over the context's namespace", globalFlags{context: "two", namespace: "mine"}, "http://two.test mine"},
		{"--kubeconfig ignores $KUBECONFIG's contexts", globalFlags{kubeconfig: explicit, context: "two"},
			`error: context "two" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loaded(t, &tc.g); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("missing --kubeconfig file", func(t *testing.T) {
		r := runKubectl(t, nil, "--kubeconfig", filepath.Join(dir, "nope"), "get", "pods")
		want := result{stderr: "error: stat " + filepath.Join(dir, "nope") + ": no such file or directory\n", code: 1}
		if r != want {
			t.Errorf("got %+v, want %+v", r, want)
		}
	})
	t.Run("unknown --context", func(t *testing.T) {
		r := runKubectl(t, nil, "--context", "nope", "get", "pods")
		want := result{stderr: "Error in configuration: \n* context was not found for specified context: nope\n* cluster has no server defined\n", code: 1}
		if r != want {
			t.Errorf("got %+v, want %+v", r, want)
		}
	})
}

// TestKubeconfigHome checks that with neither --kubeconfig nor $KUBECONFIG
// the file is ~/.kube/config. client-go settles that path when it starts,
// so this runs the test binary again with another HOME.
func TestKubeconfigHome(t *testing.T) {
	if os.Getenv("MINIKUBECTL_HOME_HELPER") == "1" {
		fmt.Print(loaded(t, &globalFlags{}))
		return
	}
	// The kubeconfig in the new HOME points at a server that says who it is.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"gitVersion":"v0.0.0-home"}`)
	}))
	defer srv.Close()
	home := t.TempDir()
	os.Mkdir(filepath.Join(home, ".kube"), 0o700)
	writeKubeconfig(t, filepath.Join(home, ".kube", "config"), map[string]string{"home": srv.URL}, "home", "")

	cmd := exec.Command(os.Args[0], "-test.run=^TestKubeconfigHome$")
	cmd.Env = append(os.Environ(), "MINIKUBECTL_HOME_HELPER=1", "HOME="+home, "KUBECONFIG=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if want := srv.URL + " ns-home"; !strings.HasPrefix(string(out), want) {
		t.Errorf("loaded %q, want %q", out, want)
	}
}
