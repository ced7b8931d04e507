package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"

	"github.com/emicklei/go-restful/v3"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/util/flushwriter"
)

// serveContainerLogs answers GET /containerLogs/{ns}/{pod}/{container} as
// upstream's getContainerLogs, including its JSON-looking plain-text errors.
func (s *Server) serveContainerLogs(req *restful.Request, resp *restful.Response) {
	namespace := req.PathParameter("podNamespace")
	name := req.PathParameter("podID")
	container := req.PathParameter("containerName")
	switch {
	case name == "":
		_ = resp.WriteError(http.StatusBadRequest, errors.New(`{"message": "Missing podID."}`))
		return
	case container == "":
		_ = resp.WriteError(http.StatusBadRequest, errors.New(`{"message": "Missing container name."}`))
		return
	case namespace == "":
		_ = resp.WriteError(http.StatusBadRequest, errors.New(`{"message": "Missing podNamespace."}`))
		return
	}

	query := req.Request.URL.Query()
	// "tail" is the old name of tailLines; "all" means no limit.
	if tail := query.Get("tail"); tail != "" {
		query.Set("tailLines", tail)
		if tail == "all" {
			query.Del("tailLines")
		}
	}
	opts, err := decodePodLogOptions(query)
	if err != nil {
		_ = resp.WriteError(http.StatusBadRequest, errors.New(`{"message": "Unable to decode query."}`))
		return
	}
	if !validPodLogOptions(opts) {
		_ = resp.WriteError(http.StatusUnprocessableEntity, errors.New(`{"message": "Invalid request."}`))
		return
	}

	pod, ok := s.host.GetPodByName(namespace, name)
	if !ok {
		_ = resp.WriteError(http.StatusNotFound, fmt.Errorf("pod %q does not exist", name))
		return
	}
	if ContainerSpec(pod, container) == nil {
		_ = resp.WriteError(http.StatusNotFound, fmt.Errorf("container %q not found in pod %q", container, name))
		return
	}
	if _, ok := resp.ResponseWriter.(http.Flusher); !ok {
		_ = resp.WriteError(http.StatusInternalServerError, fmt.Errorf("unable to convert %v into http.Flusher, cannot show logs", reflect.TypeOf(resp)))
		return
	}

	fw := flushwriter.Wrap(resp.ResponseWriter)
	var stdout, stderr io.Writer
	switch *opts.Stream {
	case v1.LogStreamStdout:
		stdout = fw
	case v1.LogStreamStderr:
		stderr = fw
	case v1.LogStreamAll:
		stdout, stderr = fw, fw
	default:
		_ = resp.WriteError(http.StatusBadRequest, fmt.Errorf("invalid stream type %q", *opts.Stream))
		return
	}
	resp.Header().Set("Transfer-Encoding", "chunked")
	if err := s.host.GetKubeletContainerLogs(req.Request.Context(), pod, container, opts, stdout, stderr); err != nil {
		// Once streaming began, the status line is out: this only shows
		// for errors found before the first byte.
		_ = resp.WriteError(http.StatusBadRequest, err)
	}
}

// decodePodLogOptions reads the query into v1.PodLogOptions as the
// generated url.Values conversion does, one converter per field type, then
// defaults the stream to All.
func decodePodLogOptions(q url.Values) (*v1.PodLogOptions, error) {
	opts := &v1.PodLogOptions{}
	if err := errors.Join(
		decodeFields(q, map[string]*string{"container": &opts.Container}, runtime.Convert_Slice_string_To_string),
		decodeFields(q, map[string]*bool{
			"follow":                       &opts.Follow,
			"previous":                     &opts.Previous,
			"timestamps":                   &opts.Timestamps,
			"insecureSkipTLSVerifyBackend": &opts.InsecureSkipTLSVerifyBackend,
		}, runtime.Convert_Slice_string_To_bool),
		decodeFields(q, map[string]**int64{
			"sinceSeconds": &opts.SinceSeconds,
			"tailLines":    &opts.TailLines,
			"limitBytes":   &opts.LimitBytes,
		}, runtime.Convert_Slice_string_To_Pointer_int64),
		decodeFields(q, map[string]**metav1.Time{"sinceTime": &opts.SinceTime}, metav1.Convert_Slice_string_To_Pointer_v1_Time),
	); err != nil {
		return nil, err
	}
	stream := v1.LogStreamAll
	if v, ok := q["stream"]; ok && len(v) > 0 {
		stream = v[0]
	}
	opts.Stream = &stream
	return opts, nil
}

// decodeFields converts each query parameter present into its field.
func decodeFields[T any](q url.Values, fields map[string]*T, convert func(*[]string, *T, conversion.Scope) error) error {
	for name, out := range fields {
		if v, ok := q[name]; ok {
			if err := convert(&v, out, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// validPodLogOptions is ValidatePodLogOptions: non-negative tail, positive
// byte limit and sinceSeconds, at most one of sinceTime and sinceSeconds,
// and no tail on a single stream.
func validPodLogOptions(o *v1.PodLogOptions) bool {
	switch {
	case o.TailLines != nil && *o.TailLines < 0,
		o.LimitBytes != nil && *o.LimitBytes < 1,
		o.SinceSeconds != nil && o.SinceTime != nil,
		o.SinceSeconds != nil && *o.SinceSeconds < 1,
		o.Stream != nil && *o.Stream != v1.LogStreamAll && o.TailLines != nil:
		return false
	}
	return true
}

// ContainerSpec finds a container of the pod by name, among its containers,
// init containers and ephemeral containers (kubecontainer.GetContainerSpec,
// which upstream's server and kubelet both use, as this server and the
// kubelet's GetAttach do).
func ContainerSpec(pod *v1.Pod, name string) *v1.Container {
	for _, list := range [][]v1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return (*v1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		}
	}
	return nil
}
