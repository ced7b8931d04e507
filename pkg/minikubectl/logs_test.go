package minikubectl

import (
	"testing"
)

func TestLogs(t *testing.T) {
	api := newFakeAPI(t)
	api.addPod(runningPod("demo", "main"))
	api.addPod(runningPod("two", "main", "side"))
	api.logs = "line 1\nline 2\n"
	const logPath = "GET /api/v1/namespaces/default/pods/demo/log"

	for _, tc := range []struct {
		name string
		args []string
		want result
		call string
	}{
		{"plain", []string{"logs", "demo"}, result{stdout: api.logs}, logPath + "?container=main"},
		{
			"every option",
			[]string{"logs", "pod/demo", "-c", "main", "-f", "--tail=3", "--timestamps", "--since=90s", "--limit-bytes=10", "-p"},
			result{stdout: api.logs},
			logPath + "?container=main&follow=true&limitBytes=10&previous=true&sinceSeconds=90&tailLines=3&timestamps=true",
		},
		{"since rounds up", []string{"logs", "demo", "--since=1500ms"}, result{stdout: api.logs}, logPath + "?container=main&sinceSeconds=2"},
		{"since-time", []string{"logs", "demo", "--since-time=2026-01-02T03:04:05Z"}, result{stdout: api.logs}, logPath + "?container=main&sinceTime=2026-01-02T03%3A04%3A05Z"},
		{
			"defaulted container",
			[]string{"logs", "two"},
			result{stdout: api.logs, stderr: "Defaulted container \"main\" out of: main, side\n"},
			"GET /api/v1/namespaces/default/pods/two/log?container=main",
		},
		{"bad tail", []string{"logs", "demo", "--tail=-2"}, result{stderr: "error: --tail must be greater than or equal to -1\n", code: 1}, ""},
		{"bad limit", []string{"logs", "demo", "--limit-bytes=-1"}, result{stderr: "error: --limit-bytes must be greater than 0\n", code: 1}, ""},
		{
			"two sinces", []string{"logs", "demo", "--since=1s", "--since-time=2026-01-02T03:04:05Z"},
			result{stderr: "error: at most one of `sinceTime` or `sinceSeconds` may be specified\n", code: 1}, "",
		},
		{"unknown pod", []string{"logs", "nope"}, result{stderr: "Error from server (NotFound): pods \"nope\" not found\n", code: 1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.resetCalls()
			if r := api.run(nil, tc.args...); r != tc.want {
				t.Errorf("got %+v, want %+v", r, tc.want)
			}
			calls := api.recorded()
			if tc.call == "" && len(calls) != 0 || tc.call != "" && (len(calls) != 1 || calls[0] != tc.call) {
				t.Errorf("requests %q, want [%q]", calls, tc.call)
			}
		})
	}
}
