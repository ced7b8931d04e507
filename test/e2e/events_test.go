package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestPodEvents: the scheduler and the kubelet report their work on a pod
// as events that real kubectl shows, as on a real cluster: `kubectl
// describe pod` lists the pod scheduled, then, from "kubelet", the image
// (pulled, or already present) and the container created and started; once the pod is deleted, `kubectl get events` selected by the
// involved object shows it stopped.
func TestPodEvents(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{})
	image := `(Normal +Pulling +\S+ +kubelet +Pulling image "busybox"\n +Normal +Pulled +\S+ +kubelet +Successfully pulled image "busybox" in \S+ \(\S+ including waiting\)\. Image size: \d+ bytes\.|Normal +Pulled +\S+ +kubelet +Container image "busybox" already present on machine)`
	described := regexp.MustCompile(`(?m)^Events:\n +Type +Reason +Age +From +Message\n +[- ]+\n +` +
		`Normal +Scheduled +\S+ +default-scheduler +Successfully assigned default/demo to node-1\n +` + image +
		`\n +Normal +Created +\S+ +kubelet +Created container: main\n +Normal +Started +\S+ +kubelet +Started container main\n\z`)
	var out string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := kubectlLatest.run(t, s, nil, "describe", "pod", "demo")
		if out = r.stdout; r.code == 0 && described.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl describe pod demo, 30 s on (exit %d, stderr %q):\n%s", r.code, r.stderr, out)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Client().CoreV1().Pods("default").Delete(ctx, "demo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	killing := regexp.MustCompile(`(?m)^\S+ +Normal +Killing +pod/demo +Stopping container main$`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := kubectlLatest.run(t, s, nil, "get", "events", "--field-selector", "involvedObject.name=demo,involvedObject.kind=Pod")
		if out = r.stdout; r.code == 0 && killing.MatchString(out) && strings.HasPrefix(out, "LAST SEEN ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl get events, 30 s after the delete (exit %d, stderr %q):\n%s", r.code, r.stderr, out)
		}
	}
}
