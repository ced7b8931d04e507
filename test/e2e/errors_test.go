package e2e

import (
	"testing"
)

func TestExecErrors(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown pod", []string{"exec", "x", "--", "true"}, "Error from server (NotFound): pods \"x\" not found\n"},
		{"unknown container", []string{"exec", "demo", "-c", "nope", "--", "true"}, "Error from server (BadRequest): container nope is not valid for pod demo\n"},
		// On a pod NotFound kubectl asks for the namespace, and reports that
		// instead when it is missing too.
		{"unknown namespace", []string{"exec", "-n", "elsewhere", "demo", "--", "true"}, "Error from server (NotFound): namespaces \"elsewhere\" not found\n"},
	}
	for _, c := range append(spdyClients, kubectlLatest) {
		if !c.kubectl {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					r := c.run(t, shared, nil, tc.args...)
					if r.code != 1 || r.stderr != tc.stderr || r.stdout != "" {
						t.Errorf("got exit %d, stdout %q, stderr %q; want exit 1, stderr %q", r.code, r.stdout, r.stderr, tc.stderr)
					}
				})
			}
		})
	}
}
