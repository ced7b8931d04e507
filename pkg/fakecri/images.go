package fakecri

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// image is a pulled image. Nothing is downloaded: an image is its name.
type image struct {
	ID          string   `json:"id"`
	RepoTags    []string `json:"repoTags,omitempty"`
	RepoDigests []string `json:"repoDigests,omitempty"`
}

func (img image) toCRI() *runtimeapi.Image {
	return &runtimeapi.Image{
		Id:          img.ID,
		RepoTags:    slices.Clone(img.RepoTags),
		RepoDigests: slices.Clone(img.RepoDigests),
	}
}

// imageStore is the list of pulled images, kept in one JSON file.
type imageStore struct {
	path string

	mu     sync.Mutex
	images map[string]image // by ID
}

func loadImages(path string) (*imageStore, error) {
	s := &imageStore{path: path, images: map[string]image{}}
	var list []image
	if err := readJSON(path, &list); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read images: %w", err)
	}
	for _, img := range list {
		s.images[img.ID] = img
	}
	return s, nil
}

// save writes the list; s.mu is held.
func (s *imageStore) save() error {
	return writeJSON(s.path, s.listLocked())
}

func (s *imageStore) listLocked() []image {
	list := make([]image, 0, len(s.images))
	for _, img := range s.images {
		list = append(list, img)
	}
	slices.SortFunc(list, func(a, b image) int { return strings.Compare(a.ID, b.ID) })
	return list
}

// imageID is the stable ID of a normalised reference: the same name always
// gives the same image, across pulls and restarts.
func imageID(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pull records the image ref names and returns it.
func (s *imageStore) pull(ref string) (image, error) {
	name, err := normalizeReference(ref)
	if err != nil {
		return image{}, fmt.Errorf("failed to parse image reference %q: %w: %w", ref, err, errInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img := image{ID: imageID(name)}
	if strings.Contains(name, "@") {
		img.RepoDigests = []string{name}
	} else {
		img.RepoTags = []string{name}
	}
	if old, ok := s.images[img.ID]; ok {
		return old, nil
	}
	s.images[img.ID] = img
	if err := s.save(); err != nil {
		delete(s.images, img.ID)
		return image{}, fmt.Errorf("failed to record image %q: %w", name, err)
	}
	return img, nil
}

// resolve finds an image by reference or by ID ("sha256:<hex>" or the bare
// hex), as containerd's LocalResolve.
func (s *imageStore) resolve(refOrID string) (image, bool) {
	id := refOrID
	if hexIDRegexp.MatchString(refOrID) {
		id = "sha256:" + refOrID
	} else if !strings.HasPrefix(refOrID, "sha256:") {
		name, err := normalizeReference(refOrID)
		if err != nil {
			return image{}, false
		}
		id = imageID(name)
	}
	return s.get(id)
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
