package apiserver

import (
	"net/url"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// FuzzExecQuery feeds pods/exec query strings to the option decoding and
// the kubelet query built from it: no panic, and the kubelet gets exactly
// the command and the streams the client asked for.
func FuzzExecQuery(f *testing.F) {
	for _, seed := range []string{
		"command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&stderr=true&tty=false",
		"command=true&container=main&stdout=1",
		"stdout=True&stderr=FALSE&tty=0",
		"command=%00&stdin=&stdout=maybe",
		"command=a&command=b&command=&container=%2F..%2F",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		opts := &corev1.PodExecOptions{}
		if err := registry.ParameterCodec.DecodeParameters(q, corev1.SchemeGroupVersion, opts); err != nil {
			return
		}
		kq := streamParams(opts)
		if got := kq[corev1.ExecCommandParam]; !slices.Equal(got, opts.Command) && !(len(got) == 0 && len(opts.Command) == 0) {
			t.Fatalf("command %q reached the kubelet as %q", opts.Command, got)
		}
		for param, on := range map[string]bool{corev1.ExecStdinParam: opts.Stdin, corev1.ExecStdoutParam: opts.Stdout, corev1.ExecStderrParam: opts.Stderr, corev1.ExecTTYParam: opts.TTY} {
			if (kq.Get(param) == "1") != on {
				t.Fatalf("%s: asked %v, kubelet query %q", param, on, kq.Encode())
			}
		}
	})
}
