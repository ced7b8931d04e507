package demostack

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/pki"
)

// Env is the running stack's environment, NAME=VALUE, that docs and labs
// use instead of fixed ports and paths (so that tests can run them on free
// ports): the kubeconfig and kubectl's cache, the apiserver's URL, admin's
// token, the PKI, node-1's kubelet and CRI endpoint, the state directory and
// ports for execlab itself, and PATH with the binaries first.
func Env(cfg Config) ([]string, error) {
	s, err := running(cfg)
	if err != nil {
		return nil, err
	}
	env := []string{
		"EXECLAB_STATE=" + cfg.StateDir,
		"KUBECONFIG=" + s.Kubeconfig,
		// kubectl's discovery cache, and its dispatcher's cache of the
		// server's version: one per stack.
		"KUBECACHEDIR=" + cfg.path("kubectl-cache"),
		"APISERVER=" + s.APIServer.URL,
		"TOKEN=" + s.AdminToken(),
		"CACERT=" + pki.CertFile(s.CertDir, pki.CA),
		"PKI=" + s.CertDir,
		"EXECLAB_APISERVER_PORT=" + strconv.Itoa(portOf(s.APIServer.URL)),
	}
	if len(s.Nodes) > 0 {
		n := s.Nodes[0]
		env = append(env, "KUBELET="+n.Kubelet.URL, "CRI="+n.CRIEndpoint,
			"EXECLAB_KUBELET_PORT="+strconv.Itoa(portOf(n.Kubelet.URL)))
	}
	return append(env, "PATH="+binDir(cfg)+string(os.PathListSeparator)+os.Getenv("PATH")), nil
}

// PrintEnv writes Env as export lines for a shell to eval; PATH keeps the
// shell's own after the binaries.
func PrintEnv(cfg Config) error {
	env, err := Env(cfg)
	if err != nil {
		return err
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if name == "PATH" {
			fmt.Fprintf(cfg.Stdout, "export PATH=%s:\"$PATH\"\n", shellQuote(binDir(cfg)))
			continue
		}
		fmt.Fprintf(cfg.Stdout, "export %s=%s\n", name, shellQuote(value))
	}
	return nil
}

func binDir(cfg Config) string { return filepath.Join(cfg.Root, "bin") }

// shellQuote quotes s for a POSIX shell: in single quotes, each single
// quote in s closing them, escaped, and opening them again.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// labUsers are the token users every demo stack has besides admin, for the
// labs on authorization: the policy file gives them no rules until a lab
// (or a person) writes some. Their tokens are random, kept across starts,
// in the token file.
var labUsers = []execlabtest.User{{Name: "alice"}, {Name: "bob"}}

// portOf is the port of a component's URL.
func portOf(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}
