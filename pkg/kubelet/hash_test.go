package kubelet

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

// TestHashContainer pins the value upstream's TestHashContainer
// (pkg/kubelet/container/helpers_test.go) expects since the hash covers only
// name and image: a kubelet that restarts must recognise its own containers.
func TestHashContainer(t *testing.T) {
	c := v1.Container{
		Name:  "test_container",
		Image: "foo/image:v1",
		Args:  []string{"/bin/sh", "-c", "echo abc"},
		Ports: []v1.ContainerPort{{ContainerPort: 8001}},
	}
	if got, want := hashContainer(&c), uint64(0x8e45cbd0); got != want {
		t.Errorf("hashContainer = %#x, want %#x", got, want)
	}
	c.Args = nil
	if got, want := hashContainer(&c), uint64(0x8e45cbd0); got != want {
		t.Errorf("hash changed with the args: %#x", got)
	}
	c.Image = "foo/image:v2"
	if hashContainer(&c) == 0x8e45cbd0 {
		t.Error("hash did not change with the image")
	}
}
