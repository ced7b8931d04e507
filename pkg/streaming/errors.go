package streaming

import (
	"encoding/json"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WriteError answers an HTTP request with the error that GetExec, GetAttach
// or GetPortForward returned, for a front end such as a kubelet that serves
// those calls over HTTP. As upstream's errors.go, gRPC NotFound becomes 404,
// ResourceExhausted (the token bound) 429 with Retry-After set to the token
// TTL, anything else 500; the body is a metav1.Status rather than
// upstream's plain text.
func WriteError(w http.ResponseWriter, err error) {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, st.Message())
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

// writeStatus answers with a failure metav1.Status, the body every
// Kubernetes API server error has.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	writeStatusDetails(w, code, reason, message, nil)
}

func writeStatusDetails(w http.ResponseWriter, code int, reason metav1.StatusReason, message string, details *metav1.StatusDetails) {
	// A Status always marshals.
	body, _ := json.Marshal(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Details:  details,
		Code:     int32(code),
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
