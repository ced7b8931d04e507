package fakecri

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func (s *Service) ListImages(_ context.Context, r *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	var out []*runtimeapi.Image
	for _, img := range s.rt.images.list(r.GetFilter().GetImage().GetImage()) {
		out = append(out, img.toCRI())
	}
	return &runtimeapi.ListImagesResponse{Images: out}, nil
}

// ImageStatus of an image that is not there answers no image and no error,
// as CRI asks. Verbose adds the image's configuration.
func (s *Service) ImageStatus(_ context.Context, r *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	img, ok := s.rt.images.resolve(r.GetImage().GetImage())
	if !ok {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	var info map[string]string
	if r.GetVerbose() {
		var err error
		if info, err = img.verboseInfo(); err != nil {
			return nil, toStatus(err)
		}
	}
	return &runtimeapi.ImageStatusResponse{Image: img.toCRI(), Info: info}, nil
}

// PullImage "pulls" an image of the catalogue, or any valid reference as a
// generic image unless the runtime refuses unknown images: there is no
// registry.
func (s *Service) PullImage(ctx context.Context, r *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	img, err := s.rt.images.pull(ctx, r.GetImage().GetImage())
	if err != nil {
		return nil, toStatus(err)
	}
	s.rt.log.Info("image pulled", "image", r.GetImage().GetImage(), "id", img.ID)
	return &runtimeapi.PullImageResponse{ImageRef: img.ID}, nil
}

func (s *Service) RemoveImage(_ context.Context, r *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	return reply(&runtimeapi.RemoveImageResponse{}, s.rt.images.remove(r.GetImage().GetImage()))
}

// ImageFsInfo reports the runtime's root, where images and containers are
// kept, with what fake-cri's own files use of it.
func (s *Service) ImageFsInfo(context.Context, *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	bytes, inodes := diskUsage(s.rt.root)
	usage := func() *runtimeapi.FilesystemUsage {
		return &runtimeapi.FilesystemUsage{
			Timestamp:  time.Now().UnixNano(),
			FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: s.rt.root},
			UsedBytes:  &runtimeapi.UInt64Value{Value: bytes},
			InodesUsed: &runtimeapi.UInt64Value{Value: inodes},
		}
	}
	return &runtimeapi.ImageFsInfoResponse{
		ImageFilesystems:     []*runtimeapi.FilesystemUsage{usage()},
		ContainerFilesystems: []*runtimeapi.FilesystemUsage{usage()},
	}, nil
}
