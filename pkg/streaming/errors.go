package streaming

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream"
)

// WriteError answers an HTTP request with the error that GetExec, GetAttach
// or GetPortForward returned, for a front end such as a kubelet that serves
// those calls over HTTP. As upstream's errors.go, gRPC NotFound becomes 404,
// ResourceExhausted (the token bound) 429 with Retry-After set to the token
// TTL, InvalidArgument 400 (upstream: 500), anything else 500; the body is a metav1.Status rather than
// upstream's plain text.
//
// An API error (such as a session refused past a httpserver.SessionLimit)
// is answered as its own Status, with Retry-After when it asks for one.
func WriteError(w http.ResponseWriter, err error) {
	var apiErr apierrors.APIStatus
	if errors.As(err, &apiErr) {
		st := apiErr.Status()
		if d := st.Details; d != nil && d.RetryAfterSeconds > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfterSeconds)))
		}
		writeStatusDetails(w, int(st.Code), st.Reason, st.Message, st.Details)
		return
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, st.Message())
	case codes.InvalidArgument:
		// Upstream answers 500; the request is what is wrong (no command).
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, st.Message())
	case codes.ResourceExhausted:
		// Only a flood fills the cache; by the TTL every token has expired.
		retryAfter := int32(tokenTTL.Seconds())
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter)))
		writeStatusDetails(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, st.Message(),
			&metav1.StatusDetails{RetryAfterSeconds: retryAfter})
	default:
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, st.Message())
	}
}

// WriteStatus answers with a failure metav1.Status, the body every
// Kubernetes API server error has; the reason follows from the code.
func WriteStatus(w http.ResponseWriter, code int, message string) {
	writeStatus(w, code, reasonForCode(code), message)
}

// writeStatus answers with a failure metav1.Status.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	writeStatusDetails(w, code, reason, message, nil)
}

// reasonForCode is the reason apierrors.FromObject would give code.
func reasonForCode(code int) metav1.StatusReason {
	switch code {
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusTooManyRequests:
		return metav1.StatusReasonTooManyRequests
	case http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	}
	return metav1.StatusReasonInternalError
}

// StatusBody is the JSON of a failure metav1.Status with code and message,
// as WriteStatus sends it; the reason follows from the code.
func StatusBody(code int, message string) []byte {
	return statusBody(code, reasonForCode(code), message, nil)
}

func statusBody(code int, reason metav1.StatusReason, message string, details *metav1.StatusDetails) []byte {
	// A Status always marshals.
	body, _ := json.Marshal(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Details:  details,
		Code:     int32(code),
	})
	return append(body, '\n')
}

func writeStatusDetails(w http.ResponseWriter, code int, reason metav1.StatusReason, message string, details *metav1.StatusDetails) {
	body := statusBody(code, reason, message, details)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// handshake is httpstream.Handshake with its refusals (400 without a
// protocol header, 403 with no common version) answered as a Status with
// upstream's message rather than plain text.
func handshake(w http.ResponseWriter, r *http.Request, protocols []string) (string, error) {
	capture := &errorCapture{header: w.Header()}
	name, err := httpstream.Handshake(r, capture, protocols)
	if err != nil {
		WriteStatus(w, capture.code, strings.TrimSpace(capture.body.String()))
	}
	return name, err
}

// errorCapture keeps what http.Error writes.
type errorCapture struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (c *errorCapture) Header() http.Header         { return c.header }
func (c *errorCapture) WriteHeader(code int)        { c.code = code }
func (c *errorCapture) Write(p []byte) (int, error) { return c.body.Write(p) }
