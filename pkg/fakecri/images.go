package fakecri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/fakecri/catalog"
)

// pullTime is how long a pull takes: a real one asks the registry even for
// an image it has, and a client's deadline can run out meanwhile.
const pullTime = 20 * time.Millisecond

// image is a pulled image, what containerd's image store keeps of one
// (internal/cri/store/image: ID, references, size, configuration). Nothing
// is downloaded: the catalogue says what an image is.
type image struct {
	ID          string        `json:"id"`
	RepoTags    []string      `json:"repoTags,omitempty"`
	RepoDigests []string      `json:"repoDigests,omitempty"`
	Size        int64         `json:"size"`
	Spec        ocispec.Image `json:"spec"`
	// Ref is the reference the image was first pulled as: it finds the
	// image's catalogue entry, and so its files.
	Ref string `json:"ref"`
}

// toCRI is containerd's toCRIImage (internal/cri/server/images/image_status.go).
func (img image) toCRI() *runtimeapi.Image {
	out := &runtimeapi.Image{
		Id:          img.ID,
		RepoTags:    slices.Clone(img.RepoTags),
		RepoDigests: slices.Clone(img.RepoDigests),
		Size:        uint64(img.Size),
	}
	uid, username := imageUser(img.Spec.Config.User)
	if uid != nil {
		out.Uid = &runtimeapi.Int64Value{Value: *uid}
	}
	out.Username = username
	return out
}

// imageUser is containerd's getUserFromImage: the user part of "user:group",
// a uid if numeric, else a user name.
func imageUser(user string) (*int64, string) {
	if user == "" {
		return nil, ""
	}
	user, _, _ = strings.Cut(user, ":")
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		return nil, user
	}
	return &uid, ""
}

// verboseInfo is what a verbose ImageStatus adds, as containerd's
// verboseImageInfo: the chain ID of the layers and the configuration.
func (img image) verboseInfo() (map[string]string, error) {
	var chain digest.Digest
	for i, d := range img.Spec.RootFS.DiffIDs {
		chain = d
		if i > 0 {
			chain = digest.FromString(chain.String() + " " + d.String())
		}
	}
	b, err := json.Marshal(struct {
		ChainID   string        `json:"chainID"`
		ImageSpec ocispec.Image `json:"imageSpec"`
	}{chain.String(), img.Spec})
	if err != nil {
		return nil, fmt.Errorf("failed to marshal image info %q: %w", img.ID, err)
	}
	return map[string]string{"info": string(b)}, nil
}

// imageStore is the list of pulled images, kept in one JSON file.
type imageStore struct {
	path    string
	unknown UnknownImagePolicy

	mu     sync.Mutex
	images map[string]image // by ID
}

func loadImages(path string, unknown UnknownImagePolicy) (*imageStore, error) {
	s := &imageStore{path: path, unknown: unknown, images: map[string]image{}}
	var list []image
	if err := readJSON(path, &list); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read images: %w", err)
	}
	for _, img := range list {
		if img.Ref == "" {
			// Kept by a fake-cri that knew no images: its content now,
			// under the ID that its containers still name.
			img.Ref = slices.Concat(img.RepoTags, img.RepoDigests)[0]
			c := entry(img.Ref).Content(img.Ref)
			img.Spec, img.Size = c.Spec, c.Size
		}
		s.images[img.ID] = img
	}
	return s, nil
}

// entry is the catalogue's image for a normalised reference, else a
// generic one.
func entry(name string) catalog.Image {
	if img, ok := catalog.Lookup(name); ok {
		return img
	}
	return catalog.Generic(name)
}

// save writes the list; s.mu is held.
func (s *imageStore) save() error {
	return writeJSON(s.path, s.listLocked())
}

func (s *imageStore) listLocked() []image {
	return slices.SortedFunc(maps.Values(s.images), func(a, b image) int { return strings.Compare(a.ID, b.ID) })
}

// pull records the image ref names and returns it, as containerd's
// PullImage: a tag gives the image that tag and a repo digest (its
// manifest's), a digest gives it that digest. An image the catalogue does
// not know is generic, or not found, by the store's policy.
func (s *imageStore) pull(ctx context.Context, ref string) (image, error) {
	name, err := normalizeReference(ref)
	if err != nil {
		return image{}, fmt.Errorf("failed to parse image reference %q: %w: %w", ref, err, errInvalidArgument)
	}
	known, ok := catalog.Lookup(name)
	if !ok && s.unknown == UnknownImagesNotFound {
		// What containerd's resolver answers for a reference its registry
		// lacks (client/pull.go, core/remotes/docker/resolver.go).
		return image{}, fmt.Errorf("failed to pull and unpack image %q: failed to resolve reference %q: %s: %w", name, name, name, errNotFound)
	}
	if !ok {
		known = catalog.Generic(name)
	}
	timer := time.NewTimer(pullTime)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return image{}, fmt.Errorf("failed to pull and unpack image %q: %w", name, ctx.Err())
	case <-timer.C:
	}
	content := known.Content(name)
	repo, _, isDigest := catalog.SplitReference(name)

	s.mu.Lock()
	defer s.mu.Unlock()
	before := maps.Clone(s.images)
	img, ok := s.images[content.ID]
	if !ok {
		img = image{ID: content.ID, Size: content.Size, Spec: content.Spec, Ref: name}
	}
	if isDigest {
		img.RepoDigests = addRef(img.RepoDigests, name)
	} else {
		img.RepoTags = addRef(img.RepoTags, name)
		img.RepoDigests = addRef(img.RepoDigests, repo+"@"+content.Manifest)
		// A tag names one image: another that had it loses it.
		for id, other := range s.images {
			if id != img.ID && slices.Contains(other.RepoTags, name) {
				other.RepoTags = slices.DeleteFunc(slices.Clone(other.RepoTags), func(t string) bool { return t == name })
				s.images[id] = other
			}
		}
	}
	s.images[img.ID] = img
	if err := s.save(); err != nil {
		s.images = before
		return image{}, fmt.Errorf("failed to record image %q: %w", name, err)
	}
	return img, nil
}

// addRef adds ref to a sorted list of references, once.
func addRef(refs []string, ref string) []string {
	if slices.Contains(refs, ref) {
		return refs
	}
	refs = append(slices.Clone(refs), ref)
	slices.Sort(refs)
	return refs
}

// resolve finds an image by ID ("sha256:<hex>" or the bare hex) or by any
// of its references, as containerd's LocalResolve.
func (s *imageStore) resolve(refOrID string) (image, bool) {
	switch {
	case hexIDRegexp.MatchString(refOrID):
		return s.get("sha256:" + refOrID)
	case strings.HasPrefix(refOrID, "sha256:"):
		return s.get(refOrID)
	}
	name, err := normalizeReference(refOrID)
	if err != nil {
		return image{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, img := range s.images {
		if slices.Contains(img.RepoTags, name) || slices.Contains(img.RepoDigests, name) {
			return img, true
		}
	}
	return image{}, false
}

func (s *imageStore) get(id string) (image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, ok := s.images[id]
	return img, ok
}

// remove forgets the image refOrID names, with all its names. Removing an
// image that is not there is no error.
func (s *imageStore) remove(refOrID string) error {
	img, ok := s.resolve(refOrID)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.images, img.ID)
	if err := s.save(); err != nil {
		return fmt.Errorf("failed to remove image %q: %w", refOrID, err)
	}
	return nil
}

// list returns the images, or only the one filter names.
func (s *imageStore) list(filter string) []image {
	if filter != "" {
		if img, ok := s.resolve(filter); ok {
			return []image{img}
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listLocked()
}
