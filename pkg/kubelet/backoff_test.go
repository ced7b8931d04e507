package kubelet

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
)

// newTestKubelet is a Kubelet of cfg that is never run.
func newTestKubelet(t *testing.T, cfg Config) *Kubelet {
	t.Helper()
	cfg.NodeName, cfg.Client, cfg.RuntimeEndpoint, cfg.RootDir = "n", fake.NewClientset(), "unix:///unused.sock", t.TempDir()
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestCrashLoopBackOffDefaults: upstream's timings, 10s doubling to 5m,
// forgotten after ten minutes of running; the image pull back-off likewise.
func TestCrashLoopBackOffDefaults(t *testing.T) {
	k := newTestKubelet(t, Config{})
	clock := testingclock.NewFakeClock(time.Unix(1e6, 0))
	k.crashBackOff.Clock, k.imageBackOff.Clock = clock, clock
	for _, tc := range []struct {
		name string
		next func(time.Time)
		get  func() time.Duration
	}{
		{"crash loop", func(at time.Time) { k.crashBackOff.Next("c", at) }, func() time.Duration { return k.crashBackOff.Get("c") }},
		{"image pull", func(at time.Time) { k.imageBackOff.Next("i", at) }, func() time.Duration { return k.imageBackOff.Get("i") }},
	} {
		var got []time.Duration
		for range 7 {
			clock.Step(time.Second)
			tc.next(clock.Now())
			got = append(got, tc.get())
		}
		want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
		if !slices.Equal(got, want) {
			t.Errorf("%s: delays %v, want %v", tc.name, got, want)
		}
	}
	// Restarted (the last Next), a container that crashes nine minutes on
	// stays at the cap; one that ran ten minutes and more starts over.
	restarted := clock.Now()
	k.crashBackOff.Next("c", restarted.Add(9*time.Minute))
	if got := k.crashBackOff.Get("c"); got != 300*time.Second {
		t.Errorf("after nine minutes of running: %v, want 5m0s", got)
	}
	clock.Step(time.Minute) // restarted again
	k.crashBackOff.Next("c", clock.Now().Add(10*time.Minute+time.Second))
	if got := k.crashBackOff.Get("c"); got != 10*time.Second {
		t.Errorf("after ten minutes of running: %v, want 10s", got)
	}
}

// TestMaxContainerRestartPeriod: the configuration file's cap (KEP-4603)
// shortens the crash-loop back-off, and its start when shorter than 10s;
// the reset stays at ten minutes and the image pull back-off at upstream's.
func TestMaxContainerRestartPeriod(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const header = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
	for _, tc := range []struct {
		period      string
		first, last time.Duration
	}{
		{"4s", 4 * time.Second, 4 * time.Second},
		{"30s", 10 * time.Second, 30 * time.Second},
	} {
		var cfg Config
		if err := LoadConfigFile(write(header+"crashLoopBackOff:\n  maxContainerRestartPeriod: "+tc.period+"\n"), &cfg); err != nil {
			t.Fatal(err)
		}
		k := newTestKubelet(t, cfg)
		clock := testingclock.NewFakeClock(time.Unix(1e6, 0))
		k.crashBackOff.Clock = clock
		var got []time.Duration
		for range 4 {
			k.crashBackOff.Next("c", clock.Now())
			got = append(got, k.crashBackOff.Get("c"))
		}
		if got[0] != tc.first || got[3] != tc.last {
			t.Errorf("maxContainerRestartPeriod %s: delays %v, want from %v to %v", tc.period, got, tc.first, tc.last)
		}
		// Quiet for twice the cap, the entry stays: only ten minutes reset it.
		clock.Step(2*tc.last + time.Second)
		k.crashBackOff.GC()
		if !k.crashBackOff.IsInBackOffSince("c", clock.Now()) {
			t.Errorf("maxContainerRestartPeriod %s: back-off forgotten after %v", tc.period, 2*tc.last+time.Second)
		}
		k.imageBackOff.Next("i", clock.Now())
		if got := k.imageBackOff.Get("i"); got != 10*time.Second {
			t.Errorf("maxContainerRestartPeriod %s: image pull back-off %v, want 10s", tc.period, got)
		}
	}

	for body, want := range map[string]string{
		header + "crashLoopBackOff:\n  maxContainerRestartPeriod: 500ms\n": "kubelet config " + filepath.Join(dir, "config.yaml") + ": crashLoopBackOff.maxContainerRestartPeriod 500ms: want 1s to 5m0s",
		header + "crashLoopBackOff:\n  maxContainerRestartPeriod: 6m\n":    "kubelet config " + filepath.Join(dir, "config.yaml") + ": crashLoopBackOff.maxContainerRestartPeriod 6m0s: want 1s to 5m0s",
		header + "crashLoopBackof:\n  maxContainerRestartPeriod: 6m\n":     "kubelet config " + filepath.Join(dir, "config.yaml") + `: error unmarshaling JSON: while decoding JSON: json: unknown field "crashLoopBackof"`,
		"apiVersion: v1\nkind: Config\n":                                   "kubelet config " + filepath.Join(dir, "config.yaml") + `: apiVersion "v1", kind "Config": want kubelet.config.k8s.io/v1beta1, KubeletConfiguration`,
	} {
		var cfg Config
		if err := LoadConfigFile(write(body), &cfg); err == nil || err.Error() != want {
			t.Errorf("LoadConfigFile(%q) = %v\nwant %s", body, err, want)
		}
	}
	if _, err := New(Config{NodeName: "n", Client: fake.NewClientset(), RuntimeEndpoint: "unix:///x", RootDir: dir, MaxContainerRestartPeriod: time.Millisecond}); err == nil ||
		err.Error() != "kubelet: crashLoopBackOff.maxContainerRestartPeriod 1ms: want 1s to 5m0s" {
		t.Errorf("New with a 1ms cap: %v", err)
	}
}
