package minikubectl

import (
	"fmt"
	"testing"
)

func TestDelete(t *testing.T) {
	withGoroutineCheck(t)
	api := newFakeAPI(t)
	for _, name := range []string{"demo", "keep", "quick"} {
		api.addPod(runningPod(name, "main"))
	}
	const pods = "/api/v1/namespaces/default/pods"
	background := `{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}`

	for _, tc := range []struct {
		name  string
		args  []string
		want  result
		calls []string
		gone  bool
	}{
		{
			// The fake removes the pod once watched, as a kubelet would
			// once its containers stopped.
			name: "waits until gone",
			args: []string{"delete", "pod", "demo"},
			want: result{stdout: "pod \"demo\" deleted\n"},
			calls: []string{
				"DELETE " + pods + "/demo " + background,
				"GET " + pods + "?fieldSelector=metadata.name%3Ddemo&resourceVersion=1&watch=true",
			},
			gone: true,
		},
		{
			name:  "no wait, grace period",
			args:  []string{"delete", "pod/keep", "--wait=false", "--grace-period=5"},
			want:  result{stdout: "pod \"keep\" deleted\n"},
			calls: []string{"DELETE " + pods + `/keep {"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":5,"propagationPolicy":"Background"}`},
		},
		{
			name:  "grace period 0 becomes 1 without --force",
			args:  []string{"delete", "po", "quick", "--grace-period=0", "--wait=false"},
			want:  result{stdout: "pod \"quick\" deleted\n"},
			calls: []string{"DELETE " + pods + `/quick {"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":1,"propagationPolicy":"Background"}`},
		},
		{
			name:  "unknown pod",
			args:  []string{"delete", "pod", "nope"},
			want:  result{stderr: "Error from server (NotFound): pods \"nope\" not found\n", code: 1},
			calls: nil,
		},
		{
			name: "no name",
			args: []string{"delete", "pod"},
			want: result{stderr: "error: resource(s) were provided, but no name was specified\n", code: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.resetCalls()
			if r := api.run(nil, tc.args...); r != tc.want {
				t.Errorf("got %+v, want %+v", r, tc.want)
			}
			if calls := api.recorded(); fmt.Sprint(calls) != fmt.Sprint(tc.calls) {
				t.Errorf("requests\n%q, want\n%q", calls, tc.calls)
			}
		})
	}
	if api.pod("default", "demo") != nil {
		t.Error("demo is still there")
	}
	if p := api.pod("default", "keep"); p == nil || p.DeletionTimestamp == nil {
		t.Errorf("keep should be terminating, is %+v", p)
	}
}
