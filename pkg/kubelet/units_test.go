package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/flowcontrol"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/execlab/execlab/internal/qos"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": "", "B": "$(A)"}
	for in, want := range map[string]string{
		"":                 "",
		"plain":            "plain",
		"$(A)":             "a",
		"x$(A)y$(A)":       "xaya",
		"$(B)":             "$(A)", // no recursion
		"$(EMPTY)!":        "!",
		"$(MISSING)":       "$(MISSING)",
		"$$(A)":            "$(A)",
		"$$$(A)":           "$a",
		"$(A":              "$(A",
		"$A":               "$A",
		"$":                "$",
		"$é":               "$é",
		"100$":             "100$",
		"$()":              "$()",
		"a $(A) $$ $(A)) ": "a a $ a) ",
	} {
		if got := expand(in, mappingFuncFor(vars)); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$(A)", "$$(A)", "$(A", "x$", "$(", "$()$(B)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		// Without variables, references stay as written and "$$" shrinks
		// to "$": the output is never longer than the input.
		out := expand(in, mappingFuncFor(nil))
		if len(out) > len(in) {
			t.Fatalf("expand(%q) = %q grew without variables", in, out)
		}
	})
}

func TestPullPolicyAndTags(t *testing.T) {
	for image, want := range map[string]v1.PullPolicy{
		"busybox":                       v1.PullAlways,
		"busybox:latest":                v1.PullAlways,
		"busybox:1.36":                  v1.PullIfNotPresent,
		"localhost:5000/busybox":        v1.PullAlways,
		"localhost:5000/busybox:1.36":   v1.PullIfNotPresent,
		"busybox@sha256:" + sha('a'):    v1.PullIfNotPresent,
		"busybox:1@sha256:" + sha('b'):  v1.PullIfNotPresent,
		"registry.k8s.io/pause:3.10":    v1.PullIfNotPresent,
		"registry.k8s.io/pause:latest":  v1.PullAlways,
		"docker.io/library/busybox:1.0": v1.PullIfNotPresent,
	} {
		if got := pullPolicy(&v1.Container{Image: image}); got != want {
			t.Errorf("pullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
	if got := pullPolicy(&v1.Container{Image: "busybox", ImagePullPolicy: v1.PullNever}); got != v1.PullNever {
		t.Errorf("explicit policy not kept: %s", got)
	}
	for in, want := range map[string]string{
		"busybox":                    "busybox:latest",
		"busybox:1.36":               "busybox:1.36",
		"localhost:5000/busybox":     "localhost:5000/busybox:latest",
		"busybox@sha256:" + sha('a'): "busybox@sha256:" + sha('a'),
	} {
		if got := applyDefaultImageTag(in); got != want {
			t.Errorf("applyDefaultImageTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func sha(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestGetPhase(t *testing.T) {
	run := v1.ContainerStatus{State: v1.ContainerState{Running: &v1.ContainerStateRunning{}}}
	ok := v1.ContainerStatus{State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 0}}}
	fail := v1.ContainerStatus{State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 1}}}
	wait := v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	crash := v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 1}}}
	two := []v1.Container{{Name: "a"}, {Name: "b"}}
	for _, tc := range []struct {
		policy   v1.RestartPolicy
		statuses []v1.ContainerStatus
		want     v1.PodPhase
	}{
		{v1.RestartPolicyAlways, []v1.ContainerStatus{run, run}, v1.PodRunning},
		{v1.RestartPolicyAlways, []v1.ContainerStatus{run, wait}, v1.PodPending},
		{v1.RestartPolicyAlways, []v1.ContainerStatus{run}, v1.PodPending},
		{v1.RestartPolicyAlways, []v1.ContainerStatus{run, crash}, v1.PodRunning},
		{v1.RestartPolicyAlways, []v1.ContainerStatus{ok, fail}, v1.PodRunning},
		{v1.RestartPolicyNever, []v1.ContainerStatus{ok, ok}, v1.PodSucceeded},
		{v1.RestartPolicyNever, []v1.ContainerStatus{ok, fail}, v1.PodFailed},
		{v1.RestartPolicyNever, []v1.ContainerStatus{run, fail}, v1.PodRunning},
		{v1.RestartPolicyOnFailure, []v1.ContainerStatus{ok, ok}, v1.PodSucceeded},
		{v1.RestartPolicyOnFailure, []v1.ContainerStatus{ok, crash}, v1.PodRunning},
	} {
		got := getPhase(&v1.PodSpec{RestartPolicy: tc.policy, Containers: two}, tc.statuses)
		if got != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.policy, tc.statuses, got, tc.want)
		}
	}
}

func TestPodQOSAndResources(t *testing.T) {
	res := func(cpuReq, memReq, cpuLim, memLim string) v1.ResourceRequirements {
		r := v1.ResourceRequirements{Requests: v1.ResourceList{}, Limits: v1.ResourceList{}}
		for _, q := range []struct {
			list v1.ResourceList
			name v1.ResourceName
			val  string
		}{{r.Requests, v1.ResourceCPU, cpuReq}, {r.Requests, v1.ResourceMemory, memReq}, {r.Limits, v1.ResourceCPU, cpuLim}, {r.Limits, v1.ResourceMemory, memLim}} {
			if q.val != "" {
				q.list[q.name] = resource.MustParse(q.val)
			}
		}
		return r
	}
	pod := func(rs ...v1.ResourceRequirements) *v1.Pod {
		p := &v1.Pod{}
		for i, r := range rs {
			p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: fmt.Sprint(i), Resources: r})
		}
		return p
	}
	const gi = int64(1 << 30)
	for _, tc := range []struct {
		name string
		pod  *v1.Pod
		qos  v1.PodQOSClass
		want *runtimeapi.LinuxContainerResources
	}{
		{"best effort", pod(res("", "", "", "")), v1.PodQOSBestEffort, &runtimeapi.LinuxContainerResources{CpuShares: 2, OomScoreAdj: 1000}},
		{"guaranteed by limits", pod(res("", "", "500m", "1Gi")), v1.PodQOSGuaranteed,
			&runtimeapi.LinuxContainerResources{CpuShares: 512, CpuPeriod: 100000, CpuQuota: 50000, MemoryLimitInBytes: gi, OomScoreAdj: -997}},
		{"burstable", pod(res("250m", "2Gi", "", "")), v1.PodQOSBurstable, &runtimeapi.LinuxContainerResources{CpuShares: 256, OomScoreAdj: 500}},
		{"burstable, tiny memory request", pod(res("1m", "1", "", "")), v1.PodQOSBurstable, &runtimeapi.LinuxContainerResources{CpuShares: 2, OomScoreAdj: 999}},
		{"burstable, huge memory request", pod(res("", "8Gi", "", "")), v1.PodQOSBurstable, &runtimeapi.LinuxContainerResources{CpuShares: 2, OomScoreAdj: 3}},
		{"unequal requests", pod(res("100m", "1Gi", "200m", "1Gi")), v1.PodQOSBurstable,
			&runtimeapi.LinuxContainerResources{CpuShares: 102, CpuPeriod: 100000, CpuQuota: 20000, MemoryLimitInBytes: gi, OomScoreAdj: 750}},
	} {
		if got := qos.GetPodQOS(tc.pod); got != tc.qos {
			t.Errorf("%s: QoS %s, want %s", tc.name, got, tc.qos)
		}
		assertProto(t, tc.name, containerResources(tc.pod, &tc.pod.Spec.Containers[0], 4*gi), tc.want)
	}
}

// TestBackOff: the crash-loop and image pull back-off, upstream's
// flowcontrol.Backoff, with the timings and garbage collection the kubelet
// relies on.
func TestBackOff(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := testingclock.NewFakeClock(now)
	b := flowcontrol.NewFakeBackOff(time.Second, 4*time.Second, clock)
	if b.IsInBackOffSince("k", now) || b.IsInBackOffSinceUpdate("k", clock.Now()) {
		t.Fatal("in back-off without a failure")
	}
	b.Next("k", now)
	if !b.IsInBackOffSince("k", now) || b.Get("k") != time.Second {
		t.Errorf("after one failure: in back-off %v, delay %v", b.IsInBackOffSince("k", now), b.Get("k"))
	}
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 4 * time.Second} {
		b.Next("k", now)
		if got := b.Get("k"); got != want {
			t.Errorf("delay %v, want %v", got, want)
		}
	}
	now = now.Add(3 * time.Second)
	clock.SetTime(now)
	if !b.IsInBackOffSince("k", now.Add(-3*time.Second)) || b.IsInBackOffSince("k", now.Add(-5*time.Second)) {
		t.Error("back-off window wrong")
	}
	// Quiet for more than twice the maximum: start over.
	later := now.Add(time.Minute)
	b.Next("k", later)
	if b.Get("k") != time.Second {
		t.Errorf("delay after a quiet minute %v, want 1s", b.Get("k"))
	}
	// The sync loop's GC forgets a key quiet for twice the maximum, as it
	// forgets those of deleted pods.
	clock.SetTime(now.Add(9 * time.Second))
	b.GC()
	if b.Get("k") != 0 {
		t.Error("GC kept the key")
	}
}

func TestPodDNSConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(path, []byte("nameserver 1.1.1.1 # primary\nnameserver 8.8.8.8\nsearch a.example b.example\nsearch c.example\noptions ndots:5 edns0\n; comment\n"), 0o644)
	host, err := hostDNSConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	k := &Kubelet{hostDNS: host}
	assertProto(t, "default policy", k.podDNSConfig(&v1.Pod{}), &runtimeapi.DNSConfig{
		Servers: []string{"1.1.1.1", "8.8.8.8"}, Searches: []string{"c.example"}, Options: []string{"ndots:5", "edns0"},
	})
	two := "2"
	none := &v1.Pod{Spec: v1.PodSpec{DNSPolicy: v1.DNSNone, DNSConfig: &v1.PodDNSConfig{
		Nameservers: []string{"9.9.9.9"}, Searches: []string{"pod.example"},
		Options: []v1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "rotate"}},
	}}}
	assertProto(t, "None with dnsConfig", k.podDNSConfig(none), &runtimeapi.DNSConfig{
		Servers: []string{"9.9.9.9"}, Searches: []string{"pod.example"}, Options: []string{"ndots:2", "rotate"},
	})
	if cfg, err := hostDNSConfig(filepath.Join(t.TempDir(), "missing")); cfg != nil || err != nil {
		t.Errorf("missing resolv.conf: %v %v", cfg, err)
	}
}

func TestPodFieldValue(t *testing.T) {
	k := &Kubelet{nodeIP: "10.1.2.3"}
	pod := &v1.Pod{}
	pod.Name, pod.Namespace, pod.UID = "p", "ns", "u"
	pod.Labels = map[string]string{"b": "2", "a": "1"}
	pod.Annotations = map[string]string{"x": `q"uote`}
	pod.Spec.NodeName, pod.Spec.ServiceAccountName = "n", "sa"
	for path, want := range map[string]string{
		"metadata.name":                "p",
		"metadata.namespace":           "ns",
		"metadata.uid":                 "u",
		"metadata.labels":              "a=\"1\"\nb=\"2\"",
		"metadata.labels['a']":         "1",
		"metadata.annotations['x']":    `q"uote`,
		"metadata.annotations":         `x="q\"uote"`,
		"metadata.annotations['nope']": "",
		"spec.nodeName":                "n",
		"spec.serviceAccountName":      "sa",
		"status.hostIP":                "10.1.2.3",
		"status.podIPs":                "10.1.2.3",
	} {
		if got, err := k.podFieldValue(pod, path, "10.1.2.3"); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", path, got, err, want)
		}
	}
	if _, err := k.podFieldValue(pod, "spec.hostname", ""); err == nil || err.Error() != "unsupported fieldPath: spec.hostname" {
		t.Errorf("unsupported path: %v", err)
	}
}

// TestContainerAnnotations checks what a restarted kubelet reads back
// (labels.go newContainerAnnotations).
func TestContainerAnnotations(t *testing.T) {
	c := &v1.Container{Name: "c", Image: "i", TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: v1.TerminationMessageFallbackToLogsOnError,
		Ports:     []v1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: v1.ProtocolTCP}},
		Lifecycle: &v1.Lifecycle{PreStop: &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Path: "/quit", Port: intstr.FromInt32(80)}}},
	}
	pod := &v1.Pod{}
	pod.DeletionGracePeriodSeconds = ptrTo[int64](5)
	a := newContainerAnnotations(c, pod, 3)
	want := map[string]string{
		containerHashLabel:                     fmt.Sprintf("%x", hashContainer(c)),
		containerRestartCountLabel:             "3",
		containerTerminationMessagePathLabel:   "/dev/termination-log",
		containerTerminationMessagePolicyLabel: "FallbackToLogsOnError",
		podDeletionGracePeriodLabel:            "5",
		containerPortsLabel:                    `[{"name":"http","containerPort":80,"protocol":"TCP"}]`,
		containerPreStopHandlerLabel:           `{"httpGet":{"path":"/quit","port":80}}`,
	}
	if fmt.Sprint(a) != fmt.Sprint(want) {
		t.Errorf("annotations\n%v\nwant\n%v", a, want)
	}
}
