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

// queryBool sets *out from the first value of key, false when absent.
func queryBool(in url.Values, key string, out *bool, s conversion.Scope) error {
	values, ok := in[key]
	if !ok || len(values) == 0 {
		*out = false
		return nil
	}
	return runtime.Convert_Slice_string_To_bool(&values, out, s)
}

// queryString sets *out from the first value of key, "" when absent.
func queryString(in url.Values, key string, out *string, s conversion.Scope) error {
	values, ok := in[key]
	if !ok || len(values) == 0 {
		*out = ""
		return nil
	}
	return runtime.Convert_Slice_string_To_string(&values, out, s)
}

// queryInt64 sets *out from the first value of key, nil when absent.
func queryInt64(in url.Values, key string, out **int64, s conversion.Scope) error {
	values, ok := in[key]
	if !ok || len(values) == 0 {
		*out = nil
		return nil
	}
	return runtime.Convert_Slice_string_To_Pointer_int64(&values, out, s)
}

func convertURLValuesToPodExecOptions(in *url.Values, out *corev1.PodExecOptions, s conversion.Scope) error {
	q := *in
	for _, f := range []struct {
		key string
		out *bool
	}{{"stdin", &out.Stdin}, {"stdout", &out.Stdout}, {"stderr", &out.Stderr}, {"tty", &out.TTY}} {
		if err := queryBool(q, f.key, f.out, s); err != nil {
			return err
		}
	}
	if err := queryString(q, "container", &out.Container, s); err != nil {
		return err
	}
	out.Command = nil
	if values := q["command"]; len(values) > 0 {
		out.Command = append([]string(nil), values...)
	}
	return nil
}

func convertURLValuesToPodAttachOptions(in *url.Values, out *corev1.PodAttachOptions, s conversion.Scope) error {
	q := *in
	for _, f := range []struct {
		key string
		out *bool
	}{{"stdin", &out.Stdin}, {"stdout", &out.Stdout}, {"stderr", &out.Stderr}, {"tty", &out.TTY}} {
		if err := queryBool(q, f.key, f.out, s); err != nil {
			return err
		}
	}
	return queryString(q, "container", &out.Container, s)
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
	if err := queryString(q, "container", &out.Container, s); err != nil {
		return err
	}
	for _, f := range []struct {
		key string
		out *bool
	}{{"follow", &out.Follow}, {"previous", &out.Previous}, {"timestamps", &out.Timestamps}, {"insecureSkipTLSVerifyBackend", &out.InsecureSkipTLSVerifyBackend}} {
		if err := queryBool(q, f.key, f.out, s); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		key string
		out **int64
	}{{"sinceSeconds", &out.SinceSeconds}, {"tailLines", &out.TailLines}, {"limitBytes", &out.LimitBytes}} {
		if err := queryInt64(q, f.key, f.out, s); err != nil {
			return err
		}
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
