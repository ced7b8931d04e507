package execlabtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// manifest is what a stack of processes leaves in its state directory
// (stack.json) for Attach, and for a person: each component's process,
// binary, flags, URL and log.
type manifest struct {
	Kubeconfig  string         `json:"kubeconfig"`
	CertDir     string         `json:"certDir"`
	CRIEndpoint string         `json:"criEndpoint,omitempty"`
	APIServer   manifestPart   `json:"apiserver"`
	Nodes       []manifestNode `json:"nodes"`
	// TracingReceiver is where the apiserver takes in the others' spans.
	TracingReceiver string `json:"tracingReceiver,omitempty"`
}

type manifestNode struct {
	Name        string        `json:"name"`
	CRIEndpoint string        `json:"criEndpoint"`
	RuntimeDir  string        `json:"runtimeDir,omitempty"`
	Kubelet     manifestPart  `json:"kubelet"`
	Runtime     *manifestPart `json:"runtime,omitempty"`
}

type manifestPart struct {
	Name   string   `json:"name"`
	PID    int      `json:"pid"`
	URL    string   `json:"url,omitempty"`
	Log    string   `json:"log"`
	Binary string   `json:"binary"`
	Args   []string `json:"args"`
}

// writeManifest writes stack.json for a stack of processes, anew after
// each restart; a stack in this process has none.
func (s *Stack) writeManifest() error {
	if s.opts.BinDir == "" {
		return nil
	}
	m := manifest{Kubeconfig: s.Kubeconfig, CertDir: s.CertDir, CRIEndpoint: s.opts.CRIEndpoint, TracingReceiver: s.tracingReceiver, APIServer: partOf(s.APIServer)}
	for _, n := range s.Nodes {
		mn := manifestNode{Name: n.Name, CRIEndpoint: n.CRIEndpoint, RuntimeDir: n.RuntimeDir, Kubelet: partOf(n.Kubelet)}
		if n.Runtime != nil {
			p := partOf(n.Runtime)
			mn.Runtime = &p
		}
		m.Nodes = append(m.Nodes, mn)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(s.path(manifestFile), append(b, '\n'), 0o644)
}

func partOf(c *Component) manifestPart {
	r := c.run.(*runProcess)
	return manifestPart{Name: c.Name, PID: c.PID(), URL: c.URL, Log: c.LogPath, Binary: r.binary, Args: r.args}
}

// Attach finds the stack of processes that Start left in stateDir, as
// another process does to stop it (Options.Detach). Components that have
// exited since are Exited; Stop stops the others, Restart starts them
// again as they were.
func Attach(stateDir string) (*Stack, error) {
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return nil, fmt.Errorf("no stack in %s: %w", dir, err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, manifestFile), err)
	}
	s := &Stack{
		Kubeconfig:      m.Kubeconfig,
		CertDir:         m.CertDir,
		tracingReceiver: m.TracingReceiver,
		opts: Options{
			StateDir:    dir,
			CRIEndpoint: m.CRIEndpoint,
			BinDir:      filepath.Dir(m.APIServer.Binary),
			Detach:      true,
		},
	}
	if s.http, err = newHTTPClient(s.CertDir); err != nil {
		return nil, err
	}
	s.APIServer = s.adopt(m.APIServer)
	s.APIServer.ready = s.answers(s.APIServer.URL + "/readyz")
	for _, mn := range m.Nodes {
		n := &Node{Name: mn.Name, CRIEndpoint: mn.CRIEndpoint, RuntimeDir: mn.RuntimeDir, Kubelet: s.adopt(mn.Kubelet)}
		n.CRISocket = strings.TrimPrefix(n.CRIEndpoint, "unix://")
		n.Kubelet.ready = s.answers(n.Kubelet.URL + "/healthz")
		if mn.Runtime != nil {
			n.Runtime = s.adopt(*mn.Runtime)
			n.Runtime.ready = accepts(n.CRISocket)
		}
		s.Nodes = append(s.Nodes, n)
		s.opts.Nodes = append(s.opts.Nodes, n.Name)
	}
	if s.config, err = clientcmd.BuildConfigFromFlags("", s.Kubeconfig); err != nil {
		return nil, err
	}
	if s.client, err = kubernetes.NewForConfig(s.config); err != nil {
		return nil, err
	}
	s.adminToken = s.config.BearerToken
	return s, nil
}

// adopt is the component a manifest describes, its process taken over.
func (s *Stack) adopt(p manifestPart) *Component {
	r := &runProcess{binary: p.Binary, args: p.Args, logPath: p.Log, pidPath: s.path(pidsDir, p.Name+".pid"), detach: true, env: []string{s.mark()}}
	r.adopt(p.PID)
	return &Component{Name: p.Name, URL: p.URL, LogPath: p.Log, run: r}
}
