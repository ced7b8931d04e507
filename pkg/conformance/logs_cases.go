package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// logs reads the main container's five lines with each option of a
// finished read (pods/log, kube-apiserver's LogREST, the kubelet's
// containerLogs): tail, limitBytes, timestamps, sinceSeconds, sinceTime.
func logs(ctx context.Context, e *env, _ Protocol) error {
	all := strings.Join(mainLog, "\n") + "\n"
	tail, limit, hour := int64(2), int64(7), int64(3600)
	future := metav1.NewTime(time.Now().Add(time.Hour))
	for _, c := range []struct {
		what string
		opts corev1.PodLogOptions
		want string
	}{
		{"tailLines=2", corev1.PodLogOptions{TailLines: &tail}, "line 4\nline 5\n"},
		{"limitBytes=7", corev1.PodLogOptions{LimitBytes: &limit}, "line 1\n"},
		{"sinceSeconds=3600", corev1.PodLogOptions{SinceSeconds: &hour}, all},
		{"sinceTime an hour ahead", corev1.PodLogOptions{SinceTime: &future}, ""},
	} {
		got, err := e.readLogs(ctx, mainContainer, c.opts)
		if err != nil {
			return fmt.Errorf("%s: %w", c.what, err)
		}
		if got != c.want {
			return fmt.Errorf("%s: %q, want %q", c.what, got, c.want)
		}
	}
	got, err := e.readLogs(ctx, mainContainer, corev1.PodLogOptions{Timestamps: true})
	if err != nil {
		return fmt.Errorf("timestamps: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != len(mainLog) {
		return fmt.Errorf("timestamps: %q, want %d lines", got, len(mainLog))
	}
	for i, l := range lines {
		stamp, text, _ := strings.Cut(l, " ")
		if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || text != mainLog[i] {
			return fmt.Errorf("timestamps: line %q, want an RFC 3339 time and %q", l, mainLog[i])
		}
	}
	return nil
}

func (e *env) readLogs(ctx context.Context, container string, opts corev1.PodLogOptions) (string, error) {
	rc, err := e.client.Logs(ctx, LogsRequest{Namespace: e.opts.Namespace, Pod: e.pods.main, Container: container, Options: opts})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// logsFollow follows the ticker, which writes a line every 0.2 s: three
// new lines in a row must come within 5 s.
func logsFollow(ctx context.Context, e *env, _ Protocol) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	one := int64(1)
	rc, err := e.client.Logs(ctx, LogsRequest{Namespace: e.opts.Namespace, Pod: e.pods.main, Container: tickerContainer,
		Options: corev1.PodLogOptions{Follow: true, TailLines: &one}})
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	var ticks []int
	for len(ticks) < 4 && sc.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "tick "))
		if err != nil {
			return fmt.Errorf("line %q from the ticker", sc.Text())
		}
		if len(ticks) > 0 && n != ticks[len(ticks)-1]+1 {
			return fmt.Errorf("tick %d after tick %d", n, ticks[len(ticks)-1])
		}
		ticks = append(ticks, n)
	}
	if len(ticks) < 4 {
		return fmt.Errorf("following got %v, then %v; want the last line and three new ones within 5 s", ticks, sc.Err())
	}
	return nil
}
