package fakecri

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/fakecri/catalog"
)

func TestNormalizeReference(t *testing.T) {
	const digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	for _, tc := range []struct{ in, want string }{
		{"busybox", "docker.io/library/busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36"},
		{"library/busybox", "docker.io/library/busybox:latest"},
		{"docker.io/busybox", "docker.io/library/busybox:latest"},
		{"index.docker.io/library/busybox", "docker.io/library/busybox:latest"},
		{"someone/tool", "docker.io/someone/tool:latest"},
		{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"},
		{"localhost/app", "localhost/app:latest"},
		{"localhost:5000/app:v1", "localhost:5000/app:v1"},
		{"[::1]:5000/app", "[::1]:5000/app:latest"},
		{"Example.COM/app", "Example.COM/app:latest"},
		{"quay.io/a/b/c", "quay.io/a/b/c:latest"},
		{"busybox@" + digest, "docker.io/library/busybox@" + digest},
		{"busybox:1.36@" + digest, "docker.io/library/busybox@" + digest},
		{"echoserver", "docker.io/library/echoserver:latest"},
	} {
		got, err := normalizeReference(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalizeReference(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "BusyBox", "busybox:", "busybox::1", ":tag", "a//b", "-a", "busybox@sha256:abc",
		strings.Repeat("a", 64), "docker.io/" + strings.Repeat("a", 250), "a b", "busybox:" + strings.Repeat("t", 129)} {
		if got, err := normalizeReference(in); !errors.Is(err, errInvalidReference) {
			t.Errorf("normalizeReference(%q) = %q, %v; want invalid", in, got, err)
		}
	}
}

// FuzzNormalizeReference checks that any string is either refused or made
// into a reference that normalises to itself.
func FuzzNormalizeReference(f *testing.F) {
	for _, s := range []string{"busybox", "registry.k8s.io/pause:3.10", "localhost:5000/a/b@sha256:0123456789abcdef0123456789abcdef", "[::1]/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		got, err := normalizeReference(ref)
		if err != nil {
			return
		}
		again, err := normalizeReference(got)
		if err != nil || again != got {
			t.Errorf("normalizeReference(%q) = %q, which normalises to %q, %v", ref, got, again, err)
		}
	})
}

func TestImages(t *testing.T) {
	e := newEnv(t, t.TempDir())
	pull := func(ref string) string {
		t.Helper()
		resp, err := e.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.ImageRef
	}
	status := func(ref string) *runtimeapi.Image {
		t.Helper()
		resp, err := e.is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Image
	}

	if img := status("docker.io/library/alpine"); img != nil {
		t.Errorf("status of an image never pulled: %v, want none", img)
	}
	busybox, _ := catalog.Lookup("docker.io/library/busybox:latest")
	content := busybox.Content("docker.io/library/busybox:latest")
	id := pull("busybox")
	if id != content.ID || len(id) != len("sha256:")+64 {
		t.Errorf("pulled busybox as %q", id)
	}
	if again := pull("docker.io/library/busybox:latest"); again != id {
		t.Errorf("the same image pulled again is %q, was %q", again, id)
	}
	want := &runtimeapi.Image{Id: id, RepoTags: []string{"docker.io/library/busybox:latest"},
		RepoDigests: []string{"docker.io/library/busybox@" + content.Manifest}, Size: uint64(content.Size)}
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", id, strings.TrimPrefix(id, "sha256:")} {
		if img := status(ref); !proto.Equal(img, want) {
			t.Errorf("status of %q: %v, want %v", ref, img, want)
		}
	}
	pause := pull("registry.k8s.io/pause:3.10")
	list, err := e.is.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil || len(list.Images) != 2 {
		t.Fatalf("listed %v, %v", list, err)
	}
	list, err = e.is.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/pause:3.10"}}})
	if err != nil || len(list.Images) != 1 || list.Images[0].Id != pause {
		t.Errorf("listed pause as %v, %v", list, err)
	}

	_, err = e.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "Not/Valid"}})
	wantCode(t, err, codes.InvalidArgument, `failed to parse image reference "Not/Valid": repository name (Valid) must be lowercase: invalid reference format: invalid argument`)

	// A container's image must have been pulled; its status names the tag.
	sb := e.runPod("p")
	cfg := containerConfig("p", "c", "true")
	cfg.Image.Image = "registry.k8s.io/e2e/agnhost:2.40"
	_, err = e.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb, Config: cfg})
	wantCode(t, err, codes.NotFound, `failed to resolve image "registry.k8s.io/e2e/agnhost:2.40": not found`)
	cfg = containerConfig("p", "d", "true")
	cfg.Image.Image = pause // by ID, as the kubelet passes it
	if st := e.status(e.create(sb, "p", cfg)); st.Image.Image != "registry.k8s.io/pause:3.10" || st.ImageRef != pause {
		t.Errorf("image %v, ref %q", st.Image, st.ImageRef)
	}
	cfg = containerConfig("p", "e", "true")
	cfg.Image.Image = digest.FromString("never").String()
	_, err = e.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb, Config: cfg})
	wantCode(t, err, codes.NotFound, `failed to resolve image "`+cfg.Image.Image+`": not found`)

	for range 2 {
		if _, err := e.is.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
			t.Fatal(err)
		}
	}
	if img := status(id); img != nil {
		t.Errorf("removed image still there: %v", img)
	}

	fs, err := e.is.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil || len(fs.ImageFilesystems) != 1 || fs.ImageFilesystems[0].FsId.Mountpoint != e.root ||
		fs.ImageFilesystems[0].UsedBytes.Value == 0 || fs.ImageFilesystems[0].InodesUsed.Value == 0 || fs.ImageFilesystems[0].Timestamp == 0 {
		t.Errorf("ImageFsInfo: %v, %v", fs, err)
	}
}

// catalogueID is the ID of the catalogue's image ref names.
func catalogueID(ref string) string {
	img, _ := catalog.Lookup(ref)
	return img.Content(ref).ID
}
