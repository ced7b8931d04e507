package minikubectl

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// defaultContainerAnnotation names the container kubectl picks when -c is
// not given (KEP-2227).
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// podName accepts what kubectl's builder accepts for a pod: NAME, or
// TYPE/NAME with TYPE one of pod, pods, po. mini-kubectl resolves no other
// types (kubectl also takes deploy/NAME, svc/NAME, … and picks a pod).
func podName(arg string) (string, error) {
	kind, name, found := strings.Cut(arg, "/")
	if !found {
		return arg, nil
	}
	switch kind {
	case "pod", "pods", "po":
		if name != "" {
			return name, nil
		}
	}
	return "", fmt.Errorf("mini-kubectl only resolves pods, as NAME or pod/NAME, not %q", arg)
}

// getPod GETs the pod arg names, as each pod command starts.
func (s *session) getPod(ctx context.Context, arg string) (*corev1.Pod, error) {
	name, err := podName(arg)
	if err != nil {
		return nil, err
	}
	return s.client.CoreV1().Pods(s.namespace).Get(ctx, name, metav1.GetOptions{})
}

// podURL is the URL of one of the pod's connect subresources (exec, attach,
// portforward), with opts, when given, encoded by the scheme's parameter
// codec: command=…&command=…&container=…&stdin=true…, false values left out.
func podURL(c rest.Interface, pod *corev1.Pod, subresource string, opts runtime.Object) *url.URL {
	req := c.Post().Namespace(pod.Namespace).Resource("pods").Name(pod.Name).SubResource(subresource)
	if opts != nil {
		req = req.VersionedParams(opts, scheme.ParameterCodec)
	}
	return req.URL()
}

// findContainer looks name up among the pod's containers, init containers
// and ephemeral containers (podcmd.FindContainerByName,
// kubectl/pkg/cmd/util/podcmd/podcmd.go).
func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		}
	}
	return nil
}

// findOrDefaultContainer mirrors podcmd.FindOrDefaultContainerByName: the
// named container, else the one the annotation names, else the first —
// telling the user on warn when there was a choice.
func findOrDefaultContainer(pod *corev1.Pod, name string, quiet bool, warn io.Writer) (*corev1.Container, error) {
	if name != "" {
		if c := findContainer(pod, name); c != nil {
			return c, nil
		}
		return nil, fmt.Errorf("container %s not found in pod %s", name, pod.Name)
	}
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("pod %s/%s does not have any containers", pod.Namespace, pod.Name)
	}
	if name := pod.Annotations[defaultContainerAnnotation]; name != "" {
		if c := findContainer(pod, name); c != nil {
			return c, nil
		}
	}
	c := &pod.Spec.Containers[0]
	if !quiet && (len(pod.Spec.Containers) > 1 || len(pod.Spec.InitContainers) > 0 || len(pod.Spec.EphemeralContainers) > 0) {
		fmt.Fprintf(warn, "Defaulted container %q out of: %s\n", c.Name, allContainerNames(pod))
	}
	return c, nil
}

func allContainerNames(pod *corev1.Pod) string {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name+" (ephem)")
	}
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name+" (init)")
	}
	return strings.Join(names, ", ")
}

// completed reports whether the pod has finished, after which the kubelet
// can neither exec into it nor attach to it.
func completed(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
