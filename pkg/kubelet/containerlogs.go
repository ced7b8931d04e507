package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/emicklei/go-restful/v3"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/util/flushwriter"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/kubelet/logs"
)

// getContainerLogs answers GET /containerLogs/{ns}/{pod}/{container} as
// server.go getContainerLogs, including its JSON-looking plain-text errors.
func (s *server) getContainerLogs(req *restful.Request, resp *restful.Response) {
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

	pod := s.k.podByName(namespace, name)
	if pod == nil {
		_ = resp.WriteError(http.StatusNotFound, fmt.Errorf("pod %q does not exist", name))
		return
	}
	if containerSpec(pod, container) == nil {
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
	if err := s.k.containerLogs(req.Request.Context(), pod, container, opts, stdout, stderr); err != nil {
		// Once streaming began, the status line is out: this only shows
		// for errors found before the first byte.
		_ = resp.WriteError(http.StatusBadRequest, err)
	}
}

// decodePodLogOptions reads the query into v1.PodLogOptions as the
// generated url.Values conversion does, then defaults the stream to All.
func decodePodLogOptions(q url.Values) (*v1.PodLogOptions, error) {
	opts := &v1.PodLogOptions{}
	if v, ok := q["container"]; ok {
		if err := runtime.Convert_Slice_string_To_string(&v, &opts.Container, nil); err != nil {
			return nil, err
		}
	}
	for name, out := range map[string]*bool{
		"follow":                       &opts.Follow,
		"previous":                     &opts.Previous,
		"timestamps":                   &opts.Timestamps,
		"insecureSkipTLSVerifyBackend": &opts.InsecureSkipTLSVerifyBackend,
	} {
		if v, ok := q[name]; ok {
			if err := runtime.Convert_Slice_string_To_bool(&v, out, nil); err != nil {
				return nil, err
			}
		}
	}
	for name, out := range map[string]**int64{
		"sinceSeconds": &opts.SinceSeconds,
		"tailLines":    &opts.TailLines,
		"limitBytes":   &opts.LimitBytes,
	} {
		if v, ok := q[name]; ok {
			if err := runtime.Convert_Slice_string_To_Pointer_int64(&v, out, nil); err != nil {
				return nil, err
			}
		}
	}
	if v, ok := q["sinceTime"]; ok {
		if err := metav1.Convert_Slice_string_To_Pointer_v1_Time(&v, &opts.SinceTime, nil); err != nil {
			return nil, err
		}
	}
	stream := v1.LogStreamAll
	if v, ok := q["stream"]; ok && len(v) > 0 {
		stream = v[0]
	}
	opts.Stream = &stream
	return opts, nil
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

// containerLogs picks the container attempt the options ask for and copies
// its log (Kubelet.GetKubeletContainerLogs, then the runtime manager's
// GetContainerLogs and ReadLogs).
func (k *Kubelet) containerLogs(ctx context.Context, pod *v1.Pod, container string, opts *v1.PodLogOptions, stdout, stderr io.Writer) error {
	status := k.previousStatus(pod)
	id, err := containerLogID(pod.Name, &status, container, opts.Previous)
	if err != nil {
		return err
	}
	// Commit the 200 before waiting for the first line.
	if stdout != nil {
		if _, err := stdout.Write(nil); err != nil {
			return err
		}
	} else if _, err := stderr.Write(nil); err != nil {
		return err
	}
	cs, err := k.runtime.ContainerStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("unable to retrieve container logs for %s", k.containerID(id))
	}
	running := func(ctx context.Context) (bool, error) {
		cs, err := k.runtime.ContainerStatus(ctx, id)
		if err != nil {
			return false, err
		}
		return cs.State == runtimeapi.ContainerState_CONTAINER_RUNNING, nil
	}
	return logs.ReadLogs(ctx, k.logPath(cs), logs.NewOptions(opts, time.Now()), running, stdout, stderr)
}

// containerLogID picks the runtime ID of the attempt whose log to show, as
// kubelet_pods.go validateContainerLogStatus: the previous one if asked,
// else the running one, else the last that ran.
func containerLogID(podName string, status *v1.PodStatus, container string, previous bool) (string, error) {
	var cs *v1.ContainerStatus
	for _, list := range [][]v1.ContainerStatus{status.ContainerStatuses, status.InitContainerStatuses, status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == container {
				cs = &list[i]
			}
		}
	}
	if cs == nil {
		return "", fmt.Errorf("container %q in pod %q is not available", container, podName)
	}
	last := cs.LastTerminationState.Terminated
	var cid string
	switch {
	case previous:
		if last == nil || last.ContainerID == "" {
			return "", fmt.Errorf("previous terminated container %q in pod %q not found", container, podName)
		}
		cid = last.ContainerID
	case cs.State.Running != nil:
		cid = cs.ContainerID
	case cs.State.Terminated != nil:
		cid = cs.State.Terminated.ContainerID
		if cid == "" {
			if last == nil || last.ContainerID == "" {
				return "", fmt.Errorf("container %q in pod %q is terminated", container, podName)
			}
			cid = last.ContainerID
		}
	case last != nil:
		if last.ContainerID == "" {
			return "", fmt.Errorf("container %q in pod %q is terminated", container, podName)
		}
		cid = last.ContainerID
	case cs.State.Waiting != nil:
		switch reason := cs.State.Waiting.Reason; reason {
		case errImagePull.Error():
			return "", fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", container, podName)
		case errImagePullBackOff.Error():
			return "", fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", container, podName)
		default:
			return "", fmt.Errorf("container %q in pod %q is waiting to start: %v", container, podName, reason)
		}
	default:
		return "", fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", container, podName)
	}
	// "<runtime>://<id>" (kubecontainer.ParseContainerID).
	if _, id, ok := strings.Cut(cid, "://"); ok {
		return id, nil
	}
	return cid, nil
}
