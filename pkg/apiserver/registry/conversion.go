package registry

import (
	"fmt"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
)

// addQueryConversions registers the url.Values conversions of the core/v1
// subresource options. Upstream generates them into
// pkg/apis/core/v1/zz_generated.conversion.go (k8s.io/api asks for them with
// +k8s:conversion-gen:explicit-from=net/url.Values); these mirror that code,
// so a flag is false only when absent, "0" or "false" in any case.
func addQueryConversions(s *runtime.Scheme) error {
	conversions := []struct {
		out any
		fn  conversion.ConversionFunc
	}{
		{(*corev1.PodExecOptions)(nil), func(a, b any, sc conversion.Scope) error {
			return convertURLValuesToPodExecOptions(a.(*url.Values), b.(*corev1.PodExecOptions), sc)
		}},
		{(*corev1.PodAttachOptions)(nil), func(a, b any, sc conversion.Scope) error {
			return convertURLValuesToPodAttachOptions(a.(*url.Values), b.(*corev1.PodAttachOptions), sc)
		}},
		{(*corev1.PodPortForwardOptions)(nil), func(a, b any, sc conversion.Scope) error {
			return convertURLValuesToPodPortForwardOptions(a.(*url.Values), b.(*corev1.PodPortForwardOptions), sc)
		}},
		{(*corev1.PodLogOptions)(nil), func(a, b any, sc conversion.Scope) error {
			return convertURLValuesToPodLogOptions(a.(*url.Values), b.(*corev1.PodLogOptions), sc)
		}},
	}
	for _, c := range conversions {
		if err := s.AddConversionFunc((*url.Values)(nil), c.out, c.fn); err != nil {
			return err
		}
	}
	return nil
}

// queryParam sets *out from the values of key with convert, or to the
// zero value when key is absent, as the generated conversions do.
func queryParam[T any](in url.Values, key string, out *T, convert func(*[]string, *T, conversion.Scope) error, s conversion.Scope) error {
	values, ok := in[key]
	if !ok || len(values) == 0 {
		var zero T
		*out = zero
		return nil
	}
	return convert(&values, out, s)
}

// param is a query key and where its value goes.
type param[T any] struct {
	key string
	out *T
}

// queryParams sets each param in turn, stopping at the first error.
func queryParams[T any](in url.Values, s conversion.Scope, convert func(*[]string, *T, conversion.Scope) error, params ...param[T]) error {
	for _, p := range params {
		if err := queryParam(in, p.key, p.out, convert, s); err != nil {
			return err
		}
	}
	return nil
}

// queryStreams sets the stream flags of exec and attach, and the container.
func queryStreams(in url.Values, s conversion.Scope, stdin, stdout, stderr, tty *bool, container *string) error {
	if err := queryParams(in, s, runtime.Convert_Slice_string_To_bool, param[bool]{"stdin", stdin}, param[bool]{"stdout", stdout},
		param[bool]{"stderr", stderr}, param[bool]{"tty", tty}); err != nil {
		return err
	}
	return queryParam(in, "container", container, runtime.Convert_Slice_string_To_string, s)
}

func convertURLValuesToPodExecOptions(in *url.Values, out *corev1.PodExecOptions, s conversion.Scope) error {
	if err := queryStreams(*in, s, &out.Stdin, &out.Stdout, &out.Stderr, &out.TTY, &out.Container); err != nil {
		return err
	}
	out.Command = nil
	if values := (*in)["command"]; len(values) > 0 {
		out.Command = append([]string(nil), values...)
	}
	return nil
}

func convertURLValuesToPodAttachOptions(in *url.Values, out *corev1.PodAttachOptions, s conversion.Scope) error {
	return queryStreams(*in, s, &out.Stdin, &out.Stdout, &out.Stderr, &out.TTY, &out.Container)
}

func convertURLValuesToPodPortForwardOptions(in *url.Values, out *corev1.PodPortForwardOptions, s conversion.Scope) error {
	out.Ports = nil
	if values := (*in)["ports"]; len(values) > 0 {
		return metav1.Convert_Slice_string_To_Slice_int32(&values, &out.Ports, s)
	}
	return nil
}

func convertURLValuesToPodLogOptions(in *url.Values, out *corev1.PodLogOptions, s conversion.Scope) error {
	q := *in
	if err := queryParam(q, "container", &out.Container, runtime.Convert_Slice_string_To_string, s); err != nil {
		return err
	}
	if err := queryParams(q, s, runtime.Convert_Slice_string_To_bool, param[bool]{"follow", &out.Follow}, param[bool]{"previous", &out.Previous},
		param[bool]{"timestamps", &out.Timestamps}, param[bool]{"insecureSkipTLSVerifyBackend", &out.InsecureSkipTLSVerifyBackend}); err != nil {
		return err
	}
	if err := queryParams(q, s, runtime.Convert_Slice_string_To_Pointer_int64, param[*int64]{"sinceSeconds", &out.SinceSeconds},
		param[*int64]{"tailLines", &out.TailLines}, param[*int64]{"limitBytes", &out.LimitBytes}); err != nil {
		return err
	}
	out.SinceTime = nil
	if values := q["sinceTime"]; len(values) > 0 {
		if err := metav1.Convert_Slice_string_To_Pointer_v1_Time(&values, &out.SinceTime, s); err != nil {
			return err
		}
	}
	out.Stream = nil
	if values := q["stream"]; len(values) > 0 {
		stream := values[0]
		out.Stream = &stream
	}
	return nil
}

// addFieldLabelConversions registers the field selectors each kind supports,
// as pkg/apis/core/v1/conversion.go does upstream; any other label is a
// "field label not supported" BadRequest.
func addFieldLabelConversions(s *runtime.Scheme) error {
	supported := map[string][]string{
		"Pod": {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
			"spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
			"status.podIP", "status.podIPs", "status.nominatedNodeName"},
		"Node":      {"metadata.name", "spec.unschedulable"},
		"Namespace": {"status.phase", "metadata.name"},
		"Event": {"metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
			"involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
			"involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
	}
	for kind, labels := range supported {
		known := map[string]bool{}
		for _, l := range labels {
			known[l] = true
		}
		isPod := kind == "Pod"
		err := s.AddFieldLabelConversionFunc(corev1.SchemeGroupVersion.WithKind(kind), func(label, value string) (string, string, error) {
			switch {
			case known[label]:
				return label, value, nil
			case isPod && label == "spec.host":
				// Old v1 clients sent spec.host for spec.nodeName.
				return "spec.nodeName", value, nil
			}
			return "", "", fmt.Errorf("field label not supported: %s", label)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
