package server

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestContainerLogsHandler checks what the handler decides before the host
// reads a log: the query's options, the stream split and the errors
// (pkg/kubelet containerlogs_test.go reads real logs through it).
func TestContainerLogsHandler(t *testing.T) {
	e := newEnv(t, Options{}, newTestPod("logger"))
	e.host.setLogs(func(stdout, stderr io.Writer) error {
		if stdout != nil {
			fmt.Fprint(stdout, "out\n")
		}
		if stderr != nil {
			fmt.Fprint(stderr, "err\n")
		}
		return nil
	})
	for _, tc := range []struct {
		path string
		code int
		body string
		// check, when set, looks at the options the host was asked for.
		check func(*v1.PodLogOptions) bool
	}{
		{"/containerLogs/default/logger/c", 200, "out\nerr\n", func(o *v1.PodLogOptions) bool { return *o.Stream == v1.LogStreamAll && o.TailLines == nil }},
		{"/containerLogs/default/logger/c?tailLines=2", 200, "out\nerr\n", func(o *v1.PodLogOptions) bool { return *o.TailLines == 2 }},
		{"/containerLogs/default/logger/c?tail=1", 200, "out\nerr\n", func(o *v1.PodLogOptions) bool { return *o.TailLines == 1 }},
		{"/containerLogs/default/logger/c?tail=all", 200, "out\nerr\n", func(o *v1.PodLogOptions) bool { return o.TailLines == nil }},
		{"/containerLogs/default/logger/c?timestamps=true&limitBytes=5&follow=true", 200, "out\nerr\n", func(o *v1.PodLogOptions) bool {
			return o.Timestamps && *o.LimitBytes == 5 && o.Follow
		}},
		{"/containerLogs/default/logger/c?sinceTime=2024-01-02T03:04:06Z&previous=true", 200, "out\nerr\n", func(o *v1.PodLogOptions) bool {
			return o.SinceTime.UTC().Format(time.RFC3339) == "2024-01-02T03:04:06Z" && o.Previous
		}},
		{"/containerLogs/default/logger/c?stream=Stderr", 200, "err\n", nil},
		{"/containerLogs/default/logger/c?stream=Stdout", 200, "out\n", nil},
		{"/containerLogs/default/logger/c?stream=bogus", 400, `invalid stream type "bogus"`, nil},
		{"/containerLogs/default/logger/c?stream=Stdout&tailLines=1", 422, `{"message": "Invalid request."}`, nil},
		{"/containerLogs/default/logger/c?tailLines=-1", 422, `{"message": "Invalid request."}`, nil},
		{"/containerLogs/default/logger/c?limitBytes=0", 422, `{"message": "Invalid request."}`, nil},
		{"/containerLogs/default/logger/c?sinceSeconds=5&sinceTime=2024-01-02T03:04:06Z", 422, `{"message": "Invalid request."}`, nil},
		{"/containerLogs/default/logger/c?tailLines=many", 400, `{"message": "Unable to decode query."}`, nil},
		{"/containerLogs/default/logger/c?sinceTime=yesterday", 400, `{"message": "Unable to decode query."}`, nil},
		{"/containerLogs/default/nope/c", 404, `pod "nope" does not exist`, nil},
		{"/containerLogs/default/logger/nope", 404, `container "nope" not found in pod "logger"`, nil},
	} {
		before := len(e.host.callsOf("GetKubeletContainerLogs"))
		if code, body := e.get(tc.path); code != tc.code || body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
		calls := e.host.callsOf("GetKubeletContainerLogs")
		if tc.code != 200 {
			if len(calls) != before {
				t.Errorf("%s reached the host", tc.path)
			}
			continue
		}
		if len(calls) != before+1 || calls[before].pod != "default/logger" || calls[before].container != "c" {
			t.Errorf("%s: host calls %+v", tc.path, calls[before:])
			continue
		}
		if tc.check != nil && !tc.check(calls[before].logOpts) {
			t.Errorf("%s: options %+v", tc.path, calls[before].logOpts)
		}
	}

	// An error of the host before any output is a 400 with its text.
	e.host.setLogs(func(io.Writer, io.Writer) error {
		return errors.New(`previous terminated container "c" in pod "logger" not found`)
	})
	if code, body := e.get("/containerLogs/default/logger/c?previous=true"); code != 400 || body != `previous terminated container "c" in pod "logger" not found` {
		t.Errorf("host error: %d %q", code, body)
	}
}
