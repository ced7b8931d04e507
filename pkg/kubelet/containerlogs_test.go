package kubelet

import (
	"bufio"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestContainerLogs(t *testing.T) {
	e := newEnv(t)
	e.createPod(newTestPod("logger"))
	e.waitPod("logger", "running", running)
	logFile := filepath.Join(e.rootDir, "pods", "default_logger_uid-logger", "c", "0.log")
	writeCRILog(t, logFile,
		"2024-01-02T03:04:05.000000001Z stdout F one",
		"2024-01-02T03:04:06Z stderr F two",
		"2024-01-02T03:04:07.5Z stdout P thr",
		"2024-01-02T03:04:07.6Z stdout F ee",
	)
	never := newTestPod("never")
	never.Spec.Containers[0].Image = "busybox:missing"
	never.Spec.Containers[0].ImagePullPolicy = v1.PullNever
	e.createPod(never)
	e.waitPod("never", "waiting", func(p *v1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImageNeverPull"
	})

	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/containerLogs/default/logger/c", 200, "one\ntwo\nthree\n"},
		{"/containerLogs/default/logger/c?tailLines=2", 200, "three\n"},
		{"/containerLogs/default/logger/c?tail=1", 200, "ee\n"},
		{"/containerLogs/default/logger/c?tail=all", 200, "one\ntwo\nthree\n"},
		{"/containerLogs/default/logger/c?timestamps=true", 200,
			"2024-01-02T03:04:05.000000001Z one\n2024-01-02T03:04:06.000000000Z two\n2024-01-02T03:04:07.500000000Z three\n"},
		{"/containerLogs/default/logger/c?limitBytes=5", 200, "one\nt"},
		{"/containerLogs/default/logger/c?sinceTime=" + url.QueryEscape("2024-01-02T03:04:06Z"), 200, "two\nthree\n"},
		{"/containerLogs/default/logger/c?stream=Stderr", 200, "two\n"},
		{"/containerLogs/default/logger/c?stream=Stdout", 200, "one\nthree\n"},
		{"/containerLogs/default/logger/c?stream=bogus", 400, `invalid stream type "bogus"`},
		{"/containerLogs/default/logger/c?stream=Stdout&tailLines=1", 422, `{"message": "Invalid request."}`},
		{"/containerLogs/default/logger/c?tailLines=-1", 422, `{"message": "Invalid request."}`},
		{"/containerLogs/default/logger/c?limitBytes=0", 422, `{"message": "Invalid request."}`},
		{"/containerLogs/default/logger/c?sinceSeconds=5&sinceTime=2024-01-02T03:04:06Z", 422, `{"message": "Invalid request."}`},
		{"/containerLogs/default/logger/c?tailLines=many", 400, `{"message": "Unable to decode query."}`},
		{"/containerLogs/default/logger/c?sinceTime=yesterday", 400, `{"message": "Unable to decode query."}`},
		{"/containerLogs/default/logger/c?previous=true", 400, `previous terminated container "c" in pod "logger" not found`},
		{"/containerLogs/default/nope/c", 404, `pod "nope" does not exist`},
		{"/containerLogs/default/logger/nope", 404, `container "nope" not found in pod "logger"`},
		{"/containerLogs/default/never/c", 400, `container "c" in pod "never" is waiting to start: ErrImageNeverPull`},
	} {
		if code, body := e.get(tc.path); code != tc.code || body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
}

// TestContainerLogsFollow follows a log while lines arrive and sees the
// response end when the container exits.
func TestContainerLogsFollow(t *testing.T) {
	e := newEnv(t)
	e.createPod(newTestPod("tick"))
	e.waitPod("tick", "running", running)
	logFile := filepath.Join(e.rootDir, "pods", "default_tick_uid-tick", "c", "0.log")
	writeCRILog(t, logFile, "2024-01-02T03:04:05Z stdout F old", "2024-01-02T03:04:06Z stdout F first")

	resp, err := e.http.Get(e.base + "/containerLogs/default/tick/c?follow=true&tailLines=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); line != "first\n" || err != nil {
		t.Fatalf("first line %q, %v", line, err)
	}
	writeCRILog(t, logFile, "2024-01-02T03:04:07Z stdout F second")
	if line, err := r.ReadString('\n'); line != "second\n" || err != nil {
		t.Fatalf("appended line %q, %v", line, err)
	}
	writeCRILog(t, logFile, "2024-01-02T03:04:08Z stdout F last words")
	e.cri.exit(e.cri.running("c")[0], 0)
	rest, err := readRest(r)
	if rest != "last words\n" || err != nil {
		t.Errorf("after the exit: %q, %v", rest, err)
	}
}

func readRest(r *bufio.Reader) (string, error) {
	var out []byte
	buf := make([]byte, 1024)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if err.Error() == "EOF" {
				return string(out), nil
			}
			return string(out), err
		}
	}
}

func TestContainerLogID(t *testing.T) {
	terminated := func(id string) *v1.ContainerStateTerminated {
		return &v1.ContainerStateTerminated{ContainerID: id}
	}
	for _, tc := range []struct {
		name     string
		cs       v1.ContainerStatus
		previous bool
		id       string
		err      string
	}{
		{"running", v1.ContainerStatus{Name: "c", ContainerID: "cri://now", State: v1.ContainerState{Running: &v1.ContainerStateRunning{}},
			LastTerminationState: v1.ContainerState{Terminated: terminated("cri://before")}}, false, "now", ""},
		{"previous", v1.ContainerStatus{Name: "c", ContainerID: "cri://now", State: v1.ContainerState{Running: &v1.ContainerStateRunning{}},
			LastTerminationState: v1.ContainerState{Terminated: terminated("cri://before")}}, true, "before", ""},
		{"terminated", v1.ContainerStatus{Name: "c", State: v1.ContainerState{Terminated: terminated("cri://done")}}, false, "done", ""},
		{"terminated without id", v1.ContainerStatus{Name: "c", State: v1.ContainerState{Terminated: terminated("")},
			LastTerminationState: v1.ContainerState{Terminated: terminated("cri://before")}}, false, "before", ""},
		{"terminated, nothing ran", v1.ContainerStatus{Name: "c", State: v1.ContainerState{Terminated: terminated("")}}, false, "",
			`container "c" in pod "p" is terminated`},
		{"crash loop", v1.ContainerStatus{Name: "c", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: v1.ContainerState{Terminated: terminated("cri://crashed")}}, false, "crashed", ""},
		{"pulling", v1.ContainerStatus{Name: "c", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ErrImagePull"}}}, false, "",
			`container "c" in pod "p" is waiting to start: image can't be pulled`},
		{"pull back-off", v1.ContainerStatus{Name: "c", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}, false, "",
			`container "c" in pod "p" is waiting to start: trying and failing to pull image`},
		{"no state", v1.ContainerStatus{Name: "c"}, false, "", `container "c" in pod "p" is waiting to start - no logs yet`},
		{"other container", v1.ContainerStatus{Name: "d"}, false, "", `container "c" in pod "p" is not available`},
	} {
		status := &v1.PodStatus{ContainerStatuses: []v1.ContainerStatus{tc.cs}}
		id, err := containerLogID("p", status, "c", tc.previous)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || id != tc.id {
			t.Errorf("%s: %q %v, want %q", tc.name, id, err, tc.id)
		}
	}
}
