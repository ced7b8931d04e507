package catalog

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want string // the entry's repository; "" for none
	}{
		{"docker.io/library/busybox:latest", "docker.io/library/busybox"},
		{"docker.io/library/busybox:1.36", "docker.io/library/busybox"},
		{"docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io/library/busybox"},
		{"registry.k8s.io/e2e-test-images/agnhost:2.56", "registry.k8s.io/e2e-test-images/agnhost"},
		{"gcr.io/k8s-staging-cri-tools/test-image-tags:2", "gcr.io/k8s-staging-cri-tools/test-image-tags"},
		// An entry with a tag list is only those tags.
		{"gcr.io/k8s-staging-cri-tools/test-image-tags:4", ""},
		{"gcr.io/k8s-staging-cri-tools/test-image-tags@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""},
		{"docker.io/library/busybox-extra:latest", ""},
		{"example.com/busybox:latest", ""},
	} {
		img, ok := Lookup(tc.ref)
		if got := map[bool]string{true: img.Repository}[ok]; got != tc.want || ok != img.Known() {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.ref, got, ok, tc.want)
		}
	}
}

// TestContent checks that IDs are content addresses: the tags an entry
// lists are one image, other tags and other entries are others, and the
// same reference always gives the same ID.
func TestContent(t *testing.T) {
	id := func(ref string) Content {
		t.Helper()
		img, ok := Lookup(ref)
		if !ok {
			img = Generic(ref)
		}
		return img.Content(ref)
	}
	const tags = "gcr.io/k8s-staging-cri-tools/test-image-tags:"
	if a, b := id(tags+"1"), id(tags+"3"); a.ID != b.ID || a.Manifest != b.Manifest {
		t.Errorf("test-image-tags:1 and :3 are %s and %s, want one image", a.ID, b.ID)
	}
	seen := map[string]string{}
	for _, ref := range []string{
		"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36",
		"gcr.io/k8s-staging-cri-tools/test-image-1:latest", "gcr.io/k8s-staging-cri-tools/test-image-2:latest",
		"gcr.io/k8s-staging-cri-tools/test-image-tag:test", "gcr.io/k8s-staging-cri-tools/test-image-tag:all",
		"example.com/app:1", "example.com/app:2",
	} {
		c := id(ref)
		if other, ok := seen[c.ID]; ok {
			t.Errorf("%s and %s are both %s", ref, other, c.ID)
		}
		seen[c.ID] = ref
		if again := id(ref); again.ID != c.ID || again.Manifest != c.Manifest {
			t.Errorf("%s: ID %s, then %s", ref, c.ID, again.ID)
		}
		if !strings.HasPrefix(c.ID, "sha256:") || len(c.ID) != 71 || !strings.HasPrefix(c.Manifest, "sha256:") || c.Size <= 0 {
			t.Errorf("%s: ID %q, manifest %q, size %d", ref, c.ID, c.Manifest, c.Size)
		}
	}
	busybox := id("docker.io/library/busybox:latest")
	if cfg := busybox.Spec.Config; !slices.Equal(cfg.Cmd, []string{"sh"}) || len(cfg.Entrypoint) != 0 ||
		!slices.Equal(cfg.Env, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}) ||
		busybox.Spec.OS != "linux" || busybox.Spec.RootFS.Type != "layers" || len(busybox.Spec.RootFS.DiffIDs) != 1 ||
		busybox.Size < 2211398 {
		t.Errorf("busybox: %+v, size %d", busybox.Spec, busybox.Size)
	}
	if g := id("example.com/app:1"); g.Spec.Config.Cmd != nil || g.Spec.Config.Entrypoint != nil || g.Spec.Config.Env != nil {
		t.Errorf("a generic image has a configuration: %+v", g.Spec.Config)
	}
}

// TestEntries checks what every entry must have, and that the docs list
// each repository.
func TestEntries(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/fake-runtime.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range All() {
		if img.Source == "" || img.Layer == "" || img.LayerSize <= 0 {
			t.Errorf("%s: source %q, layer %q, size %d", img.Repository, img.Source, img.Layer, img.LayerSize)
		}
		if len(img.Config.Entrypoint)+len(img.Config.Cmd) == 0 {
			t.Errorf("%s runs nothing", img.Repository)
		}
		if img.Busybox == NoBusybox && len(img.Files) == 0 {
			t.Errorf("%s has no programs", img.Repository)
		}
		for path, p := range img.Files {
			if !strings.HasPrefix(path, "/") || p.Kind == 0 || p.Name == "" {
				t.Errorf("%s: file %q runs %+v", img.Repository, path, p)
			}
		}
		name := img.Repository
		switch {
		case strings.HasPrefix(name, criTools+"test-image-"):
			name = criTools + "test-image-*"
		case name == criTools+"hostnet-nginx-amd64":
			name = "hostnet-nginx-amd64"
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/fake-runtime.md does not list %s", name)
		}
	}
}
