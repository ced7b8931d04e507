package apiserver

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// FuzzConnectQuery feeds pods/attach and pods/portforward query strings
// to the option decoding and the kubelet query built from it (exec is
// FuzzExecQuery's): no panic, the kubelet gets exactly the streams asked
// for and no command, and exactly the ports asked for, in order.
func FuzzConnectQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, portForward bool, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if portForward {
			opts := &corev1.PodPortForwardOptions{}
			if err := registry.ParameterCodec.DecodeParameters(q, corev1.SchemeGroupVersion, opts); err != nil {
				return
			}
			kq := streamParams(opts)
			var got []int32
			if v := kq[corev1.PortHeader]; len(v) > 0 {
				if len(v) != 1 {
					t.Fatalf("ports %v reached the kubelet as %d port parameters", opts.Ports, len(v))
				}
				for p := range strings.SplitSeq(v[0], ",") {
					n, err := strconv.ParseInt(p, 10, 32)
					if err != nil {
						t.Fatalf("ports %v reached the kubelet as %q", opts.Ports, v[0])
					}
					got = append(got, int32(n))
				}
			}
			if !slices.Equal(got, opts.Ports) {
				t.Fatalf("ports %v reached the kubelet as %v", opts.Ports, got)
			}
			return
		}
		opts := &corev1.PodAttachOptions{}
		if err := registry.ParameterCodec.DecodeParameters(q, corev1.SchemeGroupVersion, opts); err != nil {
			return
		}
		kq := streamParams(opts)
		if kq.Has(corev1.ExecCommandParam) {
			t.Fatalf("attach query %q reached the kubelet with a command: %q", raw, kq.Encode())
		}
		for param, on := range map[string]bool{corev1.ExecStdinParam: opts.Stdin, corev1.ExecStdoutParam: opts.Stdout, corev1.ExecStderrParam: opts.Stderr, corev1.ExecTTYParam: opts.TTY} {
			if (kq.Get(param) == "1") != on {
				t.Fatalf("%s: asked %v, kubelet query %q", param, on, kq.Encode())
			}
		}
	})
}
