package server

import (
	"net/http/httptest"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

func TestNewStreamOptions(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  StreamOptions
		err   string
	}{
		{"input=1&output=1&error=1", StreamOptions{Stdin: true, Stdout: true, Stderr: true}, ""},
		{"output=true&error=True", StreamOptions{Stdout: true, Stderr: true}, ""},
		{"output=1&error=1&tty=1", StreamOptions{Stdout: true, TTY: true}, ""},
		{"input=t&tty=TRUE", StreamOptions{Stdin: true, TTY: true}, ""},
		{"output=yes", StreamOptions{}, "you must specify at least 1 of stdin, stdout, stderr"},
		{"tty=1", StreamOptions{}, "you must specify at least 1 of stdin, stdout, stderr"},
		{"input=0&output=false", StreamOptions{}, "you must specify at least 1 of stdin, stdout, stderr"},
	} {
		got, err := newStreamOptions(httptest.NewRequest("GET", "/exec/ns/pod/c?"+tc.query, nil))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: err %v, want %q", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.query, got, err, tc.want)
		}
	}
}

func TestDecodePodLogOptions(t *testing.T) {
	q := map[string][]string{
		"follow": {"true"}, "previous": {"1"}, "timestamps": {"false"}, "tailLines": {"10"},
		"limitBytes": {"100"}, "sinceSeconds": {"30"}, "container": {"c"}, "stream": {"Stdout"},
	}
	o, err := decodePodLogOptions(q)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Follow || !o.Previous || o.Timestamps || *o.TailLines != 10 || *o.LimitBytes != 100 || *o.SinceSeconds != 30 ||
		o.Container != "c" || *o.Stream != "Stdout" || o.SinceTime != nil {
		t.Errorf("decoded %+v", o)
	}
	o, err = decodePodLogOptions(map[string][]string{"sinceTime": {"2024-01-02T03:04:05Z"}, "follow": {""}})
	if err != nil || o.SinceTime == nil || o.SinceTime.UTC().Format(time.RFC3339) != "2024-01-02T03:04:05Z" || !o.Follow || *o.Stream != v1.LogStreamAll {
		t.Errorf("decoded %+v, %v", o, err)
	}
}
