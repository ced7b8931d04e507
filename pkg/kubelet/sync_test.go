package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	testingclock "k8s.io/utils/clock/testing"
)

// TestStartPod checks the exact sandbox and container configs a new pod
// produces, and the status reported back.
func TestStartPod(t *testing.T) {
	e := newEnv(t)
	pod := newTestPod("web")
	pod.Labels = map[string]string{"app": "web"}
	pod.Annotations = map[string]string{"note": "x"}
	pod.Spec.TerminationGracePeriodSeconds = ptrTo[int64](7)
	pod.Spec.Containers[0] = v1.Container{
		Name:            "c",
		Image:           "busybox:1.36",
		ImagePullPolicy: v1.PullIfNotPresent,
		Command:         []string{"sh", "-c", "echo $(GREETING) $(UNSET)"},
		Args:            []string{"$$(ESCAPED)", "$(POD_NAME)"},
		WorkingDir:      "/tmp",
		Stdin:           true,
		StdinOnce:       true,
		TTY:             true,
		Ports:           []v1.ContainerPort{{ContainerPort: 8080, HostPort: 8080, Protocol: v1.ProtocolTCP}},
		Env: []v1.EnvVar{
			{Name: "GREETING", Value: "hello"},
			{Name: "POD_NAME", ValueFrom: fieldRef("metadata.name")},
			{Name: "POD_NAMESPACE", ValueFrom: fieldRef("metadata.namespace")},
			{Name: "POD_UID", ValueFrom: fieldRef("metadata.uid")},
			{Name: "POD_IP", ValueFrom: fieldRef("status.podIP")},
			{Name: "NODE", ValueFrom: fieldRef("spec.nodeName")},
			{Name: "APP", ValueFrom: fieldRef("metadata.labels['app']")},
			{Name: "FROM_CM", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{Key: "k"}}},
			{Name: "COMBINED", Value: "$(GREETING)-$(POD_NAME)"},
		},
		TerminationMessagePath:   "/dev/termination-log",
		TerminationMessagePolicy: v1.TerminationMessageReadFile,
	}
	e.createPod(pod)
	got := e.waitPod("web", "running", running)

	if n := e.cri.count("PullImage"); n != 1 {
		t.Errorf("%d PullImage calls for an absent IfNotPresent image, want 1", n)
	}
	namespaces := &runtimeapi.NamespaceOption{
		Network:       runtimeapi.NamespaceMode_NODE,
		Pid:           runtimeapi.NamespaceMode_CONTAINER,
		Ipc:           runtimeapi.NamespaceMode_POD,
		UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE},
	}
	wantSandbox := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "uid-web"},
		DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.0.0.10"}, Searches: []string{"example.com"}, Options: []string{"ndots:2"}},
		LogDirectory: filepath.Join(e.rootDir, "pods", "default_web_uid-web"),
		Labels: map[string]string{
			"app":                         "web",
			"io.kubernetes.pod.name":      "web",
			"io.kubernetes.pod.namespace": "default",
			"io.kubernetes.pod.uid":       "uid-web",
		},
		Annotations:  map[string]string{"note": "x"},
		PortMappings: []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 8080, HostPort: 8080}},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: namespaces,
				Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
			},
		},
	}
	sandboxes := e.cri.callsOf("RunPodSandbox")
	if len(sandboxes) != 1 {
		t.Fatalf("%d RunPodSandbox calls, want 1", len(sandboxes))
	}
	assertProto(t, "sandbox config", sandboxes[0].(*runtimeapi.RunPodSandboxRequest).Config, wantSandbox)

	creates := e.cri.callsOf("CreateContainer")
	if len(creates) != 1 {
		t.Fatalf("%d CreateContainer calls, want 1", len(creates))
	}
	create := creates[0].(*runtimeapi.CreateContainerRequest)
	imageID := fmt.Sprintf("sha256:%064x", 1)
	wantContainer := &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: "c"},
		Image:      &runtimeapi.ImageSpec{Image: imageID, UserSpecifiedImage: "busybox:1.36"},
		Command:    []string{"sh", "-c", "echo hello $(UNSET)"},
		Args:       []string{"$(ESCAPED)", "web"},
		WorkingDir: "/tmp",
		Labels: map[string]string{
			"io.kubernetes.pod.name":       "web",
			"io.kubernetes.pod.namespace":  "default",
			"io.kubernetes.pod.uid":        "uid-web",
			"io.kubernetes.container.name": "c",
		},
		Annotations: map[string]string{
			"io.kubernetes.container.hash":                     fmt.Sprintf("%x", hashContainer(&pod.Spec.Containers[0])),
			"io.kubernetes.container.restartCount":             "0",
			"io.kubernetes.container.terminationMessagePath":   "/dev/termination-log",
			"io.kubernetes.container.terminationMessagePolicy": "File",
			"io.kubernetes.pod.terminationGracePeriod":         "7",
			"io.kubernetes.container.ports":                    `[{"hostPort":8080,"containerPort":8080,"protocol":"TCP"}]`,
		},
		LogPath:   "c/0.log",
		Stdin:     true,
		StdinOnce: true,
		Tty:       true,
		Envs: []*runtimeapi.KeyValue{
			{Key: "GREETING", Value: []byte("hello")},
			{Key: "POD_NAME", Value: []byte("web")},
			{Key: "POD_NAMESPACE", Value: []byte("default")},
			{Key: "POD_UID", Value: []byte("uid-web")},
			{Key: "POD_IP", Value: []byte("127.0.0.1")},
			{Key: "NODE", Value: []byte(testNode)},
			{Key: "APP", Value: []byte("web")},
			{Key: "COMBINED", Value: []byte("hello-web")},
		},
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources: &runtimeapi.LinuxContainerResources{CpuShares: 2, OomScoreAdj: 1000},
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: namespaces,
				Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined},
			},
		},
	}
	assertProto(t, "container config", create.Config, wantContainer)
	assertProto(t, "sandbox config sent with CreateContainer", create.SandboxConfig, wantSandbox)
	if create.PodSandboxId != "sandbox-1" {
		t.Errorf("container created in sandbox %q", create.PodSandboxId)
	}
	if _, err := os.Stat(filepath.Join(e.rootDir, "pods", "default_web_uid-web", "c")); err != nil {
		t.Errorf("container log directory: %v", err)
	}

	// The status reported back.
	s := got.Status
	if s.HostIP != "127.0.0.1" || s.PodIP != "127.0.0.1" || len(s.PodIPs) != 1 || s.PodIPs[0].IP != "127.0.0.1" ||
		len(s.HostIPs) != 1 || s.HostIPs[0].IP != "127.0.0.1" || s.StartTime == nil || s.QOSClass != v1.PodQOSBestEffort {
		t.Errorf("status IPs, start time or QoS: %+v", s)
	}
	var types []string
	for _, c := range s.Conditions {
		types = append(types, fmt.Sprintf("%s=%s", c.Type, c.Status))
		if c.LastTransitionTime.IsZero() {
			t.Errorf("condition %s has no transition time", c.Type)
		}
	}
	if got, want := fmt.Sprint(types), "[PodReadyToStartContainers=True Initialized=True Ready=True ContainersReady=True PodScheduled=True]"; got != want {
		t.Errorf("conditions %s, want %s", got, want)
	}
	cs := s.ContainerStatuses[0]
	id := e.cri.running("c")[0]
	if cs.Name != "c" || cs.Image != "busybox:1.36" || cs.ImageID != imageID || cs.ContainerID != "fake-cri-test://"+id ||
		!cs.Ready || cs.Started == nil || !*cs.Started || cs.RestartCount != 0 || cs.State.Running.StartedAt.IsZero() ||
		cs.LastTerminationState.Terminated != nil {
		t.Errorf("container status %+v", cs)
	}
}

func TestImagePullPolicies(t *testing.T) {
	e := newEnv(t)
	e.cri.mu.Lock()
	e.cri.images["busybox:present"] = "sha256:present"
	e.cri.mu.Unlock()

	present := newTestPod("present")
	present.Spec.Containers[0].Image = "busybox:present"
	e.createPod(present)
	e.waitPod("present", "running", running)
	if n := e.cri.count("PullImage"); n != 0 {
		t.Errorf("IfNotPresent pulled a present image (%d PullImage calls)", n)
	}

	always := newTestPod("always")
	always.Spec.Containers[0].Image = "busybox:present"
	always.Spec.Containers[0].ImagePullPolicy = v1.PullAlways
	e.createPod(always)
	e.waitPod("always", "running", running)
	if n := e.cri.count("PullImage"); n != 1 {
		t.Errorf("Always: %d PullImage calls, want 1", n)
	}

	never := newTestPod("never")
	never.Spec.Containers[0].Image = "busybox:missing"
	never.Spec.Containers[0].ImagePullPolicy = v1.PullNever
	e.createPod(never)
	got := e.waitPod("never", "waiting", func(p *v1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImageNeverPull"
	})
	w := got.Status.ContainerStatuses[0].State.Waiting
	if w.Message != `Container image "busybox:missing" is not present with pull policy of Never` {
		t.Errorf("waiting message %q", w.Message)
	}
	if got.Status.Phase != v1.PodPending {
		t.Errorf("phase %s, want Pending", got.Status.Phase)
	}
	ready := got.Status.Conditions[2]
	if ready.Type != v1.PodReady || ready.Status != v1.ConditionFalse || ready.Reason != "ContainersNotReady" || ready.Message != "containers with unready status: [c]" {
		t.Errorf("Ready condition %+v", ready)
	}
	if n := e.cri.count("PullImage"); n != 1 {
		t.Errorf("Never pulled (%d PullImage calls in all, want 1)", n)
	}
	if n := e.cri.count("CreateContainer"); n != 2 {
		t.Errorf("%d CreateContainer calls, want 2", n)
	}
}

func TestRestartWithBackOff(t *testing.T) {
	e := newEnv(t)
	e.createPod(newTestPod("crash"))
	e.waitPod("crash", "running", running)
	first := e.cri.running("c")[0]
	writeCRILog(t, filepath.Join(e.rootDir, "pods", "default_crash_uid-crash", "c", "0.log"), "2024-01-02T03:04:05Z stdout F attempt 0")

	// The first crash restarts at once, with attempt 1 and a new log file.
	e.cri.exit(first, 1)
	got := e.waitPod("crash", "restarted", func(p *v1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	})
	cs := got.Status.ContainerStatuses[0]
	last := cs.LastTerminationState.Terminated
	if last == nil || last.ExitCode != 1 || last.Reason != "Error" || last.ContainerID != "fake-cri-test://"+first || last.FinishedAt.IsZero() {
		t.Errorf("last state after a restart: %+v", cs.LastTerminationState)
	}
	creates := e.cri.callsOf("CreateContainer")
	second := creates[len(creates)-1].(*runtimeapi.CreateContainerRequest).Config
	if second.Metadata.Attempt != 1 || second.LogPath != "c/1.log" || second.Annotations[containerRestartCountLabel] != "1" {
		t.Errorf("second attempt: metadata %v, log path %q, annotations %v", second.Metadata, second.LogPath, second.Annotations)
	}
	if got.Status.Phase != v1.PodRunning {
		t.Errorf("phase %s", got.Status.Phase)
	}

	// logs --previous shows the first attempt's log.
	if code, body := e.get("/containerLogs/default/crash/c?previous=true"); code != 200 || body != "attempt 0\n" {
		t.Errorf("previous logs: %d %q", code, body)
	}

	// The second crash waits out the back-off, on a clock the test holds.
	frozen := time.Now()
	e.setBackOffClock(frozen)
	e.cri.exit(e.cri.running("c")[0], 2)
	got = e.waitPod("crash", "in back-off", func(p *v1.Pod) bool {
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff"
	})
	cs = got.Status.ContainerStatuses[0]
	if want := "back-off 1s restarting failed container=c pod=crash_default(uid-crash)"; cs.State.Waiting.Message != want {
		t.Errorf("back-off message %q, want %q", cs.State.Waiting.Message, want)
	}
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 2 || cs.RestartCount != 1 || cs.Ready {
		t.Errorf("status in back-off: %+v", cs)
	}
	if got.Status.Phase != v1.PodRunning {
		t.Errorf("phase in back-off %s, want Running", got.Status.Phase)
	}
	e.setBackOffClock(frozen.Add(time.Hour))
	got = e.waitPod("crash", "restarted after the back-off", func(p *v1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount == 2
	})
	// The first attempt is collected with its log; the second stays for --previous.
	removed := e.cri.callsOf("RemoveContainer")
	if len(removed) != 1 || removed[0].(*runtimeapi.RemoveContainerRequest).ContainerId != first {
		t.Errorf("RemoveContainer calls %v, want only %s", removed, first)
	}
	if _, err := os.Stat(filepath.Join(e.rootDir, "pods", "default_crash_uid-crash", "c", "0.log")); !os.IsNotExist(err) {
		t.Errorf("log of the collected attempt: %v", err)
	}
}

func TestRestartPolicies(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name      string
		policy    v1.RestartPolicy
		code      int32
		phase     v1.PodPhase
		readyWhy  string
		restarted bool
	}{
		{"never-ok", v1.RestartPolicyNever, 0, v1.PodSucceeded, "PodCompleted", false},
		{"never-fail", v1.RestartPolicyNever, 3, v1.PodFailed, "PodFailed", false},
		{"onfailure-ok", v1.RestartPolicyOnFailure, 0, v1.PodSucceeded, "PodCompleted", false},
		{"onfailure-fail", v1.RestartPolicyOnFailure, 3, v1.PodRunning, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := newTestPod(tc.name)
			pod.Spec.Containers[0].Name = tc.name
			pod.Spec.RestartPolicy = tc.policy
			e.createPod(pod)
			e.waitPod(tc.name, "running", running)
			e.cri.exit(e.cri.running(tc.name)[0], tc.code)
			if tc.restarted {
				e.waitPod(tc.name, "restarted", func(p *v1.Pod) bool {
					return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
				})
				return
			}
			got := e.waitPod(tc.name, string(tc.phase), func(p *v1.Pod) bool { return p.Status.Phase == tc.phase })
			term := got.Status.ContainerStatuses[0].State.Terminated
			if term == nil || term.ExitCode != tc.code {
				t.Errorf("state %+v", got.Status.ContainerStatuses[0].State)
			}
			cr := got.Status.Conditions[3]
			if cr.Type != v1.ContainersReady || cr.Status != v1.ConditionFalse || cr.Reason != tc.readyWhy {
				t.Errorf("ContainersReady %+v", cr)
			}
			// The terminated pod's sandbox is stopped, not removed.
			waitFor(t, "sandbox stopped", func() bool {
				for _, r := range e.cri.callsOf("StopPodSandbox") {
					if e.cri.sandboxOf(pod.UID) == r.(*runtimeapi.StopPodSandboxRequest).PodSandboxId {
						return true
					}
				}
				return false
			})
		})
	}
}

func TestDeletePod(t *testing.T) {
	e := newEnv(t)
	e.createPod(newTestPod("doomed"))
	e.waitPod("doomed", "running", running)
	id := e.cri.running("c")[0]
	sandbox := e.cri.sandboxOf("uid-doomed")
	logDir := filepath.Join(e.rootDir, "pods", "default_doomed_uid-doomed")

	// What the apiserver does for a graceful delete: set the deletion
	// timestamp and grace period, and wait for the kubelet.
	pod := e.getPod("doomed")
	now := metav1.Now()
	pod.DeletionTimestamp = &now
	pod.DeletionGracePeriodSeconds = ptrTo[int64](7)
	if _, err := e.client.CoreV1().Pods("default").Update(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod object deleted", func() bool {
		_, err := e.client.CoreV1().Pods("default").Get(context.Background(), "doomed", metav1.GetOptions{})
		return err != nil
	})
	stops := e.cri.callsOf("StopContainer")
	if len(stops) != 1 || stops[0].(*runtimeapi.StopContainerRequest).ContainerId != id || stops[0].(*runtimeapi.StopContainerRequest).Timeout != 7 {
		t.Errorf("StopContainer calls %v, want %s with timeout 7", stops, id)
	}
	if got := e.cri.callsOf("StopPodSandbox"); len(got) != 1 || got[0].(*runtimeapi.StopPodSandboxRequest).PodSandboxId != sandbox {
		t.Errorf("StopPodSandbox calls %v", got)
	}
	if got := e.cri.callsOf("RemovePodSandbox"); len(got) != 1 || got[0].(*runtimeapi.RemovePodSandboxRequest).PodSandboxId != sandbox {
		t.Errorf("RemovePodSandbox calls %v", got)
	}
	// The kubelet deletes with grace 0 and the pod's UID as precondition.
	var deletes []k8stesting.DeleteAction
	for _, a := range e.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource() == (schema.GroupVersionResource{Version: "v1", Resource: "pods"}) {
			deletes = append(deletes, d)
		}
	}
	if len(deletes) == 0 {
		t.Fatal("the kubelet did not delete the pod")
	}
	for _, d := range deletes {
		opts := d.GetDeleteOptions()
		if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds != 0 || opts.Preconditions == nil || *opts.Preconditions.UID != "uid-doomed" {
			t.Errorf("delete options %+v", opts)
		}
	}
	if _, err := os.Stat(logDir); !os.IsNotExist(err) {
		t.Errorf("pod log directory after delete: %v", err)
	}
	// Grace periods below the minimum are raised to 2 s.
	if g := gracePeriod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionGracePeriodSeconds: ptrTo[int64](0)}}, nil); g != 2 {
		t.Errorf("grace period %d, want the minimum 2", g)
	}
}

// TestAdoptAfterRestart restarts the kubelet: the running pod is adopted,
// nothing is started twice, a sandbox of a pod deleted meanwhile is
// cleaned up, and another kubelet's sandbox on the same runtime is left.
func TestAdoptAfterRestart(t *testing.T) {
	e := newEnv(t)
	e.createPod(newTestPod("keep"))
	e.createPod(newTestPod("gone"))
	e.waitPod("keep", "running", running)
	e.waitPod("gone", "running", running)
	e.stop()

	// Deleted while no kubelet watched (a force delete).
	if err := e.client.CoreV1().Pods("default").Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	goneSandbox := e.cri.sandboxOf("uid-gone")
	// Another kubelet's: its pod's log directory is not under our root.
	theirs, err := e.cri.RunPodSandbox(context.Background(), &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "theirs", Namespace: "default", Uid: "uid-theirs"},
		Labels:       map[string]string{podUIDLabel: "uid-theirs", podNameLabel: "theirs", podNamespaceLabel: "default"},
		LogDirectory: filepath.Join(t.TempDir(), "pods", "default_theirs_uid-theirs"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	sandboxes, creates := e.cri.count("RunPodSandbox"), e.cri.count("CreateContainer")
	e.client.ClearActions()

	e.start()
	waitFor(t, "orphan removed", func() bool { return e.cri.sandboxOf("uid-gone") == "" })
	if got := e.cri.callsOf("RemovePodSandbox"); len(got) != 1 || got[0].(*runtimeapi.RemovePodSandboxRequest).PodSandboxId != goneSandbox {
		t.Errorf("RemovePodSandbox calls %v, want %s", got, goneSandbox)
	}
	// Let a few syncs pass, then check that nothing was started anew.
	before := e.cri.count("ContainerStatus")
	waitFor(t, "a few syncs", func() bool { return e.cri.count("ContainerStatus") > before+10 })
	if n := e.cri.count("RunPodSandbox"); n != sandboxes {
		t.Errorf("RunPodSandbox called again after restart (%d, was %d)", n, sandboxes)
	}
	if n := e.cri.count("CreateContainer"); n != creates {
		t.Errorf("CreateContainer called again after restart (%d, was %d)", n, creates)
	}
	for _, a := range e.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" && a.GetResource().Resource == "pods" {
			t.Errorf("status rewritten after restart although unchanged: %v", a)
		}
	}
	if pod := e.getPod("keep"); !running(pod) {
		t.Errorf("adopted pod status %+v", pod.Status)
	}
	if got := e.cri.sandboxOf("uid-theirs"); got != theirs.PodSandboxId || e.cri.count("StopPodSandbox") != 1 {
		t.Errorf("another kubelet's sandbox %s: now %q, %d StopPodSandbox calls in all", theirs.PodSandboxId, got, e.cri.count("StopPodSandbox"))
	}
}

// setBackOffClock stops the crash-loop back-off's clock at now.
func (e *testEnv) setBackOffClock(now time.Time) {
	b := e.k.crashBackOff
	b.Lock()
	defer b.Unlock()
	b.Clock = testingclock.NewFakeClock(now)
}

// sandboxOf returns the ID of the pod's newest sandbox, "" if none.
func (f *fakeCRI) sandboxOf(uid types.UID) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var id string
	var created int64
	for sid, s := range f.sandboxes {
		if s.config.Labels[podUIDLabel] == string(uid) && s.createdAt > created {
			id, created = sid, s.createdAt
		}
	}
	return id
}
