package fakecri

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
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
	pull := e.pull
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

// TestImageFields checks what ImageStatus and ListImages answer, field by
// field, as containerd's toCRIImage.
func TestImageFields(t *testing.T) {
	e := newEnv(t, t.TempDir())
	status := func(ref string, verbose bool) *runtimeapi.ImageStatusResponse {
		t.Helper()
		resp, err := e.is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Verbose: verbose})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	pull := e.pull
	// The user: a uid when numeric, else a user name, without the group.
	const tools = "gcr.io/k8s-staging-cri-tools/"
	for ref, want := range map[string]*runtimeapi.Image{
		tools + "test-image-user-uid":            {Uid: &runtimeapi.Int64Value{Value: 1002}},
		tools + "test-image-user-username":       {Username: "www-data"},
		tools + "test-image-user-uid-group":      {Uid: &runtimeapi.Int64Value{Value: 1003}},
		tools + "test-image-user-username-group": {Username: "www-data"},
		"registry.k8s.io/pause:3.10":             {Uid: &runtimeapi.Int64Value{Value: 65535}},
		"busybox":                                {},
	} {
		pull(ref)
		img := status(ref, false).Image
		if !proto.Equal(img.Uid, want.Uid) || img.Username != want.Username || img.Size == 0 {
			t.Errorf("%s: uid %v, username %q, size %d", ref, img.Uid, img.Username, img.Size)
		}
	}

	// Three tags of one image: one ID, three tags, one repo digest.
	id := pull(tools + "test-image-tags:1")
	if pull(tools+"test-image-tags:2") != id || pull(tools+"test-image-tags:3") != id {
		t.Fatal("the tags of one image pulled as different images")
	}
	img := status(id, false).Image
	if !slices.Equal(img.RepoTags, []string{tools + "test-image-tags:1", tools + "test-image-tags:2", tools + "test-image-tags:3"}) ||
		len(img.RepoDigests) != 1 || !strings.HasPrefix(img.RepoDigests[0], tools+"test-image-tags@sha256:") {
		t.Errorf("tags %q, digests %q", img.RepoTags, img.RepoDigests)
	}
	// Every reference finds the same image.
	for _, ref := range append(slices.Clone(img.RepoTags), img.RepoDigests[0], strings.TrimPrefix(id, "sha256:")) {
		if got := status(ref, false).Image; !proto.Equal(got, img) {
			t.Errorf("status of %q: %v, want %v", ref, got, img)
		}
	}

	// A digest pull: that digest, no tag.
	const byDigest = tools + "test-image-digest@sha256:9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf"
	pull(byDigest)
	if img := status(byDigest, false).Image; len(img.RepoTags) != 0 || !slices.Equal(img.RepoDigests, []string{byDigest}) {
		t.Errorf("by digest: tags %q, digests %q", img.RepoTags, img.RepoDigests)
	}

	// Verbose: the configuration, as crictl inspecti shows it.
	info := status("busybox", true).Info["info"]
	var v struct {
		ChainID   string        `json:"chainID"`
		ImageSpec ocispec.Image `json:"imageSpec"`
	}
	if err := json.Unmarshal([]byte(info), &v); err != nil || !strings.HasPrefix(v.ChainID, "sha256:") ||
		!slices.Equal(v.ImageSpec.Config.Cmd, []string{"sh"}) || v.ImageSpec.Config.Env[0] != "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" {
		t.Errorf("verbose info %q: %v", info, err)
	}

	// A pull the client's deadline ends.
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	_, err := e.is.PullImage(short, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "nginx"}})
	if grpcstatus.Code(err) != codes.DeadlineExceeded {
		t.Errorf("pull with a 1 ms deadline: %v", err)
	}
}

// TestUnknownImages checks the two answers to an image the catalogue does
// not know: a generic image, or containerd's not-found.
func TestUnknownImages(t *testing.T) {
	root := t.TempDir()
	rt, err := New(Config{Root: root, UnknownImages: UnknownImagesNotFound, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	s := NewService(rt, nil)
	_, err = s.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "nosuch"}})
	wantCode(t, err, codes.NotFound, `failed to pull and unpack image "docker.io/library/nosuch:latest": failed to resolve reference `+
		`"docker.io/library/nosuch:latest": docker.io/library/nosuch:latest: not found`)
	if _, err := s.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox:1.36"}}); err != nil {
		t.Errorf("a known image: %v", err)
	}

	generic, err := New(Config{Root: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer generic.Close()
	resp, err := NewService(generic, nil).PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "nosuch"}})
	if err != nil || !strings.HasPrefix(resp.ImageRef, "sha256:") {
		t.Errorf("generic: %v, %v", resp, err)
	}
	if _, err := New(Config{Root: t.TempDir(), UnknownImages: "maybe"}); err == nil || err.Error() != `fakecri: unknown images "maybe": want "generic" or "not-found"` {
		t.Errorf("a bad policy: %v", err)
	}
}

// pull pulls ref and returns the image's ID.
func (e *env) pull(ref string) string {
	e.t.Helper()
	resp, err := e.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.ImageRef
}
