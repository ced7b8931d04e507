package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/util/flushwriter"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/execlab/execlab/pkg/apiserver/registry"

	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/pkg/tracing"
)

// pods/log, as LogREST (pkg/registry/core/pod/rest/log.go) serves it: the
// options validated, the pod and container checked, and the kubelet's
// /containerLogs stream copied to the client as text/plain, flushed as it
// comes when following. A kubelet error becomes a Status.

func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, ns, name string) {
	if r.Method != http.MethodGet {
		registry.MethodNotAllowed(w, r, corev1.Resource("pods/log"))
		return
	}
	opts := &corev1.PodLogOptions{}
	if err := registry.ParameterCodec.DecodeParameters(r.URL.Query(), corev1.SchemeGroupVersion, opts); err != nil {
		registry.WriteError(w, r, apierrors.NewBadRequest(err.Error()))
		return
	}
	if errs := validatePodLogOptions(opts); len(errs) > 0 {
		registry.WriteError(w, r, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("PodLogOptions").GroupKind(), name, errs))
		return
	}
	conn, pod, container, err := s.podLocation(ns, name, opts.Container, true)
	if err != nil {
		registry.WriteError(w, r, err)
		return
	}
	// A pod no node runs yet has no logs: an empty answer.
	if conn == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	loc := conn.url
	loc.Path = fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container)
	loc.RawQuery = logParams(opts).Encode()
	span := trace.SpanFromContext(r.Context())
	span.SetAttributes(tracing.AttrHop.String(tracing.HopAPIServer), tracing.AttrSession.String("log"),
		tracing.AttrNamespace.String(pod.Namespace), tracing.AttrPod.String(pod.Name), tracing.AttrContainer.String(container))
	live := &tracing.Live{TraceID: span.SpanContext().TraceID().String(), Kind: "log", Namespace: pod.Namespace, Pod: pod.Name, Container: container, Start: time.Now()}
	s.traces.Begin(live)
	defer live.End()
	body, err := s.openKubeletStream(r.Context(), loc, name)
	if err != nil {
		registry.WriteError(w, r, err)
		return
	}
	defer body.Close()
	streamBody(w, r, live.CountOut(body), opts.Follow)
	span.SetAttributes(tracing.AttrBytesOut.Int64(live.Out.Load()))
}

// logParams is the kubelet's query for opts (LogLocation upstream).
func logParams(opts *corev1.PodLogOptions) url.Values {
	params := url.Values{}
	if opts.Follow {
		params.Add("follow", "true")
	}
	if opts.Previous {
		params.Add("previous", "true")
	}
	if opts.Timestamps {
		params.Add("timestamps", "true")
	}
	if opts.SinceSeconds != nil {
		params.Add("sinceSeconds", strconv.FormatInt(*opts.SinceSeconds, 10))
	}
	if opts.SinceTime != nil {
		params.Add("sinceTime", opts.SinceTime.Format(time.RFC3339))
	}
	if opts.TailLines != nil {
		params.Add("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.LimitBytes != nil {
		params.Add("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	return params
}

// validatePodLogOptions is ValidatePodLogOptions upstream.
func validatePodLogOptions(opts *corev1.PodLogOptions) field.ErrorList {
	var errs field.ErrorList
	if opts.TailLines != nil && *opts.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *opts.TailLines, apivalidation.IsNegativeErrorMsg))
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *opts.LimitBytes, "must be greater than 0"))
	}
	switch {
	case opts.SinceSeconds != nil && opts.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case opts.SinceSeconds != nil && *opts.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	return errs
}

// maxKubeletErrorBytes bounds how much of a kubelet error body is kept.
const maxKubeletErrorBytes = 50000

// openKubeletStream GETs loc from a kubelet, refusing redirects, and turns
// a failure into a Status (LocationStreamer and GenericHttpResponseChecker
// in k8s.io/apiserver/pkg/registry/generic/rest).
func (s *Server) openKubeletStream(ctx context.Context, loc *url.URL, name string) (io.ReadCloser, error) {
	client := &http.Client{
		Transport:     s.kubelet.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirects forbidden") },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("failed to construct request for %s, got %v", loc, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= http.StatusOK && resp.StatusCode <= http.StatusPartialContent {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKubeletErrorBytes))
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError:
		return nil, apierrors.NewInternalError(errors.New(string(body)))
	case http.StatusBadRequest:
		return nil, apierrors.NewBadRequest(string(body))
	}
	return nil, apierrors.NewGenericServerResponse(resp.StatusCode, "", corev1.Resource("pods/log"), name, string(body), 0, false)
}

// streamBody copies a log stream to the client as text/plain, flushing
// every write when following, or over WebSocket if the client asked for
// one (responsewriters.StreamObject).
func streamBody(w http.ResponseWriter, r *http.Request, body io.Reader, follow bool) {
	if wsstream.IsWebSocketRequest(r) {
		wsstream.NewReader(body, true, wsstream.NewDefaultReaderProtocols()).Copy(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	var dst io.Writer = w
	if follow {
		dst = flushwriter.Wrap(w)
	}
	io.Copy(dst, body)
}
