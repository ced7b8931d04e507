// Package catalog lists the images the fake runtime knows, and says what
// any image is made of: its OCI configuration, the manifest that names it
// and the programs its files run on the fake.
//
// A known image has the configuration the real image has (entrypoint,
// command, working directory, user, environment, stop signal), each entry
// citing where that comes from, and its executable files: busybox's applets
// where the image has busybox, the Go stand-ins of pkg/fakecri/imagebin
// (agnhost, nginx, httpd, pause) and a few of the host's binaries (python3).
// An image the catalogue does not know is generic: an empty configuration
// and no files of its own.
//
// Nothing is downloaded. An image's configuration is built here, and its ID
// is the SHA-256 of that configuration's JSON, as a real image's ID is the
// digest of its config blob; its repo digest is the digest of a manifest
// built the same way. So IDs are stable and content-addressed, but they are
// not the registry's.
//
//	catalog.go   Image, Program, Lookup and Generic; Content: the config, the
//	             manifest, their digests and the size (what containerd's
//	             internal/cri/store/image records of a pulled image)
//	images.go    the entries, each with its sources
package catalog

import (
	"encoding/json"
	"runtime"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BusyboxLayout says where an image keeps busybox's applets.
type BusyboxLayout int

const (
	// NoBusybox: the image has no busybox.
	NoBusybox BusyboxLayout = iota
	// BusyboxInBin: every applet in /bin, and /usr/bin/env, as
	// docker-library/busybox installs them (`busybox --install /bin`).
	BusyboxInBin
	// BusyboxListed: each applet where `busybox --list-full` puts it, as
	// Alpine installs them (`busybox --install -s`).
	BusyboxListed
)

// Kind is what runs a program of an image on the fake.
type Kind int

const (
	// Applet is the busybox applet Name.
	Applet Kind = iota + 1
	// ImageBin is the program Name of pkg/fakecri/imagebin.
	ImageBin
	// Host is the host's binary Name, from /usr/local/bin, /usr/bin or /bin.
	Host
)

// Program is what one executable file of an image runs.
type Program struct {
	Kind Kind
	Name string
}

// Image is an entry of the catalogue.
type Image struct {
	// Repository is the normalised name without tag or digest, as
	// "docker.io/library/busybox".
	Repository string
	// Tags are the tags this entry is, all one image. With none it is every
	// tag and digest of the repository, each a distinct image of the same
	// configuration.
	Tags []string
	// Config is the image's configuration as the real image has it.
	Config ocispec.ImageConfig
	// Layer says what the image's one layer holds; its diff ID is the digest
	// of these words.
	Layer string
	// LayerSize is the compressed size of the real image's layers, in
	// bytes.
	LayerSize int64
	// Busybox says whether and where the image has busybox's applets.
	Busybox BusyboxLayout
	// Files are the image's other executables: path in the image → program.
	Files map[string]Program
	// Source says where Config comes from.
	Source string
}

// Known reports whether the entry is from the catalogue, not Generic.
func (img Image) Known() bool { return img.Source != "" }

// All lists the catalogue.
func All() []Image { return slices.Clone(images) }

// Lookup finds the entry for a normalised reference
// ("docker.io/library/busybox:latest" or "…@sha256:…").
func Lookup(ref string) (Image, bool) {
	repo, tag, isDigest := SplitReference(ref)
	for _, img := range images {
		if img.Repository != repo {
			continue
		}
		if len(img.Tags) == 0 || (!isDigest && slices.Contains(img.Tags, tag)) {
			return img, true
		}
	}
	return Image{}, false
}

// Generic is the image of a reference the catalogue does not know: no
// configuration, no files, and a layer of its own, so that every reference
// is a distinct image.
func Generic(ref string) Image {
	repo, _, _ := SplitReference(ref)
	return Image{Repository: repo, Layer: "an image of " + ref + " that the fake runtime does not know"}
}

// SplitReference cuts a normalised reference into its repository and its
// tag or digest.
func SplitReference(ref string) (repo, tagOrDigest string, isDigest bool) {
	if r, d, ok := strings.Cut(ref, "@"); ok {
		return r, d, true
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:], false
	}
	return ref, "", false
}

// Content is what a registry serves for an image, as containerd records a
// pulled image (internal/cri/store/image: ID, ImageSpec, Size) and names it
// (its repo digest is the manifest's).
type Content struct {
	// Spec is the OCI image configuration.
	Spec ocispec.Image
	// ID is the digest of Spec's JSON: the image ID.
	ID string
	// Manifest is the digest of the image manifest.
	Manifest string
	// Size counts the manifest, the configuration and the layers.
	Size int64
}

// Content builds what a registry would serve for img pulled as ref. Entries
// with a list of tags are one image whatever the tag; the others are one
// image per tag or digest.
func (img Image) Content(ref string) Content {
	layer := img.Layer
	if len(img.Tags) == 0 {
		_, which, _ := SplitReference(ref)
		layer += " (" + which + ")"
	}
	diffID := digest.FromString(layer)
	spec := ocispec.Image{
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   img.Config,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	}
	config := mustJSON(spec)
	manifest := mustJSON(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))},
		Layers: []ocispec.Descriptor{{
			MediaType: ocispec.MediaTypeImageLayerGzip,
			// The compressed layer's digest, which differs from its diff ID.
			Digest: digest.FromString("gzip " + layer),
			Size:   img.LayerSize,
		}},
	})
	return Content{
		Spec:     spec,
		ID:       digest.FromBytes(config).String(),
		Manifest: digest.FromBytes(manifest).String(),
		Size:     int64(len(manifest)+len(config)) + img.LayerSize,
	}
}

// mustJSON marshals what cannot fail to marshal: plain structs of strings.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
