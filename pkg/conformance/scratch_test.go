package conformance_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/execlab/execlab/pkg/conformance"
	"github.com/execlab/execlab/pkg/execlabtest"
)

func TestScratchKubectl(t *testing.T) {
	s := execlabtest.New(t, execlabtest.Options{})
	for _, path := range []string{"/usr/lib/google-cloud-sdk/bin/kubectl.1.28", "/usr/bin/kubectl"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		k, err := conformance.NewKubectl(ctx, path, s.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		r, err := conformance.Run(ctx, conformance.Options{Config: s.RESTConfig(), Client: k, Execs: 20, BinaryBytes: 8 << 20, Progress: os.Stderr, Cases: []string{"attach", "cancel"}})
		if err != nil {
			t.Fatal(err)
		}
		r.WriteTable(os.Stderr)
	}
}
