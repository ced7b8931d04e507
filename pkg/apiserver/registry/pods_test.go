package registry

import (
	"testing"
)

func TestImageTag(t *testing.T) {
	for image, want := range map[string]string{
		"busybox": "latest", "busybox:1.36": "1.36", "registry:5000/busybox": "latest",
		"registry:5000/busybox:v1": "v1", "busybox@sha256:abc": "", "busybox:1@sha256:abc": "1",
	} {
		if got := imageTag(image); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", image, got, want)
		}
	}
}
