package apiserver

import (
	"context"
	"io"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLogs(t *testing.T) {
	ts, kubelet := streamStack(t, StreamingTranslate)
	ts.createRunningPod(t, "default", "waiting", "node-1", "waiting")
	if _, err := ts.client.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "unscheduled"},
		Spec: corev1.PodSpec{SchedulerName: "manual", Containers: []corev1.Container{{Name: "a", Image: "i"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	leaks := goroutineBaseline(t)
	for _, c := range []struct {
		query, wantKubelet string
	}{
		{"", ""},
		{"?follow=true&timestamps=1&tailLines=10&limitBytes=100&sinceSeconds=5&previous=True&container=main", "follow=true&limitBytes=100&previous=true&sinceSeconds=5&tailLines=10&timestamps=true"},
		{"?sinceTime=2026-01-02T03:04:05Z&follow=false", "sinceTime=2026-01-02T03%3A04%3A05Z"},
	} {
		code, header, body := ts.do(t, "GET", "/api/v1/namespaces/default/pods/demo/log"+c.query, nil, "")
		if code != 200 || body != "line 1\nline 2\n" || header.Get("Content-Type") != "text/plain" {
			t.Errorf("logs%s: %d %s %q", c.query, code, header.Get("Content-Type"), body)
		}
		if req := kubelet.lastRequest(t); req.URL.Path != "/containerLogs/default/demo/main" || req.URL.RawQuery != c.wantKubelet {
			t.Errorf("logs%s: kubelet got %s?%s, want ?%s", c.query, req.URL.Path, req.URL.RawQuery, c.wantKubelet)
		}
	}
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{"/api/v1/namespaces/default/pods/waiting/log", 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"container \"waiting\" in pod \"waiting\" is waiting to start: ContainerCreating\n","reason":"BadRequest","code":400}`},
		{"/api/v1/namespaces/default/pods/demo/log?tailLines=-1&limitBytes=0", 422,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"PodLogOptions \"demo\" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]","reason":"Invalid","details":{"name":"demo","kind":"PodLogOptions","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: -1: must be greater than or equal to 0","field":"tailLines"},{"reason":"FieldValueInvalid","message":"Invalid value: 0: must be greater than 0","field":"limitBytes"}]},"code":422}`},
		{"/api/v1/namespaces/default/pods/demo/log?tailLines=ten", 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"strconv.ParseInt: parsing \"ten\": invalid syntax","reason":"BadRequest","code":400}`},
		{"/api/v1/namespaces/default/pods/demo/log?container=nope", 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"container nope is not valid for pod demo","reason":"BadRequest","code":400}`},
	} {
		code, _, body := ts.do(t, "GET", c.path, nil, "")
		if code != c.code || body != c.want+"\n" {
			t.Errorf("%s: %d %s\nwant %d %s", c.path, code, body, c.code, c.want)
		}
	}
	if code, _, body := ts.do(t, "GET", "/api/v1/namespaces/default/pods/unscheduled/log", nil, ""); code != 204 || body != "" {
		t.Errorf("unscheduled: %d %q", code, body)
	}
	// client-go streams logs as kubectl does.
	stream, err := ts.client.CoreV1().Pods("default").GetLogs("demo", &corev1.PodLogOptions{Follow: true}).Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(stream)
	stream.Close()
	if err != nil || string(out) != "line 1\nline 2\n" {
		t.Errorf("client-go logs: %q %v", out, err)
	}
	leaks()
}

// TestLogsFollowFlushes sees each line of a followed log as the kubelet
// writes it, before the stream ends.
func TestLogsFollowFlushes(t *testing.T) {
	lines := make(chan string)
	kubelet := newFakeKubelet(t)
	kubelet.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for line := range lines {
			io.WriteString(w, line)
			w.(http.Flusher).Flush()
		}
	})
	ts := startServer(t, Options{})
	ts.createNode(t, "node-1", kubelet.srv.URL)
	ts.createRunningPod(t, "default", "demo", "node-1", "main")
	resp, err := http.Get(ts.url + "/api/v1/namespaces/default/pods/demo/log?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	for _, line := range []string{"one\n", "two\n"} {
		lines <- line
		n, err := resp.Body.Read(buf)
		if err != nil || string(buf[:n]) != line {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, line)
		}
	}
	close(lines)
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Errorf("after the kubelet ended the stream: read %q, %v; want EOF", rest, err)
	}
}
