package kubelet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Waiting reasons of a container that cannot start, with upstream's texts
// (pkg/kubelet/images/types.go, kuberuntime_container.go, container/sync_result.go).
var (
	errImagePullBackOff      = errors.New("ImagePullBackOff")
	errImageInspect          = errors.New("ImageInspectError")
	errImagePull             = errors.New("ErrImagePull")
	errImageNeverPull        = errors.New("ErrImageNeverPull")
	errCreateContainerConfig = errors.New("CreateContainerConfigError")
	errCreateContainer       = errors.New("CreateContainerError")
	errRunContainer          = errors.New("RunContainerError")
	errCrashLoopBackOff      = errors.New("CrashLoopBackOff")
)

// imageReasons are those of the image manager.
var imageReasons = []error{errImagePullBackOff, errImageInspect, errImagePull, errImageNeverPull}

// ensureImage makes the container's image present according to its pull
// policy and returns the runtime's reference to it, as upstream
// pkg/kubelet/images/image_manager.go EnsureImageExists. On failure it
// returns the waiting reason as the error and a message for the status.
func (k *Kubelet) ensureImage(ctx context.Context, pod *v1.Pod, c *v1.Container, sandboxConfig *runtimeapi.PodSandboxConfig) (imageRef, msg string, err error) {
	spec := &runtimeapi.ImageSpec{Image: applyDefaultImageTag(c.Image), UserSpecifiedImage: c.Image}
	image, err := k.runtime.ImageStatus(ctx, spec)
	if err != nil {
		return "", fmt.Sprintf("Failed to inspect image %q: %v", c.Image, err), errImageInspect
	}
	present := image != nil && image.Id != ""
	if !shouldPullImage(pullPolicy(c), present) {
		if present {
			k.containerEvent(pod, c.Name, v1.EventTypeNormal, eventPulled, "Container image %q already present on machine", c.Image)
			return image.Id, "", nil
		}
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		k.containerEvent(pod, c.Name, v1.EventTypeWarning, "ErrImageNeverPull", "%s", msg)
		return "", msg, errImageNeverPull
	}
	key := string(pod.UID) + "_" + c.Image
	if k.imageBackOff.IsInBackOffSinceUpdate(key, k.imageBackOff.Clock.Now()) {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		k.containerEvent(pod, c.Name, v1.EventTypeNormal, eventBackOff, "%s", msg)
		return "", msg, errImagePullBackOff
	}
	k.containerEvent(pod, c.Name, v1.EventTypeNormal, eventPulling, "Pulling image %q", c.Image)
	start := time.Now()
	ref, err := k.runtime.PullImage(ctx, spec, sandboxConfig)
	if err != nil {
		k.imageBackOff.Next(key, k.imageBackOff.Clock.Now())
		k.containerEvent(pod, c.Name, v1.EventTypeWarning, eventFailed, "Failed to pull image %q: %v", c.Image, err)
		// Upstream evalCRIPullErr reports the runtime's error as it is.
		return "", err.Error(), errImagePull
	}
	// Upstream asks the size of what it pulled (GetImageSize) for the event.
	var size uint64
	if pulled, err := k.runtime.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: ref}); err == nil {
		size = pulled.GetSize()
	}
	took := time.Since(start).Truncate(time.Millisecond)
	k.containerEvent(pod, c.Name, v1.EventTypeNormal, eventPulled, "Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.", c.Image, took, took, size)
	return ref, "", nil
}

// pullPolicy is the container's policy, or the apiserver's default for it
// when unset: Always for :latest or no tag, else IfNotPresent.
func pullPolicy(c *v1.Container) v1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	if tag := imageTag(c.Image); tag == "" || tag == "latest" {
		if !strings.Contains(c.Image, "@") {
			return v1.PullAlways
		}
	}
	return v1.PullIfNotPresent
}

func shouldPullImage(policy v1.PullPolicy, present bool) bool {
	switch policy {
	case v1.PullNever:
		return false
	case v1.PullAlways:
		return true
	default:
		return !present
	}
}

// applyDefaultImageTag adds ":latest" to a reference without tag or digest.
func applyDefaultImageTag(image string) string {
	if strings.Contains(image, "@") || imageTag(image) != "" {
		return image
	}
	return image + ":latest"
}

// imageTag returns the tag of an image reference: what follows the last
// ':' after the last '/' (a ':' before it belongs to a registry port).
func imageTag(image string) string {
	name, _, _ := strings.Cut(image, "@")
	last := name[strings.LastIndex(name, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return ""
}
